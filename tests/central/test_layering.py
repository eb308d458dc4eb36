"""Central shares only the contract and the MQTT set-up with the edge: it imports no edge module."""

from __future__ import annotations

import subprocess
import sys

import hypothesis
from hypothesis import strategies as st


def test_central_imports_no_edge_internals():
    code = (
        "import sys, tempfile, pathlib, central.cli, central.commands, central.ingest, central.store, central.web, "
        "central.alarms, central.comparison, central.queue_days, central.watch\n"
        "store = central.store.CentralStore(pathlib.Path(tempfile.mkdtemp()) / 'c.sqlite')\n"
        "central.ingest.Ingest(store, 'mqtts://127.0.0.1:1', None, None, None)\n"
        "central.web.create_app(store)\n"
        "print(sorted(m for m in sys.modules if m == 'edge' or m.startswith('edge.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_mqtt_client_setup_for_edge_and_central():
    import central.commands
    import central.ingest
    import edge.telemetry.link
    import markaz.mqtt

    for module in (central.commands, central.ingest, edge.telemetry.link):
        assert module.make_client is markaz.mqtt.make_client
        assert module.parse_url is markaz.mqtt.parse_url


def test_one_definition_of_the_measures_for_the_edge_kpis_and_the_comparison():
    import central.comparison
    import edge.queue.kpis
    import markaz.measures

    assert edge.queue.kpis._p90 is markaz.measures.p90 and edge.queue.kpis._mean is markaz.measures.mean
    assert central.comparison.measures is markaz.measures


@hypothesis.given(
    st.lists(st.floats(min_value=0, max_value=86_400, allow_nan=False), max_size=300),
    st.one_of(st.none(), st.floats(min_value=0, max_value=3_600)),
)
def test_the_comparisons_p90_by_selection_and_within_target_count_are_the_edges_definitions(waits, target):
    import numpy

    import markaz.measures as m

    assert m.p90_selected(numpy.asarray(waits, dtype="<f8")) == m.p90(waits)
    pairs = [(w, target) for w in waits]
    assert m.share(m.within_target_count(waits, target), len(waits)) == m.within_target_share(pairs)
