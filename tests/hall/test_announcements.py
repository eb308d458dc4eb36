"""Announcements from the queue's own calls: in order, a recall again, the rate limit holding back, no repeats."""

from __future__ import annotations

import pytest

from edge.auth.principal import Principal
from edge.errors import RateLimited
from tests.conftest import FakeClock, wait_until

OFFICER = Principal("staff", "officer", "officer")
KIOSK = Principal("device", "kiosk-1", "kiosk")


@pytest.fixture
def hall(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.start()
    yield node, clock
    node.stop()


def test_calls_are_numbered_in_the_order_they_were_made_with_the_counter_that_called(hall):
    node, clock = hall
    tickets = [node.queue.issue("general", KIOSK) for _ in range(3)]
    for counter in ("2", "1", "2"):
        if counter == "2" and node.queue.counter("2").current_ticket_id:
            node.queue.start(node.queue.counter("2").current_ticket_id, OFFICER)
        node.queue.call_next(counter, OFFICER)
        clock.advance(seconds=1)
    made = node.hall.announcer.after(0)
    assert [(a.seq, a.number, a.counter, a.kind) for a in made] == [
        (1, tickets[0].number, "2", "call"), (2, tickets[1].number, "1", "call"), (3, tickets[2].number, "2", "call"),
    ]  # fmt: skip
    assert [s.lang for s in made[0].speech] == ["ar", "en"]
    assert made[0].speech[1].text == "Ticket A, zero zero one, please go to counter 2."


def test_a_recall_is_announced_again_and_the_rate_limit_holds_it_back(hall):
    node, clock = hall
    t = node.queue.issue("general", KIOSK)
    node.queue.call_next("1", OFFICER)
    clock.advance(seconds=node.settings.queue.recall_min_interval_s - 1)
    with pytest.raises(RateLimited):
        node.queue.recall(t.id, OFFICER)
    assert [a.kind for a in node.hall.announcer.after(0)] == ["call"]
    clock.advance(seconds=2)
    node.queue.recall(t.id, OFFICER)
    made = node.hall.announcer.after(0)
    assert [(a.kind, a.number) for a in made] == [("call", t.number), ("recall", t.number)]
    assert made[1].speech[1].text.startswith("Calling again:")


def test_starting_or_finishing_announces_nothing(hall):
    node, _ = hall
    t = node.queue.issue("general", KIOSK)
    node.queue.call_next("1", OFFICER)
    node.queue.start(t.id, OFFICER)
    node.queue.finish(t.id, OFFICER)
    node.queue.issue("report", OFFICER)
    assert len(node.hall.announcer.after(0)) == 1


def test_a_restarted_node_does_not_repeat_the_morning(make_node, tmp_path):
    clock = FakeClock()
    node = make_node(clock=clock, data_dir=tmp_path / "n")
    node.start()
    node.queue.issue("general", KIOSK)
    node.queue.call_next("1", OFFICER)
    epoch = node.hall.announcer.epoch
    node.stop()
    again = make_node(clock=clock, data_dir=tmp_path / "n")
    again.start()
    try:
        assert again.hall.announcer.after(0) == []
        assert again.hall.announcer.epoch != epoch
        again.queue.issue("general", KIOSK)
        again.queue.call_next("2", OFFICER)
        assert [a.seq for a in again.hall.announcer.after(0)] == [1]
    finally:
        again.stop()


def test_with_speech_off_the_chime_still_sounds(make_node):
    node = make_node(hall={"speech": False})
    node.start()
    try:
        node.queue.issue("general", KIOSK)
        node.queue.call_next("1", OFFICER)
        (a,) = node.hall.announcer.after(0)
        assert a.speech == [] and a.chime == "chime"
        assert node.hall.announcer.audio("chime").endswith("chime.wav")
    finally:
        node.stop()


def test_audio_is_made_on_demand_for_a_known_announcement_only(hall):
    from edge.errors import NotFound

    node, _ = hall
    node.queue.issue("general", KIOSK)
    node.queue.call_next("1", OFFICER)
    (a,) = node.hall.announcer.after(0)
    path = node.hall.announcer.audio(a.speech[0].audio)
    assert path.endswith(".wav")
    with pytest.raises(NotFound):
        node.hall.announcer.audio("0" * 32)


def _call_one(node) -> None:
    t = node.queue.issue("general", KIOSK)
    node.queue.call_next("1", OFFICER)
    node.queue.start(t.id, OFFICER)
    node.queue.finish(t.id, OFFICER)


def _made(node, announcement) -> bool:
    return all(node.hall.announcer.speech.path_of(s.audio).exists() for s in announcement.speech)


def test_speech_is_made_ahead_only_as_far_as_the_displays_are_listening(hall):
    import time

    from edge.hall.announcements import AHEAD

    node, _ = hall
    for _ in range(AHEAD):
        _call_one(node)
    first = node.hall.announcer.after(0)
    assert wait_until(lambda: all(_made(node, a) for a in first)), "the first announcements were not made ahead"
    for _ in range(4):  # a busy hall: more calls than any display has come near
        _call_one(node)
    later = node.hall.announcer.after(AHEAD)
    assert [a.seq for a in later] == [AHEAD + 1, AHEAD + 2, AHEAD + 3, AHEAD + 4]
    time.sleep(1.5)  # time enough to speak them all, had the worker run ahead of the displays
    assert not any(_made(node, a) for a in later), "speech was made beyond what any display will play soon"

    # a display asks to hear the 5th: the worker follows it, AHEAD beyond, and the one it asks for is made now
    path = node.hall.announcer.audio(first[4].speech[0].audio)
    assert path.endswith(".wav")
    assert wait_until(lambda: all(_made(node, a) for a in later)), "speech did not follow the display"
