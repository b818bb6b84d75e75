"""The web console (控制台): server-rendered pages, zh-CN by default, English one click away."""

from __future__ import annotations

from fastapi import FastAPI

from indunet.web.state import AppState


def mount(app: FastAPI, state: AppState) -> None:
    """Add the console's pages and static files to ``app``."""
