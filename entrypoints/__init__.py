"""Thin MLproject entry points: `python -m entrypoints.<name> --flag value ...`."""
