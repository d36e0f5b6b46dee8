"""MLproject entry point `evaluate`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import finish, run_entry

if __name__ == "__main__":
    finish(run_entry("evaluate", sys.argv[1:]))
