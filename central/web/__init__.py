"""Central's dashboard in the browser: staff sign-in, the fleet overview and each station's page, kept live over
WebSockets by the shared web layer (markaz.web), and the JSON API. `create_app` wires it over one store."""

from central.web.app import create_app

__all__ = ["create_app"]
