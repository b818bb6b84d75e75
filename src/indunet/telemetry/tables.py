"""Telemetry tables in the main database: dead letters, rules, alarms, commands."""
