"""What the hall hears: a call phrased naturally in Arabic and in English, written for espeak-ng to say well.

Ticket numbers are spelled one character at a time ("A 0 1 2"), as people read them off their ticket; a counter
whose code is a plain number is said as a number ("counter twelve"). espeak-ng's Arabic voice does not know Latin
letter names, so the Arabic phrase names them in Arabic script; its English voice reads a lone "A" as the article,
so the letter is set apart with a comma."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    AR = "ar"
    EN = "en"


class CallKind(StrEnum):
    CALL = "call"
    RECALL = "recall"


ARABIC_LETTER_NAMES = {
    "A": "إيه", "B": "بي", "C": "سي", "D": "دي", "E": "إي", "F": "إف", "G": "جي", "H": "إتش", "I": "آي",
    "J": "جيه", "K": "كيه", "L": "إل", "M": "إم", "N": "إن", "O": "أو", "P": "بي", "Q": "كيو", "R": "آر",
    "S": "إس", "T": "تي", "U": "يو", "V": "في", "W": "دبليو", "X": "إكس", "Y": "واي", "Z": "زد",
}  # fmt: skip
ARABIC_DIGITS = ["صفر", "واحد", "اثنان", "ثلاثة", "أربعة", "خمسة", "ستة", "سبعة", "ثمانية", "تسعة"]
ENGLISH_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _spell(code: str, lang: Language) -> str:
    """A code said character by character: letters by name, digits as words, other marks dropped."""
    words = []
    for ch in code.upper():
        if ch.isdigit():
            words.append(ARABIC_DIGITS[int(ch)] if lang is Language.AR else ENGLISH_DIGITS[int(ch)])
        elif ch in ARABIC_LETTER_NAMES:
            words.append(ARABIC_LETTER_NAMES[ch] if lang is Language.AR else f"{ch},")
    return " ".join(words).rstrip(",")


def _counter(code: str, lang: Language) -> str:
    return code if code.isdigit() else _spell(code, lang)  # espeak says "12" as a number in either voice


def phrase(number: str, counter: str, lang: Language, kind: CallKind = CallKind.CALL) -> str:
    """The sentence spoken for a call, e.g. "Ticket A, zero one two, please go to counter 3."."""
    ticket, desk = _spell(number, lang), _counter(counter, lang)
    if lang is Language.AR:
        lead = "نداء مرة أخرى: " if kind is CallKind.RECALL else ""
        return f"{lead}صاحب التذكرة رقم {ticket}، تفضل إلى الشباك رقم {desk}."
    lead = "Calling again: " if kind is CallKind.RECALL else ""
    return f"{lead}Ticket {ticket}, please go to counter {desk}."
