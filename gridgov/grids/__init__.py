"""The spatial hierarchy: grids, their versioned layers, and locating points in them. Pure domain code."""
