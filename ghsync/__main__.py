"""`python -m ghsync` runs the command line."""

from ghsync.cli import main

main()
