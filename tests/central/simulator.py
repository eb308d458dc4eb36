"""A simulated station: a day of contract messages (queue, devices, verification) published through Mosquitto with
the station's own certificate, as the edge's outbox would drain them after an outage. Every payload is built from
the contract's models, so a change of contract breaks the simulator, not the test's meaning."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from markaz.contracts import mqtt as contract
from tests.telemetry.broker import Broker, tls_client

SERVICES = ("passports", "reports")
TARGET_S = 900.0


@dataclass
class SimulatedStation:
    station: str
    seq: int = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def day(self, end: datetime, step: timedelta = timedelta(minutes=5)) -> Iterator[tuple[str, BaseModel]]:
        """(topic, message) for the 24 hours before `end`: a queue snapshot every step, the two kiosks every third
        step (kiosk-2 out of paper for two hours, ending four hours before `end`), verification counters every sixth."""
        t, i = end - timedelta(hours=24) + step, 0
        served = {s: 0 for s in SERVICES}
        verdicts = {"match": 0, "no_match": 0, "retry": 0, "spoof": 0}
        day = t.date()
        while t <= end:
            if t.date() != day:  # a new business day: the day's counters start again
                day, served, verdicts = t.date(), dict.fromkeys(served, 0), dict.fromkeys(verdicts, 0)
            hour = t.hour + t.minute / 60
            busy = max(0.0, math.sin(math.pi * (hour - 8) / 10)) if 8 <= hour <= 18 else 0.0
            services = []
            for k, service in enumerate(SERVICES):
                waiting = round((12 - 6 * k) * busy)
                served[service] += round(3 * busy) if waiting else 0
                services.append(contract.ServiceQueue(
                    service=service, waiting=waiting, longest_wait_s=waiting * 110.0, served=served[service],
                    mean_wait_s=waiting * 60.0 if served[service] else None, counters_open=2 - k,
                    target_wait_s=TARGET_S,
                ))  # fmt: skip
            yield self._envelope("telemetry.queue", contract.QueueMessage, t, contract.QueueSnapshot(
                business_day=t.date().isoformat(), reason="periodic", services=services))  # fmt: skip
            if i % 3 == 0:
                for device in ("kiosk-1", "kiosk-2"):
                    # kiosk-2 out of paper from six to four hours before the end: the end state never depends on
                    # the hour the test runs at (a fixed 14:00-16:00 window left it faulted when run then)
                    out = end - timedelta(hours=6) <= t < end - timedelta(hours=4)
                    faults = ["printer_paper_out"] if device == "kiosk-2" and out else []
                    yield self._envelope("telemetry.devices", contract.DeviceMessage, t, contract.DeviceState(
                        device=device, type="kiosk", enabled=True, online=True, last_heartbeat=t,
                        printer_paper="out" if faults else "ok", faults=faults, reason="periodic",
                    ), device=device)  # fmt: skip
            if i % 6 == 0:
                verdicts["match"] += round(8 * busy)
                verdicts["no_match"] += 1 if busy > 0.5 else 0
                verdicts["retry"] += round(2 * busy)
                verdicts["spoof"] += 1 if busy > 0.9 else 0
                yield self._envelope("telemetry.verification", contract.VerificationMessage, t,
                                     contract.VerificationCounters(business_day=t.date().isoformat(), **verdicts,
                                                                   latency_ms_p50=24.0, latency_ms_p95=41.0))  # fmt: skip
            t += step
            i += 1

    def device(self, ts: datetime, device: str, faults: list[str]) -> tuple[str, BaseModel]:
        """One kiosk's state now, with `faults` (e.g. out of paper) or none."""
        return self._envelope("telemetry.devices", contract.DeviceMessage, ts, contract.DeviceState(
            device=device, type="kiosk", enabled=True, online=True, last_heartbeat=ts,
            printer_paper="out" if "printer_paper_out" in faults else "ok", faults=faults, reason="change",
        ), device=device)  # fmt: skip

    def _envelope(self, key: str, model: type[contract.Envelope], ts: datetime, data: BaseModel,
                  **params: str) -> tuple[str, BaseModel]:  # fmt: skip
        channel = contract.BY_KEY[key]
        message = model(schema=channel.schema, station=self.station, seq=self._next(), ts=ts, data=data)
        return channel.topic(self.station, **params), message


def publish_day(broker: Broker, station: str, end: datetime, since: datetime, malformed: int = 0) -> int:
    """Publish the station's birth, then its day, then `malformed` payloads that break the contract; the number of
    valid envelopes sent."""
    sim = SimulatedStation(station)
    client = tls_client(broker.pki, station)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    sent = 0
    try:
        birth = contract.Status(state="online", since=since, versions={"markaz": "sim"})
        status = contract.BY_KEY["status"].topic(station)
        client.publish(status, contract.dump(birth), qos=1, retain=True).wait_for_publish(10)
        for topic, message in sim.day(end):
            client.publish(topic, contract.dump(message), qos=1).wait_for_publish(10)
            sent += 1
        for n in range(malformed):
            bad = b'{"schema": "markaz.telemetry.queue/1", "station": "%s", "seq": "x%d"}' % (station.encode(), n)
            client.publish(contract.BY_KEY["telemetry.queue"].topic(station), bad, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent
