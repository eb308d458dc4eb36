"""Settings: file, environment and options, and errors that say which key, which file and what was expected."""

from __future__ import annotations

import pytest

from edge.settings import EdgeSettings
from markaz.config import ConfigError, load_settings
from tests.conftest import run_markaz


def test_file_then_environment_then_options(tmp_path, monkeypatch):
    f = tmp_path / "markaz.toml"
    f.write_text(
        '[edge]\nstation_id = "from-file"\nport = 9000\ntimezone = "UTC"\n[edge.queue]\nrecall_min_interval_s = 3\n'
    )
    s = load_settings(EdgeSettings, f, "edge")
    assert (s.station_id, s.port, s.timezone, s.queue.recall_min_interval_s) == ("from-file", 9000, "UTC", 3)
    monkeypatch.setenv("MARKAZ_PORT", "9100")
    monkeypatch.setenv("MARKAZ_QUEUE__RECALL_MIN_INTERVAL_S", "4")
    s = load_settings(EdgeSettings, f, "edge")
    assert s.port == 9100 and s.queue.recall_min_interval_s == 4 and s.station_id == "from-file"
    s = load_settings(EdgeSettings, f, "edge", port=9200)
    assert s.port == 9200


@pytest.mark.parametrize(
    "body, key, words",
    [
        ('[edge]\nport = "eighty"\n', "port", "integer"),
        ('[edge]\ntimezone = "Mars/Olympus"\n', "timezone", "unknown IANA time zone"),
        ("[edge]\nday_rollover_hour = 25\n", "day_rollover_hour", "less than or equal to 23"),
        ('[edge]\nstaton_id = "typo"\n', "staton_id", "Extra inputs are not permitted"),
        ("[edge.auth]\nlock_minutes = -1\n", "auth.lock_minutes", "greater than 0"),
    ],
)
def test_bad_settings_name_the_file_the_key_and_the_expectation(tmp_path, body, key, words):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_settings(EdgeSettings, f, "edge")
    message = str(err.value)
    assert str(f) in message and key in message and words in message


def test_broken_toml_and_missing_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("[edge\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(EdgeSettings, f, "edge")
    with pytest.raises(ConfigError, match="not found"):
        load_settings(EdgeSettings, tmp_path / "absent.toml", "edge")


def test_serve_refuses_bad_configuration_with_a_clear_message(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[edge]\ntimezone = "Nowhere/Land"\n')
    r = run_markaz("edge", "serve", "--data", str(tmp_path / "d"), "--config", str(f))
    assert r.returncode == 2
    assert "timezone" in r.stderr and "Nowhere/Land" in r.stderr and "Traceback" not in r.stderr


def test_bad_catalogue_file_is_refused_with_the_key(tmp_path):
    from edge.queue.catalogue import load_catalogue_file

    f = tmp_path / "catalogue.toml"
    f.write_text(
        '[[services]]\ncode = "general"\nname_ar = "عام"\nname_en = "General"\nprefix = "a1"\ntarget_wait_s = 600\n'
    )
    with pytest.raises(ConfigError, match=r"services\.0\.prefix"):
        load_catalogue_file(f)


def test_a_file_without_its_table_or_with_a_non_table_is_refused(tmp_path):
    f = tmp_path / "flat.toml"
    f.write_text("port = 9000\n")  # keys outside [edge] would be silently ignored otherwise
    with pytest.raises(ConfigError, match=r"flat\.toml: no \[edge\] table"):
        load_settings(EdgeSettings, f, "edge")
    f.write_text("edge = 5\n")
    with pytest.raises(ConfigError, match=r"\[edge\] must be a table"):
        load_settings(EdgeSettings, f, "edge")


def test_a_nested_table_alone_and_the_result_is_a_plain_settings_object(tmp_path):
    import pickle

    f = tmp_path / "auth.toml"
    f.write_text("[edge.auth]\nmax_concurrent_hashes = 2\n")
    s = load_settings(EdgeSettings, f, "edge", port=9300)
    assert (s.auth.max_concurrent_hashes, s.port, s.station_id) == (2, 9300, "station-0")
    assert type(s) is EdgeSettings and pickle.loads(pickle.dumps(s)) == s
    assert load_settings(EdgeSettings).auth.max_concurrent_hashes == 4, "one call's file does not stick to the class"
