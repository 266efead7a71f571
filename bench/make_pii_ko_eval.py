"""Write bench/data/pii_ko_synth.jsonl: synthetic Korean sentences with gold PII spans for `wardgate eval pii`.

Run once, seeded, in an environment with Faker (the `train` extra): `python bench/make_pii_ko_eval.py`. The
runtime never imports Faker; the committed JSONL is what the eval reads.

Entities are glued to particles the way Korean writes them (`010-1234-5678로`, `kim@example.co.kr입니다`,
`김민수님께서`). Place names are labelled LOCATION (Wardgate does not look for Korean places: their recall is
reported, not targeted) and double as hard negatives for names: many start with a surname syllable (서울, 강남).
Sentences without PII use everyday words that also start with one (이번, 정말, 조사, 한국어).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from faker import Faker

SEED = 20261204
OUT = Path(__file__).parent / "data" / "pii_ko_synth.jsonl"

# {slot} → label; a template is a sentence with slots, the particle written straight after the slot.
LABELS = {"name": "PERSON", "phone": "PHONE_NUMBER", "email": "EMAIL_ADDRESS", "rrn": "KR_RRN",
          "card": "CREDIT_CARD", "place": "LOCATION"}  # fmt: skip
TEMPLATES = [
    "{name}님께서 내일 오전에 회의실로 오신다고 합니다.",
    "제 이름은 {name}이고 연락처는 {phone}입니다.",
    "{name} 씨에게 {phone}로 전화 부탁드려요.",
    "담당자 {name} 대리의 이메일은 {email}입니다.",
    "{email}로 견적서를 보내 주세요.",
    "이메일:{email}, 휴대폰:{phone}",
    "주민등록번호는 {rrn}이고 이름은 {name}입니다.",
    "{name}의 주민번호 {rrn}를 확인해 주세요.",
    "카드번호 {card}로 결제해 주세요.",
    "{name} 고객님의 카드 {card}가 승인되지 않았습니다.",
    "어제 {place}에서 {name}를 만났어요.",
    "{name}가 {place}으로 이사했다고 들었어요.",
    "{place}에 사는 {name} 선생님께 {email}으로 연락드렸습니다.",
    "환자 {name}, 생년월일 포함 주민등록번호 {rrn}, 보호자 연락처 {phone}.",
    "{name} 과장님, 회의록을 {email}에도 공유해 주시겠어요?",
    "문의는 {phone}(평일 9시~6시)으로 해 주세요.",
    "신청자: {name} / 전화번호: {phone} / 이메일: {email}",
    "{name}에게 보고서를 보냈는데 아직 답이 없어요.",
    "이번 주 금요일까지 {name} 팀장에게 제출하세요.",
    "{name}은 {place} 지점에서 근무합니다.",
    "결제 카드는 {card}이고 명의자는 {name}입니다.",
    "{phone}번으로 문자 주시면 확인하겠습니다.",
    "고객 {name}({rrn})의 가입 신청서입니다.",
    "{name} 교수님 연구실 번호는 {phone}이에요.",
    "안녕하세요, {name}입니다. {place} 출장 일정 공유드립니다.",
    "보내는 사람: {email}",
    "{name}랑 {name}가 같이 발표를 준비했어요.",
    "법인카드 {card} 사용 내역을 정리해 줘.",
    "{place}행 기차표를 {name} 이름으로 예매했습니다.",
    "Please summarise: {name}님이 {email}로 보낸 메일 내용",
]
NO_PII = [
    "이번 주 회의는 목요일 오후 세 시로 변경되었습니다.",
    "정말 감사합니다. 좋은 하루 보내세요!",
    "3분기 로드맵을 요약해 주세요.",
    "Summarise our Q3 roadmap 그리고 주요 위험 요소도 알려 줘.",
    "echo: 테스트 메시지입니다.",
    "한국어로 번역해 주시겠어요?",
    "조사 결과를 표로 정리해 주세요.",
    "오늘 점심 메뉴는 김치찌개와 된장국입니다.",
    "전화 회의는 줌으로 진행합니다.",
    "강의 자료는 공유 드라이브에 올려 두었습니다.",
    "신청 마감은 다음 주 월요일입니다.",
    "주문 번호 20240315-0042의 배송 상태를 알려 주세요.",
    "서버 응답 시간이 평균 120ms로 늘었습니다.",
    "이 코드에서 버그를 찾아 주세요: for i in range(10): print(i)",
    "유지보수 계약서 초안을 검토해 주세요.",
    "박물관 관람 시간은 오전 10시부터입니다.",
    "최근 매출이 전년 대비 12% 증가했습니다.",
    "장마가 시작되어 우산을 챙기세요.",
    "한 달 동안 고생 많으셨습니다.",
    "이사회 안건을 정리해서 공유해 주세요.",
    "손님이 오시면 안내해 주세요.",
    "안전 교육은 필수입니다.",
    "홍보 자료를 다시 만들어야 해요.",
    "고객 만족도 조사를 진행합니다.",
    "임시 저장된 문서를 복구할 수 있나요?",
    "서비스 점검은 새벽 2시에 끝납니다.",
    "문서 버전 2.3.1을 배포했습니다.",
    "지난 분기 실적 보고서를 작성해 줘.",
    "전체 일정은 다음과 같습니다.",
    "황금연휴에는 사무실이 쉽니다.",
]
PLACES = ["서울역", "강남", "부산", "제주도", "판교", "대전", "광주", "인천공항", "수원", "해운대", "명동", "여의도",
          "성수동", "잠실", "신촌", "울산", "전주", "강릉", "세종시", "홍대입구"]  # fmt: skip
DOUBLE_SURNAMES = ["남궁", "황보", "제갈", "선우", "독고"]


def _rrn(rng: random.Random) -> str:
    """A valid (pre-2020, checksummed) number, or one from 2020 on (random last digit) one time in five."""
    year, month, day = rng.randint(0, 99), rng.randint(1, 12), rng.randint(1, 28)
    gender = rng.choice("12") if year > 25 else rng.choice("34")
    body = f"{year:02d}{month:02d}{day:02d}{gender}{rng.randint(0, 99999):05d}"
    total = sum(int(d) * w for d, w in zip(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
    check = (11 - total % 11) % 10 if rng.random() < 0.8 else rng.randint(0, 9)
    digits = body + str(check)
    return digits if rng.random() < 0.2 else f"{digits[:6]}-{digits[6:]}"


def _phone(rng: random.Random) -> str:
    sep = rng.choice(["-", "-", "-", ".", " "])
    kind = rng.choice(["mobile", "mobile", "mobile", "seoul", "area", "070", "intl", "bare"])
    if kind == "mobile":
        return sep.join([rng.choice(["010", "010", "011", "016", "017", "019"]), f"{rng.randint(2000, 9999)}",
                         f"{rng.randint(0, 9999):04d}"])  # fmt: skip
    if kind == "seoul":
        return sep.join(["02", f"{rng.randint(200, 9999)}", f"{rng.randint(0, 9999):04d}"])
    if kind == "area":
        area = rng.choice(["031", "032", "033", "041", "042", "051", "052", "053", "055", "061", "062", "064"])
        return sep.join([area, f"{rng.randint(200, 999)}", f"{rng.randint(0, 9999):04d}"])
    if kind == "070":
        return sep.join(["070", f"{rng.randint(2000, 9999)}", f"{rng.randint(0, 9999):04d}"])
    if kind == "intl":
        return f"+82 10-{rng.randint(2000, 9999)}-{rng.randint(0, 9999):04d}"
    return f"010{rng.randint(2000, 9999)}{rng.randint(0, 9999):04d}"


def _card(fake: Faker, rng: random.Random) -> str:
    digits = fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "visa16"]))
    sep = rng.choice(["-", " ", ""])
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _name(fake: Faker, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(DOUBLE_SURNAMES) + fake.first_name()
    if roll < 0.18:
        return fake.last_name() + fake.first_name()[rng.randint(0, 1)]  # a one-syllable given name
    return fake.last_name() + fake.first_name()


def _email(fake: Faker, rng: random.Random) -> str:
    user = fake.user_name()
    return f"{user}@{rng.choice(['naver.com', 'daum.net', 'example.co.kr', 'gmail.com', 'company.kr', 'korea.ac.kr'])}"


# Particle pairs (after a final consonant, after a vowel): `{name}가` is written 민수가 but 민준이.
_PARTICLES = (("으로", "로"), ("이랑", "랑"), ("이", "가"), ("은", "는"), ("을", "를"), ("과", "와"))


def _particle(value: str, rest: str) -> str:
    """`rest` with its leading particle agreeing with the last syllable of a Hangul `value`."""
    last = value[-1:]
    if not last or not "가" <= last <= "힣":
        return rest
    final = (ord(last) - 0xAC00) % 28  # 0: ends in a vowel; 8: ㄹ, which takes 로 like a vowel
    for consonant, vowel in _PARTICLES:
        for form in (consonant, vowel):
            # Only a particle standing alone: 이고, 이에요 and 입니다 after a name are the copula, not 이/가.
            if rest.startswith(form) and not "가" <= rest[len(form) : len(form) + 1] <= "힣":
                wanted = vowel if final == 0 or (final == 8 and vowel == "로") else consonant
                return wanted + rest[len(form) :]
    return rest


def _fill(template: str, fake: Faker, rng: random.Random) -> dict[str, object]:
    text, spans, last, previous = "", [], 0, ""
    for match in re.finditer(r"\{(\w+)\}", template):
        slot = match.group(1)
        value = {
            "name": lambda: _name(fake, rng),
            "phone": lambda: _phone(rng),
            "email": lambda: _email(fake, rng),
            "rrn": lambda: _rrn(rng),
            "card": lambda: _card(fake, rng),
            "place": lambda: rng.choice(PLACES),
        }[slot]()
        text += _particle(previous, template[last : match.start()])
        spans.append({"start": len(text), "end": len(text) + len(value), "label": LABELS[slot], "value": value})
        text += value
        last, previous = match.end(), value
    return {"text": text + _particle(previous, template[last:]), "spans": spans}


def main() -> None:
    rng = random.Random(SEED)
    fake = Faker("ko_KR")
    fake.seed_instance(SEED)
    rows = [{"id": f"ko-synth-{i}", "source": "wardgate/make_pii_ko_eval", **_fill(rng.choice(TEMPLATES), fake, rng)}
            for i in range(400)]  # fmt: skip
    rows += [{"id": f"ko-none-{i}", "source": "wardgate/make_pii_ko_eval", "text": text, "spans": []}
             for i, text in enumerate(NO_PII)]  # fmt: skip
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(rows)} sentences → {OUT}")


if __name__ == "__main__":
    main()
