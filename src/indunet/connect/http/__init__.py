"""http connector."""
