"""A PERSON span is cut to its runs of name-like words; one name found twice is one finding."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from tests.conftest import PII_MODEL
from wardgate.config import NerModelSettings, PiiSettings
from wardgate.scanners.pii import build_pii_scanner
from wardgate.scanners.pii.names import MAX_RUNS, name_runs
from wardgate.scanners.pii.scanner import PiiScanner


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


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return build_pii_scanner(PiiSettings(ner=NerModelSettings(model=PII_MODEL)))


def persons(scanner: PiiScanner, text: str) -> list[str]:
    return [text[start:end] for entity, start, end, _ in scanner.analyze(text) if entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("Summarise our Q3 roadmap for the board.", "Q3"),  # spaCy reads the quarter as a name
        ("See http://t.co/70QKP9xBiy for the slides from Dana Whitfield.", "http://t.co/70QKP9xBiy"),
    ],
)
def test_codes_and_links_are_not_masked_as_names(scanner, text, absent):
    found = persons(scanner, text)
    assert not any(absent in name for name in found)


def test_a_name_found_with_different_edges_is_one_finding(scanner):
    # spaCy and the tagger both find these names, with different edges: one finding each, never overlapping ones.
    text = "Team 2 : Coach : Melanie King Brandon Luna - Analyst , Bryan Hull - Analyst"
    found = sorted((start, end) for entity, start, end, _ in scanner.analyze(text) if entity == "PERSON")
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(found))
    assert "Bryan Hull" in [text[start:end] for start, end in found]
