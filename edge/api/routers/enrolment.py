"""Enrolment: a device trades a one-time claim code and a CSR for its certificate and the station's chain."""

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from edge.api.deps import certificate_device, get_node, require
from edge.api.schemas import ErrorBody
from edge.auth.principal import Principal
from markaz.contracts.mqtt import SelftestCheck
from provisioning.enrolment import EnrolStatus
from provisioning.profiles import with_profiles

router = APIRouter(prefix="/enrolment", tags=["provisioning"])


class EnrolRequest(BaseModel):
    claim: str = Field(min_length=4, max_length=64, description="the one-time code the technician was given")
    csr: str = Field(min_length=64, max_length=8192, description="PEM certificate request; the key stays on the device")
    model: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9 ._/-]*$")
    serial: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9._/-]*$")


class EnrolResult(BaseModel):
    status: EnrolStatus
    device_id: str
    device_type: str
    certificate: str | None = Field(None, description="PEM device certificate (CN device id, OU type)")
    chain: str | None = Field(None, description="PEM station intermediate, then the root")
    serial: str | None = None
    not_after: str | None = None


@router.post(
    "",
    response_model=EnrolResult,
    responses={
        202: {"model": EnrolResult, "description": "waiting for a technician's approval: ask again"},
        503: {"model": ErrorBody, "description": "a good claim, but the station has no CA to sign with yet"},
    },
    summary="Enrol a device with a claim code (no other credential)",
)
def enrol(body: EnrolRequest, request: Request, response: Response) -> EnrolResult:
    done = get_node(request).enrolment.enrol(body.claim, body.csr, body.model, body.serial)
    if done.status is EnrolStatus.pending:
        response.status_code = 202
    return _result(done)


class RenewRequest(BaseModel):
    csr: str = Field(min_length=64, max_length=8192, description="PEM certificate request for the new key")


@router.post("/renew", response_model=EnrolResult, summary="Renew the calling device's certificate (mTLS only)")
def renew(body: RenewRequest, request: Request, device: Principal = Depends(certificate_device)) -> EnrolResult:
    return _result(get_node(request).enrolment.renew(device.subject, body.csr))


class DeviceState(BaseModel):
    device_id: str
    device_type: str
    state: str = Field("active", description="active; a decommissioned device gets 410 with action 'wipe' instead")
    renew: bool = Field(description="the certificate is inside the station's renewal margin: renew now")


@router.get(
    "/self",
    response_model=DeviceState,
    responses={410: {"description": "decommissioned: the device must wipe its keys"}},
    summary="The calling device's standing (mTLS): polled by devices, tells a retired one to wipe its keys",
)
def standing(request: Request, device: Principal = Depends(certificate_device)) -> DeviceState:
    renew = get_node(request).enrolment.renewal_due(device.subject)
    return DeviceState(device_id=device.subject, device_type=device.role, renew=renew)


class SelftestReport(BaseModel):
    ok: bool
    failed: list[SelftestCheck] = Field(default_factory=list, description="names of the checks that failed")


@router.post(
    "/self/selftest",
    status_code=202,
    response_model=SelftestReport,
    summary="The calling device's self-test outcome (mTLS): passed on to central as events/selftest",
)
def selftest(body: SelftestReport, request: Request, device: Principal = Depends(certificate_device)) -> SelftestReport:
    get_node(request).telemetry.record_selftest(device.subject, device.role, body.ok, list(body.failed))
    return body


class InventoryItem(BaseModel):
    id: str
    type: str
    model: str | None
    serial_number: str | None
    enabled: bool
    last_seen_at: str | None
    profile_version: str | None = Field(description="the profile version the device reports in force")
    desired_version: str | None = Field(description="the profile version a technician or central set")
    reported_outcome: str | None = Field(description="applied, rolled_back or refused: the last report")
    reported_for: str | None = Field(description="the desired version that report answered")
    reported_reasons: list[str]
    cert_serial: str | None
    cert_not_after: str | None


class Inventory(BaseModel):
    devices: list[InventoryItem]


@router.get("/inventory", response_model=Inventory, summary="Device inventory: identity, certificate, last seen")
def inventory(request: Request, _: Principal = Depends(require("devices.manage"))) -> Inventory:
    node = get_node(request)
    rows = with_profiles(node.enrolment.inventory(), node.profiles.states())
    return Inventory(devices=[InventoryItem(**d) for d in rows])


def _result(done) -> EnrolResult:
    return EnrolResult(
        status=done.status,
        device_id=done.device_id,
        device_type=done.device_type,
        certificate=done.certificate_pem,
        chain=done.chain_pem,
        serial=done.serial,
        not_after=done.not_after,
    )
