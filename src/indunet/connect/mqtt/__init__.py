"""mqtt connector."""
