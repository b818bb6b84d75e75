"""opcua connector."""
