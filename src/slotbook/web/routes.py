"""Server-rendered pages: the customers' booking page and the front-desk day view.

Templates and static files are read from the installed package (``importlib.resources``),
so the pages work wherever Slotbook is installed. The pages hold no inline script or
style: data reaches the scripts through ``data-`` attributes, which lets the
Content-Security-Policy forbid inline code.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from slotbook.auth.dependencies import ClockDep
from slotbook.errors import NotFound
from slotbook.links import read_token, read_waitlist_token
from slotbook.public import service as public
from slotbook.storage import SessionDep

router = APIRouter(include_in_schema=False)

_environment = Environment(
    loader=PackageLoader("slotbook.web", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
templates = Jinja2Templates(env=_environment)
_STATIC = resources.files("slotbook.web").joinpath("static")
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found(request: Request, message: str) -> HTMLResponse:
    return _page(request, "not_found.html", {"message": message}, status_code=404)


@router.get("/book/{tenant_slug}/{outlet_id}", response_class=HTMLResponse)
async def booking_page(
    request: Request,
    tenant_slug: Annotated[str, Path(max_length=80)],
    outlet_id: Annotated[str, Path(max_length=64)],
    session: SessionDep,
) -> HTMLResponse:
    try:
        front = await public.storefront(session, tenant_slug, outlet_id)
    except NotFound:
        return _not_found(request, "This booking page does not exist.")
    page = await public.outlet_page(session, front)
    return _page(
        request,
        "book.html",
        {
            "page": page,
            "api_base": f"/api/v1/public/{front.tenant.slug}/outlets/{front.outlet.id}",
        },
    )


@router.get("/my-booking/{token}", response_class=HTMLResponse)
async def my_booking_page(
    request: Request,
    token: Annotated[str, Path(max_length=200)],
    session: SessionDep,
    clock: ClockDep,
) -> HTMLResponse:
    try:
        link = read_token(request.app.state.secret_key, token)
        mail_to_files = not request.app.state.settings.smtp_host
        booking = await public.booking_view(session, link, clock.now(), mail_to_files=mail_to_files)
    except NotFound:
        return _not_found(request, "We could not find this booking. Check the link you were sent.")
    return _page(
        request,
        "my_booking.html",
        {"booking": booking, "api_path": f"/api/v1/public/bookings/{token}"},
    )


@router.get("/my-waitlist/{token}", response_class=HTMLResponse)
async def my_waitlist_page(
    request: Request,
    token: Annotated[str, Path(max_length=200)],
    session: SessionDep,
    clock: ClockDep,
) -> HTMLResponse:
    """A customer's place on a waitlist; once promoted, a link to the booking it became."""
    secret = request.app.state.secret_key
    try:
        link = read_waitlist_token(secret, token)
        ctx = public.public_context(link.tenant_id, clock.now())
        entry = await public.waitlist_view(session, ctx, link, secret=secret)
    except NotFound:
        return _not_found(
            request, "We could not find this waitlist entry. Check the link you were sent."
        )
    return _page(
        request,
        "my_waitlist.html",
        {"entry": entry, "api_path": f"/api/v1/public/waitlist/{token}"},
    )


@router.get("/desk", response_class=HTMLResponse)
async def desk_page(request: Request) -> HTMLResponse:
    return _page(request, "desk.html", {})


@router.get("/static/{name}")
async def static_file(name: Annotated[str, Path(max_length=100)]) -> Response:
    """Only plain file names of the package's static folder; no paths."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return Response("Not found", status_code=404, media_type="text/plain")
    resource = _STATIC.joinpath(name)
    if not resource.is_file():
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(
        resource.read_bytes(),
        media_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
