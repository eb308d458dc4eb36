"""The edge's device listener: HTTPS that requires a client certificate from this station's intermediate.

Uvicorn does not hand the peer certificate to the application, so the HTTP protocol is subclassed to put the DER
certificate into the ASGI scope (`scope["extensions"]["tls"]["client_cert"]`), where `edge/api/deps.py` maps it to
the device. The staff listener (plain HTTP or HTTPS) and the device listener run in one process over one app."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from provisioning import pki
from provisioning.enrolment import StationPki

TLS_EXTENSION = "tls"


class PeerCertificateProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that tells the app which certificate the client presented on this connection."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None

        def with_peer(inner: Any) -> Any:
            async def app_with_peer(scope, receive, send):  # type: ignore[no-untyped-def]
                if scope["type"] in ("http", "websocket"):
                    scope = {
                        **scope,
                        "extensions": {**(scope.get("extensions") or {}), TLS_EXTENSION: {"client_cert": der}},
                    }
                await inner(scope, receive, send)

            return app_with_peer

        self.app = with_peer(self.app)
        # a WebSocket upgrade hands the connection to a protocol of its own, which takes the app from the config:
        # it gets the same wrapper, so a live page over this listener knows the certificate too
        ws_protocol = self.ws_protocol_class
        if ws_protocol is None:  # WebSockets switched off: no upgrade to follow
            return

        def ws_with_peer(**kwargs: Any) -> Any:
            protocol: Any = ws_protocol(**kwargs)
            protocol.app = with_peer(protocol.app)
            return protocol

        self.ws_protocol_class = ws_with_peer  # type: ignore[assignment]


def server_identity(station: StationPki, hosts: tuple[str, ...]) -> pki.Issued:
    """The device listener's server certificate, issued by the station intermediate once (the file holds the
    certificate then the intermediate, so a device trusting only the root can build the chain)."""
    path = station.ca.cert.parent / "device-listener"
    issued = pki.Issued(path.with_suffix(".crt"), path.with_suffix(".key"))
    if issued.cert.exists() and issued.key.exists():
        return issued
    names = tuple(dict.fromkeys((*hosts, "localhost", "127.0.0.1")))
    made = pki.issue(station.require(), path, names[0], server=True, hosts=names)
    made.cert.write_text(made.cert.read_text() + station.ca.cert.read_text())
    return made


def device_ssl_context(station: StationPki, server: pki.Issued) -> ssl.SSLContext:
    """Client certificates required, trusted only when issued by this station's intermediate (not by another
    station's under the same root), checked against the CRL as it stood at start; the registry is checked per
    request too, so a revocation made later is refused at once."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(server.cert), str(server.key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(station.ca.cert))
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if not station.crl_path.exists():
        station.write_crl([])
    ctx.load_verify_locations(cafile=str(station.crl_path))
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return ctx


class _DeviceServer(uvicorn.Server):
    """The second server: no signal handling of its own (the main server's shutdown stops it)."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


class _MainServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, device: _DeviceServer) -> None:
        super().__init__(config)
        self.device = device
        self.device_task: asyncio.Task[None] | None = None

    async def startup(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
        await super().startup(sockets)
        self.device_task = asyncio.create_task(self.device.serve())

    async def shutdown(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
        self.device.should_exit = True
        if self.device_task is not None:
            await self.device_task
        await super().shutdown(sockets)


def run(app: Any, main: dict[str, Any], device_port: int, host: str, station: StationPki) -> None:
    """Serve `app` on the main listener (`main` = uvicorn options) and on the mTLS device listener."""
    server = server_identity(station, (host,))
    ctx = device_ssl_context(station, server)
    device_config = uvicorn.Config(
        app,
        host=host,
        port=device_port,
        lifespan="off",
        http=PeerCertificateProtocol,
        log_config=None,
        access_log=False,
        ssl_context_factory=lambda _config, _default: ctx,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    _MainServer(uvicorn.Config(app, **main), _DeviceServer(device_config)).run()


def peer_certificate_serial(scope: dict[str, Any]) -> int | None:
    """The serial of the client certificate of this request's connection, if it came through the device listener."""
    der = ((scope.get("extensions") or {}).get(TLS_EXTENSION) or {}).get("client_cert")
    if not der:
        return None
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number
