"""Where things are: the checkout's root, which the tests read files from and start servers in."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # this file is tests/support/paths.py
