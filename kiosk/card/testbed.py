"""A private pcscd with one vpcd reader, for tests and the station demo: start it on a chosen port, stop it cleanly."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
DEFAULT_VPCD_PORT = 0x8C7B  # vpcd's own default channel, 35963
_MOUNT_POINT = Path("/run/pcscd")


class TestbedError(RuntimeError):
    """pcscd or vpcd could not be started."""


def free_vpcd_port() -> int:
    """A port P such that P and P+1 are both free: vpcd opens one listening port per slot."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise TestbedError("no free pair of TCP ports for vpcd")


def _listening(port: int) -> bool:
    # Read /proc rather than connect: to vpcd, a connection *is* a card insertion.
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(want) and fields[3] == "0A":  # 0A = LISTEN
                return True
    return False


class PcscdTestbed:
    """pcscd with a single vpcd reader, private to this process tree.

    As root it runs in its own mount namespace with RUNDIR bind-mounted on /run/pcscd, so several instances (parallel
    test workers, a demo next to the tests) never meet; clients pick it with PCSCLITE_CSOCK_NAME, which must be set
    before the first PC/SC call of the client process (libpcsclite caches it).
    """

    def __init__(self, port: int | None = None, rundir: str | Path | None = None) -> None:
        self.port = port if port is not None else free_vpcd_port()
        self._own_rundir = rundir is None
        self.rundir = Path(rundir) if rundir is not None else Path(tempfile.mkdtemp(prefix="markaz-pcscd-"))
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.confdir = self.rundir / "reader.conf.d"
        self.logfile = self.rundir / "pcscd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.rundir / "pcscd.comm"

    @property
    def env(self) -> dict[str, str]:
        """Environment a client process needs to talk to this pcscd."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def _write_config(self) -> None:
        self.confdir.mkdir(exist_ok=True)
        # One vpcd entry per pcscd: two entries in one daemon misroute cards.
        (self.confdir / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME /dev/null:0x{self.port:04X}\n"
            f"LIBPATH {VPCD_DRIVER}\n"
            f"CHANNELID 0x{self.port:04X}\n"
        )

    def _command(self) -> list[str]:
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if os.geteuid() != 0:
            raise TestbedError("a private pcscd needs root (a mount namespace for /run/pcscd)")
        _MOUNT_POINT.mkdir(parents=True, exist_ok=True)
        script = (
            f"mount --bind {shlex.quote(str(self.rundir))} {_MOUNT_POINT} && "
            f"exec {shlex.quote(pcscd)} --foreground --info --config {shlex.quote(str(self.confdir))}"
        )
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]

    def start(self, timeout: float = 10.0) -> PcscdTestbed:
        if not VPCD_DRIVER.exists():
            raise TestbedError(f"vpcd driver missing ({VPCD_DRIVER}); install vsmartcard-vpcd")
        self._write_config()
        self.socket_path.unlink(missing_ok=True)
        with open(self.logfile, "ab") as log:
            # Own session: a Ctrl-C at the terminal reaches us, and we stop pcscd in order.
            self._proc = subprocess.Popen(
                self._command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise TestbedError(f"pcscd exited with {self._proc.returncode}; see {self.logfile}")
            if self.socket_path.exists() and _listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise TestbedError(f"pcscd/vpcd not ready on port {self.port} after {timeout} s; see {self.logfile}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait. PC/SC clients should release their contexts first."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        # vpcd's listening ports must be free again before the new daemon's driver binds them.
        deadline = time.monotonic() + 5
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def cleanup(self) -> None:
        self.stop()
        if self._own_rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)

    def __enter__(self) -> PcscdTestbed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
