"""The report workbench (`/reports`): officers, supervisors and agency users work and read reports in the browser.

Server-rendered pages (markaz.web) with plain HTML forms: every change is a POST that calls one ReportService
operation, then redirects to the report's page (post/redirect/get), so a reload never repeats an action. Sign-in
is the hall's (`/signin`, the same HttpOnly SameSite=Strict cookie); every request checks the token and the role
again, and ReportService checks the procedure and the share once more. A form must come from this origin.

The list and a report's page are live (the hall's WebSocket mechanism): when anyone changes a report, the node
reads it again *as this viewer* (so an agency user still sees only their shares, and a revoked share ends the page)
and pushes the screen if it differs. A report's page wakes only for its own report, the list only for changes its
rows show. A live page is audited as one read when it opens (and again if the viewer's access changes, e.g. a
share revoked turns it into a refusal), not once per push."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from edge.api.routers.hall_pages import STAFF_COOKIE, Screen, _serve, _who
from edge.auth.principal import Principal
from edge.errors import DomainError, Invalid
from edge.node import EdgeNode
from edge.reports import screens
from edge.reports.reference import parse as parse_reference
from edge.reports.service import Filters, LiveView, PartyIn
from edge.reports.vocabulary import LIST_CHANGES, Acknowledgement, OfficerAction, PartyRole, ReportState
from markaz.web.languages import Language
from markaz.web.serving import same_origin

router = APIRouter(include_in_schema=False)
READ, WORK, SHARE = "reports.read", "reports.work", "reports.share"
DONE = {
    "moved": "The report moved on.",
    "assigned": "The report is assigned.",
    "statement": "The statement is recorded.",
    "party": "The party is added.",
    "note": "Added to the report.",
    "shared": "The report is shared until the date given.",
    "unshared": "The share has ended: that agency user can no longer read this report.",
}
PAGE = 50  # rows a list page renders; older ones are a keyset page away ("Older reports")
LIVE_TICK_S = 3600.0  # a live page waits for changes; this only re-checks the sign-in now and then
CONFIRMED = "yes"


def install(app: FastAPI) -> None:
    """The workbench's static files and pages (the shared assets are mounted by the hall's pages)."""
    app.mount("/static/reports", StaticFiles(directory=screens.STATIC), name="reports-static")
    app.include_router(router)


def _node(request: Request) -> EdgeNode:
    node: EdgeNode = request.app.state.node
    return node


def _source(request: Request) -> str:
    return request.client.host if request.client else "-"


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def _signin(node: EdgeNode, language: Language) -> HTMLResponse:
    from edge.hall import screens as hall_screens  # the hall's sign-in page, with /reports as where it leads

    return _html(hall_screens.render("signin.html", language, node.settings.tz, next="/reports", error=None))


def _refused(node: EdgeNode, language: Language, message: str, status: int) -> HTMLResponse:
    return _html(screens.render("refused.html", language, node.settings.tz, message=message), status)


def _officers(node: EdgeNode) -> list[str]:
    return sorted(
        u["username"] for u in node.auth.list_users() if u["active"] and u["role"] in ("officer", "supervisor")
    )


@router.get("/reports")
def workbench(
    request: Request,
    lang: str | None = None,
    state: str = "",
    type: str = "",
    officer: str = "",
    sla: str = "",
    before: str = "",
) -> Response:
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(STAFF_COOKIE), READ)
    if principal is None:
        return _signin(node, language)
    shown = _shown_filters(node, state, type, officer, sla, before)
    live = "/reports/live?" + urlencode({**{k: v for k, v in shown.items() if v}, "lang": language.value})
    try:
        html = _list_html(node, language, principal, shown, _source(request), "workbench.html", live_path=live)
    except DomainError as exc:
        return _refused(node, language, exc.message, exc.status)
    return _html(html)


@router.post("/reports/find")
def find(
    request: Request,
    find: Annotated[str, Form(max_length=64)] = "",
    lang: Annotated[str, Form()] = "ar",
    key: Annotated[str, Form(max_length=64)] = "",
    before: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A reference opens its report; anything else is taken as a party's document number and lists the reports it
    appears in. A form (POST), so a document number never lands in a URL, the browser's history or a log. The
    result's next page is a form too, carrying the number's keyed hash (`key`) and the last reference shown."""
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(STAFF_COOKIE), READ)
    if not same_origin(request):
        return _refused(
            node, language, screens.text("This form did not come from this station's pages.", language), 403
        )
    if principal is None:
        return _signin(node, language)
    text = find.strip()
    if not text and not key:
        return _refused(node, language, screens.text("Type a reference or a document number.", language), 400)
    try:
        ref = str(parse_reference(text)) if text else None
    except DomainError:
        ref = None
    if ref is not None:
        return RedirectResponse(f"/reports/{ref}?" + urlencode({"lang": language.value}), status_code=303)
    try:
        document_key = node.reports.document_key(text) if text else key
        shown = _shown_filters(node, "", "", "", "", before) | {"document_key": document_key}
        html = _list_html(node, language, principal, shown, _source(request), "workbench.html", live_path="",
                          searched=True)  # fmt: skip
    except DomainError as exc:
        return _refused(node, language, exc.message, exc.status)
    return _html(html)


