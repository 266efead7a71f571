from wardgate.models import Finding, Segment
from wardgate.pipeline.masking import masked_texts


def finding(segment, start, end, kind="secret:aws-access-token"):
    return Finding("secrets", kind, 1.0, segment, start, end)


def test_masks_spans_in_place_and_keeps_the_rest():
    segments = [Segment("user", "prompt", "key AKIA1 and ghp_2 end", ("m", 0))]
    rewrites = masked_texts(segments, [finding(0, 4, 9), finding(0, 14, 19, "secret:github-pat")], lambda k: True)
    assert rewrites == {("m", 0): "key [REDACTED:aws-access-token] and [REDACTED:github-pat] end"}


def test_only_wanted_kinds_and_merged_overlaps():
    segments = [Segment("user", "prompt", "0123456789", ("a",)), Segment("user", "prompt", "untouched", ("b",))]
    found = [finding(0, 2, 6), finding(0, 4, 8), finding(1, 0, 3, "pii:EMAIL")]
    rewrites = masked_texts(segments, found, lambda kind: kind.startswith("secret"))
    assert rewrites == {("a",): "01[REDACTED:aws-access-token]6789"}
