"""Indunet: open-source software for the industrial internet (工业互联网)."""

__version__ = "0.1.0"
