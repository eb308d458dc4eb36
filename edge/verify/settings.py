"""Settings of face verification (owned by edge/verify)."""

from pydantic import BaseModel, Field


class VerifySettings(BaseModel):
    max_attempts_per_document: int = Field(3, ge=1, description="verification attempts per document per visit")
    workers: int = Field(2, ge=1, description="verifications run at once; more wait up to queue_limit")
    queue_limit: int = Field(4, ge=0, description="verifications waiting beyond the workers before 503")
