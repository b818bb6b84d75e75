"""Indunet test suite (a package, so that ``tests.conftest`` helpers import the same way everywhere)."""
