"""Command-line entry points; the only layer that prints and picks exit codes."""
