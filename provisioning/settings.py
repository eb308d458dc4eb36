"""Settings of device enrolment on the edge node (`[edge.provisioning]`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProvisioningSettings(BaseModel):
    claim_minutes: float = Field(15.0, gt=0, le=24 * 60, description="how long a one-time claim code is valid")
    require_approval: bool = Field(
        False, description="a technician approves each enrolment (`markaz provision approve`) before it is signed"
    )
    device_cert_days: int = Field(90, ge=1, le=825, description="validity of a device certificate")
    renew_margin_days: float = Field(
        30.0, ge=0, description="devices renew their certificate when fewer days than this are left"
    )
    device_tokens: bool = Field(
        True, description="accept bearer device tokens (the fallback before mTLS); switch off once devices are enrolled"
    )
    mtls_port: int | None = Field(
        None, ge=0, le=65535, description="port of the device listener requiring certificates"
    )
