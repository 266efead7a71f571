"""Masks in bodies that are no JSON document: put back exactly, or refused."""

from __future__ import annotations

import json

import pytest

from wardgate.formats.base import MalformedBody
from wardgate.formats.body import read_body
from wardgate.formats.text_rewrite import Unrewritable, rewrite_texts

TYPE = "multipart/form-data; boundary=B"


def multipart(*parts: bytes) -> bytes:
    return b"".join(b"--B\r\n" + part + b"\r\n" for part in parts) + b"--B--\r\n"


AUDIO = (
    b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\x00\x01\xff'
)
PROMPT = b'Content-Disposition: form-data; name="prompt"\r\n\r\nA call with Maria at maria@example.com.'


def rewritten(raw: bytes, content_type: str, masks: dict) -> bytes:
    read = read_body(raw, content_type)
    assert read is not None
    return rewrite_texts(raw, content_type, read, masks, 1000)


def test_a_text_part_is_masked_and_every_other_byte_stays():
    raw = multipart(AUDIO, PROMPT)
    new = rewritten(raw, TYPE, {("$part", 1, "$content", "$text"): "A call with <PERSON_1> at <EMAIL_ADDRESS_1>."})
    assert new == raw.replace(b"Maria at maria@example.com", b"<PERSON_1> at <EMAIL_ADDRESS_1>")


def test_a_batch_file_s_lines_are_masked_as_json():
    lines = [{"custom_id": f"r{i}", "body": {"messages": [{"role": "user", "content": f"Mail ann{i}@x.org"}]}}
             for i in range(2)]  # fmt: skip
    jsonl = "".join(json.dumps(line) + "\n" for line in lines).encode()
    part = b'Content-Disposition: form-data; name="file"; filename="b.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n'
    raw = multipart(b'Content-Disposition: form-data; name="purpose"\r\n\r\nbatch', part + jsonl)
    path = ("$part", 1, "$content", 1, "body", "messages", 0, "content")
    new = rewritten(raw, TYPE, {path: "Mail <EMAIL_ADDRESS_1>"})
    again = read_body(new, TYPE)
    assert dict(again.texts)[path] == "Mail <EMAIL_ADDRESS_1>"
    assert b"ann0@x.org" in new
    assert b"ann1@x.org" not in new


def test_a_plain_text_body_is_masked():
    assert rewritten(b"Mail maria@example.com", "text/plain", {("$text",): "Mail <E>"}) == b"Mail <E>"


@pytest.mark.parametrize(
    ("raw", "masks"),
    [
        (multipart(PROMPT), {("$part", 0, "$header", "Content-Disposition", 2): "x"}),  # a part header
        (multipart(b"Content-Transfer-Encoding: base64\r\n\r\nTWFyaWE="), {("$part", 0, "$content", "$text"): "x"}),
        (multipart(PROMPT), {("$preamble",): "x"}),
        (
            multipart(b"Content-Type: text/plain; charset=utf-16le\r\n\r\nM\x00"),
            {("$part", 0, "$content", "$text"): "x"},
        ),
        (
            multipart(b"Content-Type: application/json\r\n\r\n" + b'{"n": 1e400, "t": "Maria"}'),
            {("$part", 0, "$content", "t"): "x"},
        ),  # would come back as Infinity
    ],
    ids=["part-header", "transfer-encoded", "preamble", "utf16-part", "number-not-written-back"],
)
def test_what_cannot_be_put_back_exactly_is_unrewritable(raw, masks):
    with pytest.raises(Unrewritable):
        rewritten(raw, TYPE, masks)


def test_a_json_key_spelt_like_a_part_header_is_no_header():
    """A review's finding: `{"$header": ...}` in an uploaded JSON part read as a part header, which the PII scanner
    skips, by its path alone."""
    part = b'Content-Disposition: form-data; name="file"; filename="d.json"\r\nContent-Type: application/json\r\n\r\n'
    raw = multipart(part + json.dumps({"$header": "Contact Jane Doe"}).encode())
    read = read_body(raw, TYPE)
    assert ("$part", 0, "$header") not in read.header_paths
    assert ("$part", 0, "$header", "Content-Disposition", 0) in read.header_paths


def test_a_json_part_is_rewritten_as_json_whatever_its_keys():
    """A review's findings: a `$text` key read as the whole part's text (500 as JSON, the document replaced as text);
    keys spelling a header's path made its text a header's."""
    doc = {"$text": "mail maria@example.com", "$header": {"Content-Disposition": ["x"]}, "n": 5}
    part = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + json.dumps(doc).encode()
    raw = multipart(part)
    read = read_body(raw, TYPE)
    assert ("$part", 0, "$content", "$header", "Content-Disposition", 0) not in read.header_paths
    new = rewritten(raw, TYPE, {("$part", 0, "$content", "$text"): "mail <E>"})
    assert json.loads(new.split(b"\r\n\r\n", 1)[1].split(b"\r\n--B")[0]) == {**doc, "$text": "mail <E>"}


def test_a_boundary_not_set_off_by_crlf_is_malformed():
    """An outside review: Python's email parser splits at `\\n--B`, python-multipart and busboy read on."""
    raw = multipart(b'Content-Disposition: form-data; name="prompt"\r\n\r\nHi.\n--B\r\nX-Note: maria@example.com')
    with pytest.raises(MalformedBody):
        read_body(raw, TYPE)
