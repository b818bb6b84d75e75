"""modbus connector."""
