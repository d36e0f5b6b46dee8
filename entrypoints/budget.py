"""MLproject entry point `budget`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import run_entry

if __name__ == "__main__":
    sys.exit(run_entry("budget", sys.argv[1:]))
