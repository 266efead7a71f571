"""Presidio offline with Wardgate's recognizers; the scanner's thresholds, cache and fallbacks."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time

import pytest

from tests.conftest import PII_MODEL
from wardgate.config import NerModelSettings, PiiSettings
from wardgate.errors import ConfigError, ScannerError
from wardgate.inference.work import SCAN_WORK
from wardgate.models import Segment
from wardgate.scanners import deadline
from wardgate.scanners.pii import build_pii_scanner
from wardgate.scanners.pii.recognizers import international_emails
from wardgate.scanners.pii.scanner import OVERLAP_CHARS, SLICE_CHARS, PiiScanner, _resolve_overlaps, slices


def settings(**changes) -> PiiSettings:
    return PiiSettings(ner=NerModelSettings(model=PII_MODEL), **changes)


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return build_pii_scanner(settings())


def kinds(scanner: PiiScanner, text: str) -> list[tuple[str, str]]:
    return [(entity, text[start:end]) for entity, start, end, _ in scanner.analyze(text)]


def test_presidio_is_kept_off_the_network():
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""


def test_names_emails_and_numbers(scanner):
    found = kinds(scanner, "Hi, I'm Maria Gonzalez, reach me at maria@example.com or +1-212-555-0187.")
    assert ("PERSON", "Maria Gonzalez") in found
    assert ("EMAIL_ADDRESS", "maria@example.com") in found
    assert ("PHONE_NUMBER", "+1-212-555-0187") in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the limit for card 501864667909?", ("CREDIT_CARD", "501864667909")),  # no Luhn, but called a card
        ("Can someone call me on 450 0840? I have a question", ("PHONE_NUMBER", "450 0840")),
        ("mobile: 99 577450", ("PHONE_NUMBER", "99 577450")),
        ("Phone:\n60-56-85-91\n", ("PHONE_NUMBER", "60-56-85-91")),
    ],
)
def test_numbers_the_text_names(scanner, text, expected):
    assert expected in kinds(scanner, text)


@pytest.mark.parametrize(
    "text",
    [
        "Order 501864667909 shipped yesterday.",  # a long number nobody called a card
        "The population grew to 450 0840 by then.",  # nobody called it a phone
        "Version 12.4.1 was released in 2024.",
    ],
)
def test_numbers_without_context_are_left_alone(scanner, text):
    assert [entity for entity, _ in kinds(scanner, text) if entity in ("CREDIT_CARD", "PHONE_NUMBER")] == []


def test_a_stronger_result_of_another_type_hides_the_weaker_one_inside_it(scanner):
    found = kinds(scanner, "My credit card is 4111 1111 1111 1111, call me if it fails")
    assert found.count(("CREDIT_CARD", "4111 1111 1111 1111")) == 1
    assert not any(entity == "PHONE_NUMBER" for entity, _ in found)


def test_per_entity_thresholds():
    strict = build_pii_scanner(settings(thresholds={"PHONE_NUMBER": 0.99}))
    found = kinds(strict, "Call me on +1-212-555-0187, Maria Gonzalez")
    assert "PHONE_NUMBER" not in {entity for entity, _ in found}
    assert "PERSON" in {entity for entity, _ in found}
    strict.close()


async def test_scan_reports_findings_with_spans_and_reuses_cached_analyses(scanner, monkeypatch):
    segments = [
        Segment("system", "prompt", "You are a helpful assistant.", ("messages", 0, "content")),
        Segment("user", "prompt", "Email maria@example.com please", ("messages", 1, "content")),
    ]
    findings = await scanner.scan(segments)
    assert [(f.kind, f.segment, f.start, f.end) for f in findings] == [("pii:EMAIL_ADDRESS", 1, 6, 23)]
    assert findings[0].threshold == 0.4

    calls = []
    monkeypatch.setattr(scanner, "analyze", lambda text, entities=None: calls.append(text) or ())
    again = await scanner.scan([*segments, Segment("user", "prompt", "and a new turn", ("messages", 2, "content"))])
    assert again == findings  # the first two turns come from the cache
    assert calls == ["and a new turn"]


async def test_a_query_parameter_is_read_by_patterns_only(scanner):
    """NER would mask a parameter's context-free tokens (`en-US` as a place, an identifier as a name); the patterns
    still find an e-mail address there. The same texts in a prompt get the full reading, remembered apart."""
    texts = ["Maria Gonzalez", "maria@example.com", "en-US", "passport 912803456"]
    as_parameters = [Segment("unknown", "parameter", text, ("$query", i, "value")) for i, text in enumerate(texts)]
    as_prompts = [Segment("user", "prompt", text, ("messages", i, "content")) for i, text in enumerate(texts)]
    for _ in range(2):  # the second time from the cache
        found = [(f.segment, f.kind) for f in await scanner.scan(as_parameters)]
        # A pattern whose score needs its context words ("passport") still gets them (found by an outside review).
        assert found == [(1, "pii:EMAIL_ADDRESS"), (3, "pii:US_PASSPORT")]
        prompt_kinds = [(f.segment, f.kind) for f in await scanner.scan(as_prompts)]
        assert (0, "pii:PERSON") in prompt_kinds
        assert (1, "pii:EMAIL_ADDRESS") in prompt_kinds


async def test_no_text_can_share_the_memo_of_a_parameters_pattern_reading(scanner):
    """Found by an outside review: keyed as a prefix plus the text, a prompt written as that prefix plus a query
    value took the value's pattern-only findings (no names, offsets shifted) from the memo."""
    value = "Hi, I'm Maria Gonzalez, mail maria.gonzalez@example.com"
    await scanner.scan([Segment("unknown", "parameter", value, ("$query", 0, "value"))])
    prompt = "\0patterns\0" + value
    found = {(f.kind, prompt[f.start : f.end]) for f in await scanner.scan([Segment("user", "prompt", prompt, ("m",))])}
    assert ("pii:PERSON", "Maria Gonzalez") in found
    assert ("pii:EMAIL_ADDRESS", "maria.gonzalez@example.com") in found


