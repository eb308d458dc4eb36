"""The MQTT contract: the AsyncAPI document is fresh, topics parse, and no payload field can carry free text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from markaz.contracts import asyncapi
from markaz.contracts import mqtt as contract


def test_asyncapi_document_is_generated_from_the_models():
    assert asyncapi.main(["--check"]) == 0, "docs/asyncapi.yaml is stale: run python -m markaz.contracts.asyncapi"


def test_every_channel_is_in_the_asyncapi_document():
    doc = asyncapi.build()
    addresses = {c["address"] for c in doc["channels"].values()}
    for channel in contract.CHANNELS:
        prefix = "markaz/v1/{station}/" if channel.scope == "station" else "markaz/v1/_central/"
        assert prefix + channel.template == channel.address and channel.address in addresses


@pytest.mark.parametrize(
    "topic, key, params",
    [
        ("markaz/v1/st-1/status", "status", {}),
        ("markaz/v1/st-1/telemetry/queue", "telemetry.queue", {}),
        ("markaz/v1/st-1/telemetry/devices/kiosk-1", "telemetry.devices", {"device": "kiosk-1"}),
        ("markaz/v1/st-1/events/device_fault", "events.device_fault", {}),
        ("markaz/v1/st-1/cmd/kiosk.enable", "cmd", {"name": "kiosk.enable"}),
        ("markaz/v1/st-1/cmd/kiosk.enable/ack", "cmd.ack", {"name": "kiosk.enable"}),
    ],
)
def test_topics_parse(topic, key, params):
    info = contract.parse_topic(topic)
    assert (info.station, info.key, info.params) == ("st-1", key, params)
    assert contract.BY_KEY[key].topic("st-1", **params) == topic


@pytest.mark.parametrize("topic", ["markaz/v2/st-1/status", "markaz/v1/st-1/telemetry/other", "markaz/v1/st-1"])
def test_foreign_topics_are_not_part_of_the_tree(topic):
    assert contract.parse_topic(topic) is None


def test_envelope_round_trip_and_station_must_match_topic():
    msg = contract.QueueMessage(
        schema="markaz.telemetry.queue/1",
        station="st-1",
        seq=7,
        ts=datetime.now(UTC),
        data=contract.QueueSnapshot(business_day="2026-01-01", reason="periodic", services=[]),
    )
    info, parsed = contract.validate("markaz/v1/st-1/telemetry/queue", contract.dump(msg))
    assert parsed == msg and info.key == "telemetry.queue"
    with pytest.raises(contract.ContractError, match="station"):
        contract.validate("markaz/v1/st-2/telemetry/queue", contract.dump(msg))
    with pytest.raises(contract.ContractError):
        contract.validate("markaz/v1/st-1/telemetry/node", contract.dump(msg))  # wrong schema for the topic


def _string_leaves(schema: dict, defs: dict, path: str, out: list):
    """Every place in a JSON Schema where a string could appear, with its constraints."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _string_leaves(defs[name], defs, f"{path}", out)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _string_leaves(sub, defs, path, out)
    kind = schema.get("type")
    if kind == "string":
        out.append((path, schema))
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            _string_leaves(sub, defs, f"{path}.{name}", out)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            _string_leaves(extra, defs, f"{path}.<value>", out)
            names = schema.get("propertyNames", {})
            out.append((f"{path}.<key>", {"type": "string", **names}))
        elif extra not in (False, None):
            out.append((f"{path}.<any>", {}))
    elif kind == "array":
        _string_leaves(schema.get("items", {}), defs, f"{path}[]", out)
    elif kind is None and not any(k in schema for k in ("anyOf", "oneOf", "allOf", "const", "enum")):
        out.append((f"{path}", {"unconstrained": True}))


def _published_models():
    models = [c.model for c in contract.CHANNELS if c.direction == "station"]
    return models + list(dict.fromkeys(contract.COMMAND_PARAMS.values()))


@pytest.mark.parametrize("model", _published_models(), ids=lambda m: m.__name__)
def test_no_field_can_carry_free_text(model):
    """Names, ID numbers, photos or visitors' words need a free string: the contract has none to give."""
    schema = model.model_json_schema(by_alias=True)
    leaves: list = []
    _string_leaves(schema, schema.get("$defs", {}), model.__name__, leaves)
    loose = [
        path for path, s in leaves if not ({"pattern", "enum", "const"} & s.keys() or s.get("format") == "date-time")
    ]
    assert not loose, f"string fields without a pattern, enum or date-time format: {loose}"
    assert schema.get("additionalProperties") is False


def test_contract_models_refuse_unknown_fields():
    with pytest.raises(ValueError):
        contract.DeviceFault(device="k1", fault="camera_down", state="raised", visitor_name="x")


def test_qos_and_retain_are_operation_bindings_as_mqtt_binding_0_2_0_has_them():
    doc = asyncapi.build()
    assert all("bindings" not in channel for channel in doc["channels"].values()), (
        "MQTT 0.2.0 channel bindings are empty"
    )
    allowed = {"qos", "retain", "messageExpiryInterval", "bindingVersion"}
    for name, op in doc["operations"].items():
        mqtt = op["bindings"]["mqtt"]
        assert mqtt.keys() <= allowed and mqtt["bindingVersion"] == "0.2.0", name
        assert mqtt["qos"] == 1
        channel = op["channel"]["$ref"].rsplit("/", 1)[-1]
        assert mqtt["retain"] is (channel in ("status", "central_status"))
        for ref in op["messages"]:  # an operation's messages are its channel's
            assert ref["$ref"].startswith(f"#/channels/{channel}/messages/")
    sends = [op for op in doc["operations"].values() if op["channel"]["$ref"].endswith("/cmd")]
    assert sends and all(op["bindings"]["mqtt"]["messageExpiryInterval"] == contract.COMMAND_EXPIRY_S for op in sends)


def test_each_command_has_its_own_params_schema():
    doc = asyncapi.build()
    schemas = doc["components"]["schemas"]
    cmd = doc["channels"]["cmd"]
    assert cmd["parameters"]["name"]["enum"] == sorted(contract.COMMAND_PARAMS)
    for name, params in contract.COMMAND_PARAMS.items():
        message = doc["components"]["messages"]["cmd_" + name.replace(".", "_")]
        payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[-1]]
        assert payload["properties"]["params"]["$ref"] == f"#/components/schemas/{params.__name__}"
        assert ("params" in payload.get("required", [])) == any(f.is_required() for f in params.model_fields.values())
        assert f"cmd_{name.replace('.', '_')}" in doc["operations"]
    with pytest.raises(ValueError):
        contract.COMMANDS["kiosk.disable"].model_validate({"id": "c-1", "ts": "2026-01-01T00:00:00Z", "params": {}})


def test_edge_serve_help_shows_the_settings_table():
    from typer.testing import CliRunner

    from markaz.cli import app

    result = CliRunner().invoke(app, ["edge", "serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "[edge]" in result.output
