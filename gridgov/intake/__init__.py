"""Intake: every channel's raw payload into one normalized report. Pure: no SQL, no HTTP."""
