import pytest

from wardgate.scanners.spelled import (
    MAX_EDITS,
    as_written,
    entities_decoded,
    hidden_hint,
    lower_runs_upper_cased,
    reversed_text,
    rot13,
    spacing_removed,
)


def test_reversed_spans_map_back():
    text = "abc KEY123 xyz"
    layer = reversed_text(text)
    start = layer.text.index("321YEK")
    assert text[slice(*layer.span(start, start + 6))] == "KEY123"


def test_rot13_keeps_offsets():
    layer = rot13("say NXVN now")
    assert layer.text == "fnl AKIA abj"
    assert layer.span(4, 8) == (4, 8)


def test_entities_map_to_the_references_they_came_from():
    text = "x &#65;&#x4B;&amp;I y"
    layer = entities_decoded(text)
    assert layer is not None
    assert layer.text == "x AK&I y"
    assert text[slice(*layer.span(2, 6))] == "&#65;&#x4B;&amp;I"
    assert text[slice(*layer.span(3, 4))] == "&#x4B;"


def test_spacing_is_removed_only_in_runs_of_single_characters():
    text = "a normal sentence, then A K I A Z.3.M.S and more"
    layer = spacing_removed(text)
    assert layer is not None
    assert layer.text == "a normal sentence, then AKIAZ3MS and more"
    start = layer.text.index("AKIA")
    assert text[slice(*layer.span(start, start + 8))] == "A K I A Z.3.M.S"
    assert spacing_removed("no spaced letters here") is None


def test_only_lower_case_runs_with_a_digit_are_upper_cased():
    layer = lower_runs_upper_cased(as_written("akiaz3msjv4wwnkww5fg Mixed0CaseRunOfSixteen asiapacificregionsales"))
    assert layer is not None
    assert layer.text == "AKIAZ3MSJV4WWNKWW5FG Mixed0CaseRunOfSixteen asiapacificregionsales"


def test_edits_per_text_are_bounded():
    text = "&#65;" * (MAX_EDITS + 10)
    layer = entities_decoded(text)
    assert layer is not None
    assert layer.text == "A" * MAX_EDITS + "&#65;" * 10


@pytest.mark.parametrize(("text", "hint"), [("A K I A Z 3 M S J", True), ("&#65;", True), ("plain words", False)])
def test_hidden_hint(text, hint):
    assert hidden_hint(text) is hint
