"""Face verification endpoint (placeholder until the verification pipeline lands)."""

from fastapi import APIRouter

router = APIRouter(tags=["verifications"])
