"""``python -m portti.cli``."""

from portti.cli import main

main()
