"""Alarm rules: list, create, edit, enable, test against recent data (issue 9; being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