def _shown_filters(node: EdgeNode, state: str, type: str, officer: str, sla: str,
                   before: str = "") -> dict[str, str | None]:  # fmt: skip
    types = screens.type_names(node.reports.catalogue)
    return {"state": state if state in set(ReportState) else None, "type": type if type in types else None,
            "officer": officer.strip()[:64] or None, "sla": sla if sla in ("breached", "within") else None,
            "before": before.strip()[:40] or None}  # fmt: skip


def _list_html(node: EdgeNode, language: Language, principal: Principal, shown: dict[str, str | None], source: str,
               template: str = "workbench_screen.html", live: LiveView | None = None, **extra: Any) -> str:  # fmt: skip
    filters = Filters(ReportState(shown["state"]) if shown["state"] else None, shown["type"], shown["officer"],
                      None if shown["sla"] is None else shown["sla"] == "breached", limit=PAGE,
                      before=shown.get("before"), document_key=shown.get("document_key"))  # fmt: skip
    reports, more = node.reports.list_page(principal, filters, source, live)
    search = shown.get("document_key")  # a search's pages are forms (POST /reports/find), not links
    here = "/reports?" + urlencode({k: v for k, v in shown.items() if v and k != "document_key"})
    kept = {k: v for k, v in shown.items() if v and k not in ("document_key", "before")}
    older_ref = reports[-1]["reference"] if more else None
    older = "/reports?" + urlencode(kept | {"before": older_ref, "lang": language.value}) if older_ref else None
    newest = "/reports?" + urlencode(kept | {"lang": language.value}) if shown.get("before") else None
    extra.setdefault("search_key", search)
    extra.setdefault("older_ref", older_ref)
    extra.setdefault("searched", False)
    return screens.render(template, language, node.settings.tz, reports=reports,
                          types=screens.type_names(node.reports.catalogue), filters=shown, user=principal.subject,
                          here=here, agency=principal.role == "agency_viewer", older=older, newest=newest,
                          **extra)  # fmt: skip


def _page(node: EdgeNode, request: Request, language: Language, principal: Principal, reference: str,
          done: str | None = None, error: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    try:
        report = node.reports.get(reference, principal, _source(request))
    except DomainError as exc:
        return _refused(node, language, exc.message, exc.status)
    # a page that says why an action was refused stays as it is (its first push would wipe the reason)
    live = (
        ""
        if error
        else f"/reports/{report['reference']}/live?"
        + urlencode({"lang": language.value, **({"done": done} if done in DONE else {})})
    )
    return _html(_report_html(node, language, principal, report, "report.html", done=done, error=error,
                              live_path=live), status)  # fmt: skip


def _report_html(node: EdgeNode, language: Language, principal: Principal, report: dict[str, Any],
                 template: str = "report_screen.html", done: str | None = None, **extra: Any) -> str:  # fmt: skip
    staff = principal.role in ("officer", "supervisor", "admin")
    offer = screens.offered(report, principal.role, principal.subject) if staff else {
        "transitions": [], "assign": False, "supervisor": False, "workable": False}  # fmt: skip
    return screens.render(
        template, language, node.settings.tz, report=report, types=screens.type_names(node.reports.catalogue),
        offer=offer, officers=_officers(node) if offer["assign"] else [], user=principal.subject, staff=staff,
        here=f"/reports/{report['reference']}", done=screens.text(DONE[done], language) if done in DONE else None,
        **({"error": None} | extra),
    )  # fmt: skip


@router.get("/reports/{reference}")
def report_page(request: Request, reference: str, lang: str | None = None, done: str | None = None) -> Response:
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(STAFF_COOKIE), READ)
    if principal is None:
        return _signin(node, language)
    return _page(node, request, language, principal, reference[:40], done=done)


