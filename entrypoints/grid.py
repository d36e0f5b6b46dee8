"""MLproject entry point `grid`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import finish, run_entry

if __name__ == "__main__":
    finish(run_entry("grid", sys.argv[1:]))