async def test_an_analysis_failure_is_a_scanner_error(scanner, monkeypatch):
    def broken(text: str, entities: object = None) -> tuple[()]:
        raise RuntimeError("spaCy ran out of memory")

    monkeypatch.setattr(scanner, "analyze", broken)
    with pytest.raises(ScannerError, match="PII analysis failed: spaCy ran out of memory"):
        await scanner.scan([Segment("user", "prompt", "a text not seen before", ("m",))])


def test_missing_spacy_pipeline_falls_back_to_patterns_loudly(caplog):
    caplog.set_level(logging.WARNING)
    fallback = build_pii_scanner(PiiSettings(spacy_models={"en": "no_such_pipeline"}, ner=NerModelSettings(model=None)))
    assert "names and places will NOT be detected" in caplog.text
    found = kinds(fallback, "Maria Gonzalez, maria@example.com")
    assert found == [("EMAIL_ADDRESS", "maria@example.com")]
    fallback.close()


def test_missing_models_refuse_to_start_when_ner_is_required(tmp_path):
    with pytest.raises(ConfigError, match="require_ner"):
        build_pii_scanner(PiiSettings(spacy_models={"en": "no_such_pipeline"}, require_ner=True))
    with pytest.raises(ConfigError, match="NER model"):
        build_pii_scanner(PiiSettings(ner=NerModelSettings(model=tmp_path), require_ner=True))


def test_a_language_without_a_pipeline_is_a_config_error():
    with pytest.raises(ConfigError, match="no pipeline for language"):
        build_pii_scanner(PiiSettings(languages=["en", "de"]))


def test_a_mastercard_in_the_two_series_is_found_with_its_checksum():
    from wardgate.scanners.pii.recognizers import MastercardTwoSeriesRecognizer, luhn_valid

    recognizer = MastercardTwoSeriesRecognizer()
    assert luhn_valid("2223000048400011")
    assert recognizer.validate_result("2223 0000 4840 0011")
    assert not recognizer.validate_result("2223 0000 4840 0012")  # checksum
    assert not recognizer.validate_result("2800 0000 0000 0006")  # outside 2221-2720
    found = recognizer.analyze("카드 2223-0000-4840-0011로 결제", ["CREDIT_CARD"])
    assert [(r.start, r.end) for r in found] == [(3, 22)]


def test_a_long_text_is_cut_into_overlapping_slices_between_words():
    text = " ".join(f"word{i}" for i in range(6_000))
    cut = slices(text)
    assert len(cut) > 5
    assert cut[0][0] == 0
    assert cut[-1][0] + len(cut[-1][1]) == len(text)
    for (start, piece), (after, _) in itertools.pairwise(cut):
        assert len(piece) <= SLICE_CHARS
        assert OVERLAP_CHARS <= start + len(piece) - after <= 2 * OVERLAP_CHARS  # overlapping, by at least the overlap
        assert text[after - 1] == " "  # the next slice starts at a word
        assert text[start + len(piece)] == " "  # and this one ends before a space
    assert slices("short") == [(0, "short")]


