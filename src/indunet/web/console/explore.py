"""The telemetry explorer: time range, zoom, several points, exports (issue 9; being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
