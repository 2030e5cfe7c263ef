"""Use cases: the only layer that combines areas (grids, store, workflow)."""
