"""The one MQTT client set-up of markaz: broker URLs, paho clients with TLS client certificates, MQTT 5 properties.

Used by the edge's link, central's ingest and central's command tool, so TLS, protocol and session handling are
written once. paho is imported inside the functions: commands that never talk MQTT do not load it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    import paho.mqtt.client as paho
    from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
        raise ValueError(f"MQTT url must be mqtt://host:port or mqtts://host:port, got {url!r}")
    tls = parsed.scheme == "mqtts"
    return BrokerAddress(parsed.hostname, parsed.port or (8883 if tls else 1883), tls)


@dataclass(frozen=True)
class TlsFiles:
    """The broker's CA and this client's certificate and key (its common name is the broker user and client id)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def make_client(
    client_id: str,
    address: BrokerAddress,
    tls: TlsFiles,
    protocol: int = 5,
    manual_ack: bool = False,
) -> paho.Client:
    """A paho client (callback API 2) for MQTT 5 (`protocol=5`) or 3.1.1 (`4`, with a persistent session)."""
    import paho.mqtt.client as paho

    kwargs = {} if protocol == 5 else {"clean_session": False}
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if protocol == 5 else paho.MQTTv311,
        manual_ack=manual_ack,
        **kwargs,  # type: ignore[arg-type]
    )
    if address.tls:
        client.tls_set(
            ca_certs=str(tls.ca) if tls.ca else None,
            certfile=str(tls.cert) if tls.cert else None,
            keyfile=str(tls.key) if tls.key else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return client


def session_properties(expiry_s: int) -> Properties:
    """CONNECT properties of a persistent MQTT 5 session kept `expiry_s` by the broker while we are away."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = expiry_s
    return props


def expiry_properties(expiry_s: int) -> Properties:
    """PUBLISH properties: the broker drops the message if it could not deliver it within `expiry_s`."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = expiry_s
    return props
