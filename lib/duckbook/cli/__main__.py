"""``python -m duckbook.cli``."""

from duckbook.cli import app

app()
