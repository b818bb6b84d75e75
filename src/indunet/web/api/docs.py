"""The interactive API documentation (Swagger UI) from files shipped in the package.

FastAPI's default ``/docs`` page loads Swagger UI from a CDN, so on an air-gapped plant network
it is a blank page. Here the page is FastAPI's own HTML pointed at Swagger UI's files vendored
under the console's static directory (``static/vendor/swagger-ui``, with their Apache-2.0
licence and notice). ReDoc, which FastAPI would also fetch from a CDN, is not served.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse

from indunet.web.console.pages import STATIC_URL

router = APIRouter(include_in_schema=False)
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS = f"{STATIC_URL}/vendor/swagger-ui"


@router.get(DOCS_URL)
def swagger_ui() -> HTMLResponse:
    """Swagger UI for ``/openapi.json``, every file served by this process."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Indunet API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_ui_parameters={"docExpansion": "none", "defaultModelsExpandDepth": -1},
    )


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (inline script, nothing fetched)."""
    return get_swagger_ui_oauth2_redirect_html()
