"""``/docs`` (Swagger UI) and ``/redoc`` served entirely by the app, with no internet.

FastAPI's own pages load their scripts, styles, favicon and (ReDoc) fonts from public
CDNs, so on a machine without internet access, or behind a strict proxy, they render
blank. The scripts and styles come here from the ``fastapi-offline`` package (files
only; its ``FastAPIOffline`` factory would replace our own ``FastAPI(...)`` call). The
app is built with ``docs_url=None, redoc_url=None`` and ``install_docs`` adds these.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
_ASSETS = Path(str(resources.files("fastapi_offline").joinpath("static")))
# The pages may load nothing from another host, and the browser holds them to it. Only
# ReDoc's sidebar logo (from cdn.redoc.ly) is affected: refused, it hides itself.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # each page's inline start-up script
        "style-src 'self' 'unsafe-inline'",  # both UIs style elements inline
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # ReDoc's search index
    )
)


def install_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect page, /redoc and the files they load."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"
    # Swagger UI would otherwise ask validator.swagger.io about the schema.
    swagger_parameters = {**(app.swagger_ui_parameters or {}), "validatorUrl": None}

    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # The Authorize dialog's password flow posts to the token URL directly; the
            # redirect page serves the flows that go through a browser redirect.
            oauth2_redirect_url=f"{root}{redirect_url}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        )
        return _confined(page)

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _confined(page)


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
