"""Open311 GeoReport v2: the spec's door onto the same services as every other front door."""
