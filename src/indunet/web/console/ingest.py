"""Dead letters and ingest: what was rejected and why, retry (issue 9; being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