# -- live pages --------------------------------------------------------------------------------------------------
def _title(text: str) -> Any:
    return lambda language: screens.text(text, language)


@router.websocket("/reports/live")
async def workbench_live(ws: WebSocket, lang: str | None = None, state: str = "", type: str = "", officer: str = "",
                         sla: str = "", before: str = "") -> None:  # fmt: skip
    """The list, pushed again after every change its rows show (filed, moved, assigned, shared...)."""
    node = _node(ws)
    screen = Screen(node, ws.cookies.get(STAFF_COOKIE, ""), READ, Language.parse(lang))
    shown = _shown_filters(node, state, type, officer, sla, before)
    live = LiveView(ws.client.host if ws.client else "-")  # audited when it opens, not on every push

    def render(s: Screen) -> str:
        assert s.principal is not None
        return _list_html(node, s.language, s.principal, shown, live.source, live=live)

    def wants(kind: str, payload: dict[str, Any]) -> bool:
        return payload.get("what") in LIST_CHANGES

    await _serve(ws, screen, render, _title("Reports"), hub=node.reports_live, wants=wants, tick_s=LIVE_TICK_S,
                 only_changes=True)  # fmt: skip


@router.websocket("/reports/{reference}/live")
async def report_live(ws: WebSocket, reference: str, lang: str | None = None, done: str | None = None) -> None:
    """One report's page, pushed again after every change to that report; a read the viewer may no longer make
    (a share revoked or ended) shows the refusal instead."""
    node = _node(ws)
    screen = Screen(node, ws.cookies.get(STAFF_COOKIE, ""), READ, Language.parse(lang), state={"done": done})
    live = LiveView(ws.client.host if ws.client else "-")  # audited when it opens and when access changes
    try:
        ref = str(parse_reference(reference[:40]))
    except DomainError:
        await ws.close(code=4404, reason="not a reference")
        return

    def render(s: Screen) -> str:
        assert s.principal is not None
        try:
            report = node.reports.get(ref, s.principal, live.source, live)
        except DomainError as exc:
            return screens.render("refused_screen.html", s.language, node.settings.tz, message=exc.message)
        # what the viewer's own last action did stays until the report changes again
        return _report_html(node, s.language, s.principal, report, done=s.state.pop("done", None))

    def wants(kind: str, payload: dict[str, Any]) -> bool:
        return payload.get("reference") == ref

    await _serve(ws, screen, render, _title("Report"), hub=node.reports_live, wants=wants, tick_s=LIVE_TICK_S,
                 only_changes=True)  # fmt: skip


def _act(request: Request, reference: str, lang: str, permission: str, done: str, change: Any) -> Response:
    """Check who and where from, make the one change, and go back to the report's page (or say why not)."""
    node, language = _node(request), Language.parse(lang)
    principal = _who(node, request.cookies.get(STAFF_COOKIE), permission)
    if not same_origin(request):
        return _refused(
            node, language, screens.text("This form did not come from this station's pages.", language), 403
        )
    if principal is None:
        if _who(node, request.cookies.get(STAFF_COOKIE), READ) is None:
            return _signin(node, language)
        return _refused(node, language, screens.text("Your role may not do this.", language), 403)
    try:
        answer = change(node, principal)
    except DomainError as exc:
        return _page(node, request, language, principal, reference[:40], error=exc.message, status=exc.status)
    if isinstance(answer, Response):  # a download, not a change
        return answer
    target = f"/reports/{reference[:40]}?" + urlencode({"lang": language.value, "done": done})
    return RedirectResponse(target, status_code=303)


Text = Annotated[str, Form(max_length=2000)]


