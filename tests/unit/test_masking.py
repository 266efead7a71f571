import hashlib
import hmac

import pytest

from wardgate.models import Finding, Segment
from wardgate.pipeline.masking import Masker
from wardgate.pipeline.vault import Vault


def finding(segment, start, end, kind="secret:aws-access-token", score=1.0):
    return Finding("secrets" if kind.startswith("secret") else "pii", kind, score, segment, start, end)


def everything(kind: str) -> bool:
    return True


def test_secrets_become_markers_and_the_rest_is_kept():
    segments = [Segment("user", "prompt", "key AKIA1 and ghp_2 end", ("m", 0))]
    found = [finding(0, 4, 9), finding(0, 14, 19, "secret:github-pat")]
    rewrites = Masker().rewrite(segments, found, everything, Vault())
    assert rewrites == {("m", 0): "key [REDACTED:aws-access-token] and [REDACTED:github-pat] end"}


def test_only_wanted_kinds_and_overlaps_merged():
    segments = [Segment("user", "prompt", "0123456789", ("a",)), Segment("user", "prompt", "untouched", ("b",))]
    found = [finding(0, 2, 6), finding(0, 4, 8), finding(1, 0, 3, "pii:EMAIL_ADDRESS")]
    rewrites = Masker().rewrite(segments, found, lambda kind: kind.startswith("secret"), Vault())
    assert rewrites == {("a",): "01[REDACTED:aws-access-token]89"}


def test_placeholders_are_stable_per_value_and_numbered_per_type():
    text = "Ann Lee wrote to bob@example.com; Ann Lee cc'd eve@example.com"
    found = [finding(0, 0, 7, "pii:PERSON"), finding(0, 17, 32, "pii:EMAIL_ADDRESS"), finding(0, 34, 41, "pii:PERSON"),
             finding(0, 47, 62, "pii:EMAIL_ADDRESS")]  # fmt: skip
    vault = Vault()
    rewrites = Masker().rewrite([Segment("user", "prompt", text, ("t",))], found, everything, vault)
    assert rewrites[("t",)] == "<PERSON_1> wrote to <EMAIL_ADDRESS_1>; <PERSON_1> cc'd <EMAIL_ADDRESS_2>"
    assert (
        vault.restore("Dear <PERSON_1>, I answered <EMAIL_ADDRESS_2>.") == "Dear Ann Lee, I answered eve@example.com."
    )


def test_responses_redact_instead_of_issuing_placeholders():
    segments = [Segment("assistant", "response", "Call Ann Lee", ("r",))]
    vault = Vault()
    rewrites = Masker().rewrite(segments, [finding(0, 5, 12, "pii:PERSON")], everything, vault, placeholders=False)
    assert rewrites == {("r",): "Call [REDACTED:PERSON]"}
    assert len(vault) == 0


def test_operators_per_entity_type():
    text = "SSN 078-05-1120 card 4111 1111 1111 1111 name Ann"
    found = [finding(0, 4, 15, "pii:US_SSN"), finding(0, 21, 40, "pii:CREDIT_CARD"), finding(0, 46, 49, "pii:PERSON")]
    key = b"k" * 32
    masker = Masker(operators={"US_SSN": "redact", "CREDIT_CARD": "partial", "PERSON": "hash"}, hash_key=key)
    rewritten = masker.rewrite([Segment("user", "prompt", text, ("t",))], found, everything, Vault())[("t",)]
    digest = hmac.new(key, b"PERSON\0Ann", hashlib.sha256).hexdigest()[:16]
    assert rewritten == f"SSN [REDACTED:US_SSN] card **** **** **** 1111 name <PERSON:{digest}>"


def test_hash_is_keyed_and_stable():
    segments = [Segment("user", "prompt", "Ann", ("t",))]
    found = [finding(0, 0, 3, "pii:PERSON")]

    def hashed(key: bytes) -> str:
        return Masker(operator="hash", hash_key=key).rewrite(segments, found, everything, Vault())[("t",)]

    assert hashed(b"a" * 32) == hashed(b"a" * 32) != hashed(b"b" * 32)


def test_hash_without_a_key_is_refused():
    with pytest.raises(ValueError, match="needs a key"):
        Masker(operators={"PERSON": "hash"})


def test_overlapping_spans_become_one_placeholder_that_restores_once():
    text = "mail johanna.lindqvist@example.com"
    # The name tagger took "johanna.lindqvist" inside the address the e-mail pattern found.
    found = [finding(0, 5, 22, "pii:PERSON"), finding(0, 5, 34, "pii:EMAIL_ADDRESS")]
    vault = Vault()
    rewrites = Masker().rewrite([Segment("user", "prompt", text, ("t",))], found, everything, vault)
    assert rewrites[("t",)] == "mail <EMAIL_ADDRESS_1>"
    assert vault.restore(rewrites[("t",)]) == text


def test_redacted_kinds_never_get_a_restorable_placeholder():
    found = [finding(0, 5, 34, "pii:EMAIL_ADDRESS")]
    segments = [Segment("user", "prompt", "mail johanna.lindqvist@example.com", ("t",))]
    vault = Vault()
    rewrites = Masker().rewrite(segments, found, everything, vault, redacted=lambda kind: True)
    assert "johanna" not in rewrites[("t",)]
    assert "<EMAIL_ADDRESS_1>" not in rewrites[("t",)]
    assert len(vault) == 0
