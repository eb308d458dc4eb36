"""The HTTP face of the intake desk: POST /referrals with a signed package, answered with the case number."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from edge.reports.referral import ReferralInvalid
from prosecution.desk import IntakeDesk

MAX_BODY = 8 * 1024 * 1024


def create_app(desk: IntakeDesk) -> FastAPI:
    app = FastAPI(title="prosecution intake (test and demo)", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def health() -> dict:
        return {"ok": True, "referrals": desk.count()}

    @app.post("/referrals")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too_large"}, status_code=413)
        try:
            document = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "not_json"}, status_code=400)
        try:
            answer = desk.receive(document)
        except ReferralInvalid as exc:
            return JSONResponse({"error": "invalid_referral", "detail": str(exc)}, status_code=422)
        return JSONResponse(answer)

    return app
