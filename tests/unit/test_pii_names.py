"""A PERSON span is cut to its runs of name-like words (the scanner's use of it: tests/unit/test_pii_scanner.py)."""

from __future__ import annotations

import unicodedata

import pytest

from wardgate.scanners.pii.names import MAX_RUNS, name_runs


def runs(text: str) -> list[str]:
    return [text[start:end] for start, end in name_runs(text, 0, len(text))]


@pytest.mark.parametrize(
    ("span", "names"),
    [
        ("Maria Gonzalez", ["Maria Gonzalez"]),
        ("John F. Kennedy", ["John F. Kennedy"]),
        ("O'Brien", ["O'Brien"]),
        ("Jean-Luc Picard", ["Jean-Luc Picard"]),
        ("Maria's", ["Maria's"]),
        ('("Ann Lee"),', ["Ann Lee"]),
        ("홍길동", ["홍길동"]),
        ("अमित शर्मा", ["अमित शर्मा"]),  # vowel signs are marks, not letters
        (unicodedata.normalize("NFD", "José Álvarez"), [unicodedata.normalize("NFD", "José Álvarez")]),
        ("Milson Mundim - Associate", ["Milson Mundim", "Associate"]),
        ("Rudwell 53596", ["Rudwell"]),
        ("Mark 14:30", ["Mark"]),
        ("Heather:\"I'm Daniel's", ["Heather", "I'm Daniel's"]),  # a transcript's speaker
        ("Michael Olsen@ENRON", ["Michael Olsen@ENRON"]),  # a mail system's address of a person
        ("Bin Laden--", ["Bin Laden"]),
        ("John Smith2", ["John Smith"]),  # what stands around a name is cut, never the name
        ("Sarah Connor2morrow", ["Sarah Connor"]),  # letters stop at the first digit
        ("JohnSmith123abc", ["JohnSmith"]),
        ("Elon Musk\N{SLIGHTLY SMILING FACE}", ["Elon Musk"]),
        ("John «Johnny» Smith", ["John «Johnny» Smith"]),
        ("O'Neil\N{EN DASH}Smith", ["O'Neil\N{EN DASH}Smith"]),  # whatever joins letters is part of the name
        ("Smith_Jones", ["Smith_Jones"]),
        ("John\N{ZERO WIDTH SPACE}Smith", ["John\N{ZERO WIDTH SPACE}Smith"]),
        ("RT @JoshDevineDrums", ["RT"]),
        ("@ConorMc_Ginty GaGa", ["GaGa"]),
        ("http://t.co/70QKP9xBiy", []),
        ("see https://example.com/team Dana", ["see", "Dana"]),
        ("#FF", []),
        ("Q3", []),
        ("R2-D2", []),
    ],
)
def test_a_span_keeps_its_name_like_words(span, names):
    assert runs(span) == names


def test_a_span_that_would_fall_into_many_pieces_is_kept_whole():
    span = " ".join(["Ab 1"] * (MAX_RUNS + 1))  # one finding per word would reach the overlap check
    assert name_runs(span, 0, len(span)) == [(0, len(span))]


def test_offsets_are_the_texts_and_stay_inside_the_span():
    text = "Ask Bryan Hull - Analyst, today"
    start = text.index("Bryan")
    assert name_runs(text, start, start + len("Bryan Hull - Analyst")) == [(4, 14), (17, 24)]


def test_what_an_underscore_glues_to_the_last_word_joins_the_name():
    """NER reads `Zebulon_Quarterfield` as `Zebulon`: the surname went upstream beside the placeholder (an outside
    review). What `_` glues on is the name's; a digit after it is not."""
    text = "send it to Zebulon_Quarterfield_2 today"
    start = text.index("Zebulon")
    assert [text[a:b] for a, b in name_runs(text, start, start + len("Zebulon"))] == ["Zebulon_Quarterfield"]
