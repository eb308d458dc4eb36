"""The service catalogue: read by kiosks and displays, replaced by supervisors."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.api.schemas import ErrorBody
from edge.auth.principal import Principal
from edge.queue.catalogue import Catalogue
from edge.queue.models import Service

router = APIRouter(tags=["catalogue"])


class ServiceList(BaseModel):
    services: list[Service]


@router.get("/services", response_model=ServiceList, summary="Services visitors can choose")
def list_services(request: Request, _: Principal = Depends(require("catalogue.read"))) -> ServiceList:
    return ServiceList(services=get_node(request).queue.services())


@router.put(
    "/catalogue",
    response_model=ServiceList,
    summary="Add or update services and counters",
    responses={409: {"model": ErrorBody, "description": "a prefix is already used by another service"}},
)
def put_catalogue(
    body: Catalogue, request: Request, principal: Principal = Depends(require("catalogue.manage"))
) -> ServiceList:
    queue = get_node(request).queue
    queue.apply_catalogue(body, principal)
    return ServiceList(services=queue.services())
