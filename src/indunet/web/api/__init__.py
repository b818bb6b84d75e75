"""HTTP APIs: the Handle-compatible API, the native API and metrics."""
