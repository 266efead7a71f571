"""Korean PII with real Presidio and the real recognizers: numbers glued to particles, names, no English NER noise."""

from __future__ import annotations

import pytest

from tests.conftest import PII_MODEL
from wardgate.config import NerModelSettings, PiiSettings
from wardgate.models import Segment
from wardgate.pipeline.masking import Masker
from wardgate.pipeline.vault import Vault
from wardgate.scanners.pii import build_pii_scanner
from wardgate.scanners.pii.korean import KrPhoneRecognizer, KrRrnRecognizer, rrn_checksum_ok
from wardgate.scanners.pii.scanner import PiiScanner
from wardgate.scripts import blank_other_scripts

VALID_RRN = "900101-1234568"  # weights 2..9,2..5 over 900101123456 → sum 145 → (11 - 145 % 11) % 10 = 8


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    pytest.importorskip("kiwipiepy")
    built = build_pii_scanner(PiiSettings(languages=["en", "ko"], ner=NerModelSettings(model=PII_MODEL)))
    yield built
    built.close()


def found(scanner: PiiScanner, text: str) -> list[tuple[str, str]]:
    return [(entity, text[start:end]) for entity, start, end, _ in scanner.analyze(text)]


def matches(recognizer, text: str, entity: str) -> list[tuple[str, float]]:
    return [(text[r.start : r.end], r.score) for r in recognizer.analyze(text, [entity]) if r.score >= 0.4]


def test_rrn_checksum():
    assert rrn_checksum_ok("9001011234568")
    assert not rrn_checksum_ok("9001011234567")
    assert not rrn_checksum_ok("900101123456")


@pytest.mark.parametrize("rrn", [VALID_RRN, VALID_RRN.replace("-", "")])
def test_a_valid_rrn_is_found_with_or_without_the_dash_and_with_a_particle_glued(rrn):
    assert matches(KrRrnRecognizer(), f"주민등록번호는{rrn}입니다", "KR_RRN") == [(rrn, 1.0)]


def test_an_rrn_without_a_valid_check_digit_needs_a_keyword():
    assert matches(KrRrnRecognizer(), "주문 900101-1234567건", "KR_RRN") == []  # post-2020 numbers have no check
    assert matches(KrRrnRecognizer(), "주민번호 900101-1234567입니다", "KR_RRN") == [("900101-1234567", 0.6)]


@pytest.mark.parametrize(
    "number",
    ["010-1234-5678", "010.1234.5678", "010 1234 5678", "01012345678", "011-234-5678", "02-123-4567",
     "031-234-5678", "070-1234-5678", "+82 10-1234-5678", "+82-2-123-4567"],
)  # fmt: skip
def test_korean_phone_numbers_with_a_particle_glued(number):
    assert [value for value, _ in matches(KrPhoneRecognizer(), f"연락은{number}로 주세요", "PHONE_NUMBER")] == [number]


def test_a_landline_without_separators_needs_a_keyword():
    assert matches(KrPhoneRecognizer(), "코드 0212345678번", "PHONE_NUMBER") == []
    assert matches(KrPhoneRecognizer(), "전화 0212345678번", "PHONE_NUMBER") == [("0212345678", 0.6)]


def test_blanking_hangul_keeps_offsets():
    assert blank_other_scripts("메일은 kim@example.co.kr입니다") == "    kim@example.co.kr   "


def test_email_card_and_numbers_glued_to_korean_particles(scanner):
    text = (
        "메일은 kim@example.co.kr입니다. 카드 4111-1111-1111-1111로 결제, "
        + f"연락처 010-1234-5678로, 주민번호 {VALID_RRN}."
    )
    assert set(found(scanner, text)) >= {
        ("EMAIL_ADDRESS", "kim@example.co.kr"),
        ("CREDIT_CARD", "4111-1111-1111-1111"),
        ("PHONE_NUMBER", "010-1234-5678"),
        ("KR_RRN", VALID_RRN),
    }


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("김민수님께서 내일 오신다고 합니다.", "김민수"),
        ("담당자 박서연 대리에게 전달해 주세요.", "박서연"),
        ("어제 강남에서 정하늘을 만났어요.", "정하늘"),
        ("남궁민수 씨에게 전화 부탁드려요.", "남궁민수"),
    ],
)
def test_korean_names(scanner, text, name):
    assert [value for entity, value in found(scanner, text) if entity == "PERSON"] == [name]


@pytest.mark.parametrize(
    "text",
    [
        "이번 주 회의는 서울역 근처 강남 사무실에서 합니다.",
        "정말 감사합니다. 조사 결과를 정리해 주세요.",
        "부산과 제주도, 여의도에 지점이 있습니다.",
    ],
)
def test_korean_text_without_pii_yields_nothing(scanner, text):
    assert found(scanner, text) == []  # in particular no LOCATION or PERSON from the English model


def test_english_names_in_korean_text_still_come_from_the_english_ner(scanner):
    assert ("PERSON", "Maria Gonzalez") in found(scanner, "Maria Gonzalez 씨에게 메일을 보냈어요.")


async def test_placeholders_are_restored_in_a_korean_answer(scanner):
    prompt = "김민수님의 연락처 010-1234-5678로 연락해 주세요."
    findings = await scanner.scan([Segment("user", "prompt", prompt, ("m",))])
    vault = Vault()
    masked = Masker().rewrite([Segment("user", "prompt", prompt, ("m",))], findings, lambda kind: True, vault)[("m",)]
    assert masked == "<PERSON_1>님의 연락처 <PHONE_NUMBER_1>로 연락해 주세요."
    answer = "<PERSON_1>님께 <PHONE_NUMBER_1>로 연락드리겠습니다."
    assert vault.restore(answer) == "김민수님께 010-1234-5678로 연락드리겠습니다."
