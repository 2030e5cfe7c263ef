"""The shared kernel: errors, clock and coordinate values every area uses. Imports no other area."""
