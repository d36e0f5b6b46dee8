"""MLproject entry point `source`: parse the flags and hand over to the package."""
import sys

from zero2hero.cli import finish, run_entry

if __name__ == "__main__":
    finish(run_entry("source", sys.argv[1:]))