@pytest.mark.parametrize("reading", ["scan", "scan_sync"])
@pytest.mark.parametrize("entity", ["4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"])
async def test_a_spaced_entity_across_a_cut_after_a_run_without_spaces_is_found_whole(scanner, reading, entity):
    """Found by an outside review: the next slice started at the first space near the cut, which a run without
    spaces put inside the entity (its second space is the last one before the slice's end, so the cut)."""
    second_space = entity.index(" ", entity.index(" ") + 1)
    at = SLICE_CHARS - second_space - 3  # the slice's end falls between the entity's second and third spaces
    filler = "the weather report said nothing of note today and "
    head = (filler * (at // len(filler)))[: at - 251] + " " + "y" * 249 + ":"
    text = head + entity + " expires soon " + "and nothing else " * 20
    assert text.index(entity) == at
    segments = [Segment("user", "prompt", text, ("m",))]
    findings = await scanner.scan(segments) if reading == "scan" else scanner.scan_sync(segments)
    start = text.index(entity)
    assert (start, start + len(entity)) in [(f.start, f.end) for f in findings]


@pytest.mark.parametrize("reading", ["scan", "scan_sync"])
async def test_an_entity_on_a_slice_edge_is_found_once_where_it_is(scanner, reading):
    """Both readings slice a long text: Presidio's cost over one text grows faster than the text."""
    filler = "the weather report said nothing of note today and "
    text = filler * (SLICE_CHARS // len(filler)) + "write to maria.lopez@example.com soon " + filler * 40
    segments = [Segment("user", "prompt", text, ("m",))]
    findings = await scanner.scan(segments) if reading == "scan" else scanner.scan_sync(segments)
    emails = [(f.start, f.end) for f in findings if f.kind == "pii:EMAIL_ADDRESS"]
    start = text.index("maria.lopez@example.com")
    assert emails == [(start, start + len("maria.lopez@example.com"))]


def test_a_synchronous_reading_past_its_budget_fails_within_a_slice(scanner):
    """Nothing cancels a stream's judgement from outside: a 1 MB tool result dense with numbers took minutes."""
    text = " ".join(f"call 555-01{i % 100:02d} or write to a{i}@example.com today" for i in range(20_000))
    started = time.monotonic()
    with deadline.budget(0.2), pytest.raises(ScannerError, match="budget of 200 ms is spent"):
        scanner.scan_sync([Segment("tool", "tool_result", text, ())])
    assert time.monotonic() - started < 5  # the budget, and the slice running at it (~0.1 s)


async def test_a_cancelled_scan_leaves_no_slice_running(scanner, monkeypatch):
    calls = []

    def slow(text: str, entities: object = None) -> tuple[()]:
        calls.append(text)
        time.sleep(0.1)
        return ()

    monkeypatch.setattr(scanner, "analyze", slow)
    long = " ".join(f"new{i}" for i in range(20_000))  # ~30 slices: 1.5 s on two workers
    scan = asyncio.ensure_future(scanner.scan([Segment("user", "prompt", long, ("m",))]))
    await asyncio.sleep(0.25)
    scan.cancel()
    started = len(calls)
    await asyncio.sleep(0.3)  # the slices running when it was cancelled finish; no other starts
    assert SCAN_WORK.running == 0
    assert len(calls) == started < len(slices(long))


@pytest.mark.parametrize(
    "text",
    [
        "明日の午後三時に会議室を予約して、参加者にメールを送ってください。資料は東京オフィスの共有フォルダにあります。",
        "请帮我预订明天下午三点的会议室，并给参会人员发邮件。资料在北京办公室的共享文件夹里。",
        "Пожалуйста, забронируйте переговорную на завтра в три часа и отправьте письмо участникам.",
    ],
    ids=["japanese", "chinese", "russian"],
)
def test_the_english_ner_reads_no_clause_of_another_script_as_a_name(scanner, text):
    """Read as written, the English passes masked whole Japanese and Chinese clauses as PERSON and LOCATION."""
    address = "tanaka@example.co.jp"
    assert kinds(scanner, f"{text}連絡先は{address}です。") == [("EMAIL_ADDRESS", address)]


def test_latin_names_inside_text_of_another_script_are_still_found(scanner):
    text = "明日の会議について、John Smith さんにメールを転送してください。"
    assert ("PERSON", "John Smith") in kinds(scanner, text)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("메일은 홍길동@naver.com입니다.", "홍길동@naver.com"),
        ("Пишите на иван.петров@почта.рф завтра.", "иван.петров@почта.рф"),
        ("連絡先は a.b@例え.jp です。", "a.b@例え.jp"),
    ],
    ids=["hangul-local-part", "cyrillic-domain", "japanese-domain"],
)
def test_an_address_written_in_another_script_is_found(scanner, text, address):
    """The Latin-script passes read other scripts blanked, so these were missed: found on the text as written."""
    assert ("EMAIL_ADDRESS", address) in kinds(scanner, text)


@pytest.mark.parametrize(
    "text", ["%20" * 60_000 + " 가@", "@가" * 60_000, "가@가.가가 " * 20_000], ids=["escapes", "ats", "addresses"]
)
def test_finding_international_addresses_costs_linear_time(text):
    started = time.perf_counter()
    international_emails(text)
    assert time.perf_counter() - started < 1.0  # a regex over the whole text: 84 s for the first


@pytest.mark.parametrize(
    "text", ["Hi, I'm Maria Gonzalez, call me at 555-0100.", "안녕하세요 홍길동입니다. 010-1234-5678로 연락주세요."]
)
def test_an_analysis_logs_nothing(scanner, caplog, text):
    """Each language pass asks Presidio only for what it has a recognizer for: Presidio warned once per other
    entity on every call (KR_RRN on each English pass, twelve more on each Korean one), lines on every request."""
    with caplog.at_level(logging.WARNING, logger="presidio-analyzer"):
        assert scanner.analyze(text)
        assert scanner.scan_sync([Segment("tool", "tool_result", text, ())])  # a stream's patterns-only pass
    assert caplog.records == []


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


def _overlaps_by_pairs(found):
    """The rule `_resolve_overlaps` keeps, read pair by pair: a result inside a kept, higher-ranked one of another
    type (not a container) is dropped; overlapping results of one type are their union."""
    kept = []
    for entity, start, end, score in sorted(found, key=lambda r: (-r[3], -(r[2] - r[1]))):
        if not any(o[0] != entity and o[0] != "URL" and o[1] <= start and end <= o[2] for o in kept):
            kept.append((entity, start, end, score))
    merged = []
    for entity, start, end, score in sorted(kept):
        if merged and merged[-1][0] == entity and start < merged[-1][2]:
            merged[-1] = (entity, merged[-1][1], max(end, merged[-1][2]), max(score, merged[-1][3]))
        else:
            merged.append((entity, start, end, score))
    return tuple(sorted(merged, key=lambda r: (r[1], r[2])))


@pytest.mark.parametrize("seed", range(40))
def test_overlapping_results_resolve_as_the_pairwise_rule_says(seed):
    rng = random.Random(seed)
    found = []
    for _ in range(rng.randint(1, 60)):
        start = rng.randint(0, 80)
        entity = rng.choice(("PERSON", "PHONE_NUMBER", "CREDIT_CARD", "URL", "LOCATION"))
        found.append((entity, start, start + rng.randint(1, 30), rng.choice((0.4, 0.6, 0.85, 1.0))))
    assert _resolve_overlaps(found) == _overlaps_by_pairs(found)


async def test_the_tagger_reads_a_prompt_once_asked_for_before_presidio_reads_it():
    """The tagger's pass starts with the scan (beside spaCy and the patterns, not after them); Presidio's recognizer
    takes that result instead of a pass of its own, and nothing is left waiting once the scan ends."""
    fresh = build_pii_scanner(settings())
    try:
        tagger = fresh._tagger
        assert tagger is not None
        batcher = tagger._batcher
        text = "Please send the Lisbon contract to Maria Gonzalez before the board meets on Friday."
        found = {(f.kind, text[f.start : f.end]) for f in await fresh.scan([Segment("user", "prompt", text, ("m",))])}
        assert ("pii:PERSON", "Maria Gonzalez") in found
        assert batcher.batches_run == 1  # one pass: the recognizer did not run the tagger again
        assert tagger._started == {}
        # A scan cancelled while its pass waits in the batcher leaves nothing behind either.
        task = asyncio.ensure_future(fresh.scan([Segment("user", "prompt", text + " Thanks, Ana Silva.", ("m",))]))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert tagger._started == {}
    finally:
        fresh.close()
