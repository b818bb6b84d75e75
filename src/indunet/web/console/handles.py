"""Identifier records of a prefix: browse and search with paging, edit pre-filled, delete, history (issue 9; being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
