"""The service catalogue: read by kiosks and displays, replaced by supervisors."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.auth.principal import Principal
from edge.queue.catalogue import Catalogue, apply_catalogue

router = APIRouter(tags=["catalogue"])


class Service(BaseModel):
    code: str
    name_ar: str
    name_en: str
    prefix: str
    target_wait_s: int
    priority: int
    active: bool


class ServiceList(BaseModel):
    services: list[Service]


@router.get("/services", response_model=ServiceList, summary="Services visitors can choose")
async def list_services(request: Request, _: Principal = Depends(require("catalogue.read"))) -> ServiceList:
    return ServiceList(services=[Service(**s) for s in get_node(request).queue.services()])


@router.put("/catalogue", response_model=ServiceList, summary="Add or update services and counters")
async def put_catalogue(
    body: Catalogue, request: Request, principal: Principal = Depends(require("catalogue.manage"))
) -> ServiceList:
    node = get_node(request)
    apply_catalogue(node.store, node.audit, body, principal)
    return ServiceList(services=[Service(**s) for s in node.queue.services()])
