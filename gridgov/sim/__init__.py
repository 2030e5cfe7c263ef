"""The simulated city: a deterministic Zhengzhou-scale grid hierarchy and event streams."""
