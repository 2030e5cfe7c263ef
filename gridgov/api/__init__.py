"""HTTP front door: a thin layer over the services."""
