"""The Handle System's native protocol (RFC 3651/3652): codec, answers and UDP/TCP endpoints."""
