"""MLproject entry point `evaluate`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import run_entry

if __name__ == "__main__":
    sys.exit(run_entry("evaluate", sys.argv[1:]))
