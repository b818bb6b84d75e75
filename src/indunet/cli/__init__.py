"""The ``indunet`` command: thin commands that call services and print."""

from indunet.cli.main import app, main

__all__ = ["app", "main"]
