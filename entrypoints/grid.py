"""MLproject entry point `grid`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import run_entry

if __name__ == "__main__":
    sys.exit(run_entry("grid", sys.argv[1:]))
