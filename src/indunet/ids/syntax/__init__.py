"""Identifier syntaxes. Each module exposes ``parse``, ``format(*parts)`` and ``validate``;
``scheme`` turns each into a row of the ``SCHEMES`` table that nodes and resolvers consult."""
