"""HTTP ingest: the body codec of ``POST /api/v1/telemetry`` (rows or columns of samples)."""
