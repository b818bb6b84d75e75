"""Identifier syntaxes. Each module exposes ``parse``, ``format`` and ``validate``."""
