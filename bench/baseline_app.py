"""The baseline of the HTTP benchmarks: a bare Starlette app that serves stored JSON bytes.

    python bench/baseline_app.py BODIES_JSON PORT

``BODIES_JSON`` maps each handle to the exact response body the node returns for it. The one
route, ``GET /api/handles/{handle:path}``, looks the handle up in a dict and returns the bytes.
It runs under the same uvicorn settings as ``indunet up`` / ``indunet node`` (one process,
uvloop and httptools when installed, warning log level, no access log), so that the ratio
measures what Indunet's resolution path adds on top of the web stack itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(bodies: dict[str, bytes]) -> Starlette:
    """The app: one route returning ``bodies[handle]`` (404 when absent)."""

    async def get(request: Request) -> Response:
        body = bodies.get(request.path_params["handle"])
        if body is None:
            return Response(b'{"responseCode":100}', status_code=404, media_type="application/json")
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/api/handles/{handle:path}", get, methods=["GET"])])


def main() -> None:
    """Load the bodies and serve them on 127.0.0.1."""
    raw = json.loads(Path(sys.argv[1]).read_text())
    app = build({k: v.encode() for k, v in raw.items()})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
