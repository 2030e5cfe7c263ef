"""SQLAlchemy adapter: the only package that knows SQL."""
