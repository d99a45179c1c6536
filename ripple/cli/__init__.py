"""The `ripple` command line: every command, its rendering and progress bars (the only user of
click and rich)."""

from ripple.cli.main import main

__all__ = ["main"]
