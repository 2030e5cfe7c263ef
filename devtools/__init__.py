"""Tools for developers, tests and benchmarks; not part of the installed package."""
