"""The wall display (大屏): full screen, read-only display tokens (issue 9; being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
