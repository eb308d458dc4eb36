"""The technician's page: the device inventory (identity, certificate, last seen, desired vs applied profile), claim
codes as text and QR, approvals, revocation and decommissioning (each confirmed on a page of its own), and setting a
device's desired profile.

Server-rendered forms (no live socket: nothing here changes by itself fast enough to need one). The sign-in is the
hall's staff cookie (HttpOnly, SameSite=Strict) and every request checks the role again (`devices.manage`); a form
from another origin is refused. Each action is one call to the enrolment or profile service, which audits it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from edge.api.routers.hall_pages import STAFF_COOKIE, _html, _signin_page, _who
from edge.auth.principal import Principal
from edge.errors import DomainError
from edge.node import EdgeNode
from edge.technician import screens
from markaz.contracts.devices import DeviceType
from markaz.web.languages import Language
from markaz.web.serving import same_origin
from provisioning.profiles import with_profiles

router = APIRouter(include_in_schema=False)
PAGE = "/technician"
PERMISSION = "devices.manage"


def install(app: FastAPI) -> None:
    app.mount("/static/technician", StaticFiles(directory=screens.STATIC), name="technician-static")
    app.include_router(router)


def _node(request: Request) -> EdgeNode:
    return request.app.state.node


def _technician(request: Request) -> Principal | None:
    return _who(_node(request), request.cookies.get(STAFF_COOKIE), PERMISSION)


def _refused(request: Request, language: Language) -> Response:
    """Signed out (or not a technician): the sign-in page, with 403 for a form so nothing reads as done."""
    page = _signin_page(_node(request), language, PAGE)
    return HTMLResponse(page.body, status_code=403 if request.method == "POST" else 200, headers=dict(page.headers))


def _effective(node: EdgeNode, device_id: str) -> dict[str, Any]:
    try:
        version, _, _ = node.profiles.effective(device_id)
    except DomainError as exc:
        problems = exc.details.get("problems") or [exc.message]
        return {"version": None, "problem": "; ".join(str(p) for p in problems)}  # type: ignore[union-attr]
    return {"version": version, "problem": None}


def _page(node: EdgeNode, language: Language, user: Principal, done: str | None = None,
          message: str | None = None, failed: bool = False, status: int = 200) -> HTMLResponse:  # fmt: skip
    devices = with_profiles(node.enrolment.inventory(), node.profiles.states())
    text = screens.render(
        "technician.html",
        language,
        node.settings.tz,
        user=user.subject,
        devices=devices,
        effective={d["id"]: _effective(node, d["id"]) for d in devices},
        pending=node.enrolment.pending(),
        require_approval=node.settings.provisioning.require_approval,
        device_types=list(DeviceType),
        done=done,
        message=message,
        failed=failed,
    )
    response = _html(text)
    response.status_code = status
    return response


@router.get(PAGE)
def technician_page(request: Request, lang: str | None = None) -> Response:
    language = Language.parse(lang)
    user = _technician(request)
    if user is None:
        return _refused(request, language)
    return _page(_node(request), language, user)


def _act(request: Request, lang: str, action: str, run, done_text: str) -> Response:  # type: ignore[no-untyped-def]
    """One form: check sign-in, role and origin, call the service, and show the inventory with what happened."""
    language = Language.parse(lang)
    user = _technician(request)
    if user is None or not same_origin(request):
        return _refused(request, language)
    node = _node(request)
    try:
        run(node, user)
    except DomainError as exc:
        problems = [str(p) for p in exc.details.get("problems", [])]  # type: ignore[attr-defined]
        message = "; ".join([exc.message, *problems]) if problems and problems[0] not in exc.message else exc.message
        return _page(node, language, user, f"{action}-refused", message, failed=True, status=exc.status)
    return _page(node, language, user, action, screens.title(done_text, language))


@router.post(f"{PAGE}/claim")
def make_claim(
    request: Request,
    device: Annotated[str, Form(max_length=64)],
    type: Annotated[str, Form(max_length=32)],
    lang: Annotated[str, Form()] = "ar",
) -> Response:
    language = Language.parse(lang)
    user = _technician(request)
    if user is None or not same_origin(request):
        return _refused(request, language)
    node = _node(request)
    try:
        claim = node.enrolment.create_claim(device.strip(), type, user)
    except DomainError as exc:
        return _page(node, language, user, "claim-refused", exc.message, failed=True, status=exc.status)
    label = screens.title("QR code of the claim code", language)
    return _html(screens.render(
        "claim.html", language, node.settings.tz, user=user.subject, claim=claim,
        expires_at=claim.expires_at.isoformat(), qr=screens.claim_qr(claim.code, label),
    ))  # fmt: skip


@router.post(f"{PAGE}/approve")
def approve(
    request: Request, device: Annotated[str, Form(max_length=64)], lang: Annotated[str, Form()] = "ar"
) -> Response:
    return _act(request, lang, "approve", lambda n, u: n.enrolment.approve(device, u), "Enrolment approved.")


@router.post(f"{PAGE}/desire")
def desire(
    request: Request,
    device: Annotated[str, Form(max_length=64)],
    version: Annotated[str, Form(max_length=64)],
    lang: Annotated[str, Form()] = "ar",
) -> Response:
    return _act(
        request, lang, "desire", lambda n, u: n.profiles.desire(device, u, version),
        "Profile set: the device applies it and reports back.",
    )  # fmt: skip


CONFIRM = {
    "revoke": (
        "Revoke %(device)s?",
        "Its certificate goes on the revocation list and the device is disabled at once. It can be enrolled again "
        "with a new claim code.",
        "Revoke",
        "Device revoked.",
    ),
    "decommission": (
        "Decommission %(device)s?",
        "Its certificate is revoked, it leaves the inventory, and the device is told to wipe its keys the next time "
        "it calls.",
        "Decommission",
        "Device decommissioned.",
    ),
}


@router.get(f"{PAGE}/confirm")
def confirm(request: Request, action: str, device: str, lang: str | None = None) -> Response:
    language = Language.parse(lang)
    user = _technician(request)
    if user is None:
        return _refused(request, language)
    if action not in CONFIRM:
        return Response(status_code=404)
    question, explanation, button, _ = CONFIRM[action]
    node = _node(request)
    return _html(screens.render(
        "confirm.html", language, node.settings.tz, user=user.subject, action=action, device=device,
        question=screens.title(question, language) % {"device": device},
        explanation=screens.title(explanation, language), button=screens.title(button, language),
    ))  # fmt: skip


def _retire(request: Request, action: str, device: str, confirm: str, lang: str) -> Response:
    if confirm != "yes":  # only the confirmation page's form says yes
        return Response(status_code=400)

    def run(node: EdgeNode, user: Principal) -> None:
        if action == "revoke":
            node.enrolment.revoke(device, user)
        else:
            node.enrolment.decommission(device, user)

    return _act(request, lang, action, run, CONFIRM[action][3])


@router.post(f"{PAGE}/revoke")
def revoke(request: Request, device: Annotated[str, Form(max_length=64)], confirm: Annotated[str, Form()] = "",
           lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    return _retire(request, "revoke", device, confirm, lang)


@router.post(f"{PAGE}/decommission")
def decommission(request: Request, device: Annotated[str, Form(max_length=64)], confirm: Annotated[str, Form()] = "",
                 lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    return _retire(request, "decommission", device, confirm, lang)
