"""Device tables (filled by the devices migration)."""
