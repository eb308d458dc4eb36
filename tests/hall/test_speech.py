"""Speech made with Debian's espeak-ng: valid WAV files, longer for longer text, cached by text, in both languages."""

from __future__ import annotations

import wave

import pytest

from edge.errors import Invalid
from edge.hall.phrasing import CallKind, Language, phrase
from edge.hall.speech import CHIME_NAME, Speech, SpeechUnavailable


def seconds(path) -> float:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getnframes() > 0
        return w.getnframes() / w.getframerate()


@pytest.fixture
def speech(tmp_path) -> Speech:
    s = Speech(tmp_path / "audio")
    assert s.available(), "espeak-ng is installed by `make` (APT_PACKAGES)"
    return s


@pytest.mark.parametrize("lang", list(Language))
def test_a_call_is_a_valid_wav_whose_length_grows_with_the_text(speech: Speech, lang: Language):
    short = speech.path_of(speech.synthesise(lang, phrase("A012", "3", lang)))
    longer = speech.path_of(speech.synthesise(lang, phrase("A012", "3", lang, CallKind.RECALL)))
    longest = speech.path_of(speech.synthesise(lang, " ".join([phrase("A012", "3", lang)] * 3)))
    assert 1.0 < seconds(short) < seconds(longer) < seconds(longest)


def test_the_same_sentence_is_made_once_and_a_changed_one_gets_a_new_file(speech: Speech):
    text = phrase("R007", "2", Language.AR)
    key = speech.synthesise(Language.AR, text)
    path = speech.path_of(key)
    made = path.stat().st_mtime_ns
    assert speech.synthesise(Language.AR, text) == key
    assert path.stat().st_mtime_ns == made
    assert speech.synthesise(Language.EN, text) != key  # another voice is another sound
    assert Speech(speech.cache_dir, rate_wpm=200).key(Language.AR, text) != key
    assert not list(speech.cache_dir.glob("*.part"))


def test_the_chime_is_ours_and_valid(speech: Speech):
    assert speech.chime() == CHIME_NAME
    assert 0.5 < seconds(speech.path_of(CHIME_NAME)) < 2.0


def test_only_our_keys_name_files(speech: Speech):
    for bad in ("../../etc/passwd", "x" * 32, "ABCDEF" * 6, ""):
        with pytest.raises(Invalid):
            speech.path_of(bad)


def test_a_missing_espeak_is_a_clear_error_not_a_broken_file(tmp_path):
    s = Speech(tmp_path / "audio", espeak="/nonexistent/espeak-ng")
    assert not s.available()
    with pytest.raises(SpeechUnavailable, match="espeak-ng could not run"):
        s.synthesise(Language.EN, "Ticket A, zero one two")
    assert not list((tmp_path / "audio").glob("*"))


def test_phrasing_reads_naturally_in_each_language():
    assert phrase("A012", "3", Language.EN) == "Ticket A, zero one two, please go to counter 3."
    assert phrase("A012", "3", Language.AR) == "صاحب التذكرة رقم إيه صفر واحد اثنان، تفضل إلى الشباك رقم 3."
    assert phrase("P101", "12", Language.EN, CallKind.RECALL).startswith("Calling again: Ticket P, one zero one")
    assert phrase("F003", "B-2", Language.AR).endswith("الشباك رقم بي اثنان.")


def test_speech_made_ahead_of_need_runs_at_a_lower_cpu_priority_and_on_demand_at_normal(tmp_path):
    import os
    import shutil

    niceness = tmp_path / "niceness"
    wrapper = tmp_path / "espeak-ng"  # the real espeak-ng, telling first at which niceness it was started
    wrapper.write_text(f'#!/bin/sh\nnice >> "{niceness}"\nexec "{shutil.which("espeak-ng")}" "$@"\n')
    wrapper.chmod(0o755)
    s = Speech(tmp_path / "audio", espeak=str(wrapper))
    base = os.nice(0)
    s.synthesise(Language.EN, "Ticket A, zero one two", ahead=True)
    s.synthesise(Language.EN, "Ticket A, zero one three")
    ahead, on_demand = (int(line) for line in niceness.read_text().split())
    assert (ahead, on_demand) == (min(base + 10, 19), base)
    assert len(list((tmp_path / "audio").glob("*.wav"))) == 2
