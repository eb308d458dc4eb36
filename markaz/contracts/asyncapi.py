"""Generate `docs/asyncapi.yaml` (AsyncAPI 3.0) from the MQTT contract: `python -m markaz.contracts.asyncapi [--check]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from markaz import __version__
from markaz.contracts import mqtt as contract

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"

_PARAMS = {
    "station": "Station id (the broker user name of its certificate).",
    "device": "Device id of a kiosk, display or counter terminal.",
    "worker": "Client id of one of central's ingest workers.",
    "name": "Command name: " + ", ".join(sorted(contract.COMMAND_PARAMS)) + ".",
}


def _op_id(key: str) -> str:
    return key.replace(".", "_")


Mode = Literal["validation", "serialization"]


def build() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Mode]] = (
        [(c.model, "serialization") for c in contract.CHANNELS]
        + [(m, "validation") for m in dict.fromkeys(contract.COMMAND_PARAMS.values())]
        + [(m, "validation") for m in contract.COMMANDS.values()]
    )
    _, schemas = models_json_schema(models, ref_template="#/components/schemas/{model}", by_alias=True)
    components_schemas = dict(sorted(schemas.get("$defs", {}).items()))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for c in contract.CHANNELS:
        name = c.model.__name__
        msg_name = _op_id(c.key)
        address = c.address
        params: dict[str, Any] = {
            p: {"description": _PARAMS[p]} for p in ("station", "device", "worker", "name") if "{" + p + "}" in address
        }
        if c.key == "cmd":
            params["name"]["enum"] = sorted(contract.COMMANDS)
            # each command is a message of its own, its payload the command with that command's params
            channel_messages = {
                _op_id(f"cmd.{name}"): {
                    "name": _op_id(f"cmd.{name}"),
                    "title": model.__name__,
                    "summary": f"Command {name} (topic markaz/v1/{{station}}/cmd/{name}).",
                    "contentType": "application/json",
                    "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
                }
                for name, model in sorted(contract.COMMANDS.items())
            }
        else:
            channel_messages = {
                msg_name: {
                    "name": msg_name,
                    "title": name,
                    "summary": c.summary,
                    "contentType": "application/json",
                    "payload": {"$ref": f"#/components/schemas/{name}"},
                }
            }
        messages.update(channel_messages)
        channel: dict[str, Any] = {
            "address": address,
            "description": c.summary
            + (f" Schema `{c.schema}`." if c.schema else "")
            + (" Retained." if c.retained else "")
            + (
                " May be dropped (oldest first, counted) when the station's outbox is over its bound."
                if c.droppable
                else ""
            ),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in channel_messages},
        }
        if params:
            channel["parameters"] = params
        channels[_op_id(c.key)] = channel
        # MQTT binding 0.2.0 puts QoS and retain on the operation (its channel binding has no fields).
        bindings: dict[str, Any] = {"qos": 1, "retain": c.retained}
        if c.key == "cmd":
            bindings["messageExpiryInterval"] = contract.COMMAND_EXPIRY_S
        bindings["bindingVersion"] = "0.2.0"
        # The document is written from central's point of view: it receives what stations send, sends commands.
        op_names = list(channel_messages) if c.key == "cmd" else [_op_id(c.key)]
        for op_name in op_names:
            operations[op_name] = {
                "action": "receive" if c.direction == "station" else "send",
                "channel": {"$ref": f"#/channels/{_op_id(c.key)}"},
                "summary": (
                    "station publishes; central receives"
                    if c.direction == "station"
                    else "central publishes; the station receives"
                ),
                "messages": [
                    {"$ref": f"#/channels/{_op_id(c.key)}/messages/{m}"}
                    for m in (channel_messages if c.key != "cmd" else [op_name])
                ],
                "bindings": {"mqtt": dict(bindings)},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "markaz station telemetry and commands",
            "version": __version__,
            "description": (
                "MQTT topics between each station's edge node and central. Generated from "
                "markaz/contracts/mqtt.py by `python -m markaz.contracts.asyncapi`; do not edit. "
                "Every payload except `status`, central's `_central/status/{worker}` and commands is the envelope {schema, station, seq, ts, data}; `seq` is "
                "monotonic per station and survives restarts, so central detects gaps and duplicates by seq. "
                "Commands {id, ts, params} are executed at most once per id and answered on cmd/{name}/ack. "
                "Payloads carry counts, durations, states and machine identifiers only: no personal data."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": "broker.example:8883",
                "protocol": "secure-mqtt",
                "protocolVersion": "5",
                "description": "Mosquitto (or an EMQX/VerneMQ cluster); TLS with client certificates, the "
                "certificate's common name is the user name (station id, or central.markaz).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": components_schemas | {m.__name__: s for m, s in _top_level(models).items()},
        },
    }


def _top_level(models: list[tuple[type[BaseModel], Mode]]) -> dict[type, dict[str, Any]]:
    out = {}
    for model, mode in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True, mode=mode)
        schema.pop("$defs", None)
        out[model] = schema
    return dict(sorted(out.items(), key=lambda kv: kv[0].__name__))


def render() -> str:
    return yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="fail if the file differs from the contract")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m markaz.contracts.asyncapi", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
