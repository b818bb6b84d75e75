"""The composition root: the FastAPI app, thin routers per subsystem, and the web console."""

from indunet.web.app import build_state, create_app, open_database
from indunet.web.state import AppState

__all__ = ["AppState", "build_state", "create_app", "open_database"]
