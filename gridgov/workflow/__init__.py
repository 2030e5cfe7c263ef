"""The case lifecycle: states, transitions, deadlines in working time, routing, escalation. Pure."""