@router.post("/reports/{reference}/move")
def move(request: Request, reference: str, action: Annotated[str, Form(max_length=32)], reason: Text,
         outcome: Annotated[str, Form(max_length=32)] = "", lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    return _act(request, reference, lang, WORK, "moved",
                lambda node, who: node.reports.transition(reference, action, reason, who, outcome or None))  # fmt: skip


@router.post("/reports/{reference}/assign")
def assign(request: Request, reference: str, officer: Annotated[str, Form(max_length=64)], reason: Text,
           lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    return _act(request, reference, lang, WORK, "assigned",
                lambda node, who: node.reports.assign(reference, officer, reason, who))  # fmt: skip


@router.post("/reports/{reference}/statement")
def statement(request: Request, reference: str, party_id: Annotated[int, Form()],
              text: Annotated[str, Form(max_length=50_000)], acknowledgement: Annotated[str, Form(max_length=32)],
              corrects: Annotated[str, Form(max_length=20)] = "", lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    def change(node: EdgeNode, who: Principal) -> None:
        try:
            ack = Acknowledgement(acknowledgement)
        except ValueError:
            raise Invalid(f"unknown acknowledgement {acknowledgement!r}") from None
        fixed = int(corrects) if corrects.isdigit() else None
        node.reports.record_statement(reference, party_id, text, ack, who, fixed)

    return _act(request, reference, lang, WORK, "statement", change)


@router.post("/reports/{reference}/party")
def party(request: Request, reference: str, role: Annotated[str, Form(max_length=32)],
          name: Annotated[str, Form(max_length=200)], document_number: Annotated[str, Form(max_length=64)] = "",
          contact: Annotated[str, Form(max_length=200)] = "", lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    def change(node: EdgeNode, who: Principal) -> None:
        try:
            kind = PartyRole(role)
        except ValueError:
            raise Invalid(f"unknown party role {role!r}") from None
        node.reports.add_party(reference, PartyIn(kind, name, None, document_number.strip() or None, None, None,
                                                  contact.strip() or None), who)  # fmt: skip

    return _act(request, reference, lang, WORK, "party", change)


@router.post("/reports/{reference}/note")
def note(request: Request, reference: str, text: Annotated[str, Form(max_length=10_000)],
         action: Annotated[str, Form(max_length=32)] = "", lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    def change(node: EdgeNode, who: Principal) -> None:
        try:
            kind = OfficerAction(action) if action else None
        except ValueError:
            raise Invalid(f"unknown action {action!r}") from None
        node.reports.add_note(reference, text, who, kind)

    return _act(request, reference, lang, WORK, "note", change)


@router.post("/reports/{reference}/share")
def share(request: Request, reference: str, agency_user: Annotated[str, Form(max_length=64)], purpose: Text,
          until: Annotated[str, Form(max_length=10)], lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    def change(node: EdgeNode, who: Principal) -> None:
        try:
            day = datetime.strptime(until, "%Y-%m-%d").date()
        except ValueError:
            raise Invalid("the end date is YYYY-MM-DD") from None
        # the share lasts to the end of that day, station time
        end = datetime.combine(day, time(0), node.settings.tz) + timedelta(days=1)
        node.reports.share(reference, agency_user.strip(), purpose, end.astimezone(UTC), who)

    return _act(request, reference, lang, SHARE, "shared", change)


def _confirmed(confirm: str) -> None:
    """The forms that end access or export personal data carry a tick box; a form without it changes nothing."""
    if confirm != CONFIRMED:
        raise Invalid("tick the box to confirm first; nothing was changed")


@router.post("/reports/{reference}/shares/{share_id}/revoke")
def revoke_share(request: Request, reference: str, share_id: int, confirm: Annotated[str, Form(max_length=8)] = "",
                 lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    """End an agency user's share now (supervisor only; audited as `report.unshare` by the service)."""

    def change(node: EdgeNode, who: Principal) -> None:
        _confirmed(confirm)
        node.reports.revoke_share(reference, share_id, who)

    return _act(request, reference, lang, SHARE, "unshared", change)


@router.post("/reports/{reference}/referral")
def download_referral(request: Request, reference: str, confirm: Annotated[str, Form(max_length=8)] = "",
                      lang: Annotated[str, Form()] = "ar") -> Response:  # fmt: skip
    """The signed referral package as a file, for a supervisor to hand over or check offline
    (`markaz edge reports verify-referral FILE`); the service audits the export as a read of the referral."""

    def change(node: EdgeNode, who: Principal) -> Response:
        _confirmed(confirm)
        document = node.reports.referral_document(reference, who, _source(request))
        name = f"referral-{parse_reference(reference[:40])}.json"
        return Response(json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})  # fmt: skip

    return _act(request, reference, lang, SHARE, "", change)
