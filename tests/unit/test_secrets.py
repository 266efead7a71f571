import base64
import codecs
import textwrap
import time

import pytest

from tests.conftest import AWS_KEY
from wardgate.models import Segment
from wardgate.scanners.secrets import SecretsScanner, fingerprint, shannon_entropy

GITHUB_PAT = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA" + "q8Zr" * 20 + "\n-----END RSA PRIVATE KEY-----"
SLACK = "xoxb-" + "1234567890123-1234567890123-" + "aB3dE5gH7jK9mN1pQ3sT5vX7"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
ANTHROPIC = "sk-ant-api03-" + ("aB3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ3lN5pR7tV9xZ1b" * 3)[:93] + "AA"


@pytest.fixture(scope="module")
def scanner() -> SecretsScanner:
    return SecretsScanner.from_file()


def kinds(scanner: SecretsScanner, text: str) -> list[str]:
    return [finding.kind for finding in scanner.scan_sync([Segment("user", "prompt", text, ("x",))])]


class TestSecretsScanner:
    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            (f"deploy with {AWS_KEY} please", "secret:aws-access-token"),
            (f"token={GITHUB_PAT}", "secret:github-pat"),
            (PRIVATE_KEY, "secret:private-key"),
            (f"slack bot {SLACK}", "secret:slack-bot-token"),
            (f"stripe {STRIPE}", "secret:stripe-access-token"),
            (f"key: {ANTHROPIC} ", "secret:anthropic-api-key"),
        ],
    )
    def test_finds_secret(self, scanner, text, kind):
        assert [kind] == kinds(scanner, text)

    @pytest.mark.parametrize(
        "text",
        [
            "AKIAIOSFODNN7EXAMPLE is the documentation example key",
            "What is the capital of France?",
            "The sha256 of the file is 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "request id 123e4567-e89b-12d3-a456-426614174000",
            "AKIAAAAAAAAAAAAAAAAA",  # right shape, no entropy
        ],
    )
    def test_leaves_benign_text_alone(self, scanner, text):
        assert kinds(scanner, text) == []

    def test_finding_points_at_the_secret_and_never_holds_it(self, scanner):
        text = f"use {AWS_KEY} now"
        (finding,) = scanner.scan_sync(
            [Segment("user", "prompt", "clean", ("a",)), Segment("user", "prompt", text, ("b",))]
        )
        assert (finding.segment, finding.start, finding.end) == (1, 4, 24)
        assert text[finding.start : finding.end] == AWS_KEY
        assert AWS_KEY not in str(finding.to_dict())
        assert fingerprint(AWS_KEY) == finding.fingerprint

    async def test_scan_runs_off_the_event_loop(self, scanner):
        findings = await scanner.scan([Segment("user", "prompt", AWS_KEY, ("x",))])
        assert [f.kind for f in findings] == ["secret:aws-access-token"]


def test_shannon_entropy():
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == 2.0


def test_custom_rules_with_and_without_keywords(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[[rules]]\nid = 'internal-token'\nregex = '''\\b(itk_[a-z0-9]{12})\\b'''\n\n"
        "[[rules]]\nid = 'vault-token'\nregex = '''\\b(hvs\\.[A-Za-z0-9]{20})\\b'''\nkeywords = ['hvs.']\n"
    )
    scanner = SecretsScanner.from_file(rules)
    assert kinds(scanner, "token itk_a1b2c3d4e5f6 here") == ["secret:internal-token"]
    assert kinds(scanner, "VAULT_TOKEN=hvs.Ab3dE5gH7jK9mN1pQ3sT") == ["secret:vault-token"]
    assert kinds(scanner, "nothing to see") == []


def test_invalid_rule_file_is_a_config_error(tmp_path):
    from wardgate.errors import ConfigError

    rules = tmp_path / "rules.toml"
    rules.write_text("[[rules]]\nid = 'bad'\nregex = '''(unclosed'''\n")
    with pytest.raises(ConfigError, match="bad: regex does not compile"):
        SecretsScanner.from_file(rules)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ENTITIES = "".join(f"&#{ord(c)};" if i % 2 else f"&#x{ord(c):X};" for i, c in enumerate(AWS_KEY))
# (row id, how the key is written): each is found, and its finding covers the written form (a glued key: the key).
EVASIONS = {
    "glued suffix": AWS_KEY + "_1",
    "glued digit before": "9" + AWS_KEY,
    "glued word before": "key" + AWS_KEY,
    "lower-cased": AWS_KEY.lower(),
    "spaced": " ".join(AWS_KEY),
    "dotted": ".".join(AWS_KEY),
    "reversed": AWS_KEY[::-1],
    "reversed and lower-cased": AWS_KEY[::-1].lower(),
    "rot13": codecs.encode(AWS_KEY, "rot13"),
    "html entities": ENTITIES,
    "base32": base64.b32encode(AWS_KEY.encode()).decode(),
    "base64 of base64": b64(b64(AWS_KEY)),
    "base64 three times": b64(b64(b64(AWS_KEY))),
    "full-width, lower-cased": "".join(chr(ord(c) + 0xFEE0) for c in AWS_KEY.lower()),
    "github token reversed": GITHUB_PAT[::-1],
    "soft hyphen entity inside": AWS_KEY[:10] + "&shy;" + AWS_KEY[10:],
    "zero-width entity inside": AWS_KEY[:10] + "&#8203;" + AWS_KEY[10:],
    "variation selectors between": "\ufe0f".join(AWS_KEY),
    "in groups of four": " ".join(AWS_KEY[i : i + 4] for i in range(0, 20, 4)),
    "dashes between": "-".join(AWS_KEY),
    "base64 of UTF-16": base64.b64encode(AWS_KEY.encode("utf-16-le")).decode(),
}


@pytest.mark.parametrize("written", list(EVASIONS.values()), ids=list(EVASIONS))
def test_a_respelled_key_is_found_where_it_is_written(scanner, written):
    text = f"please use {written} for the deploy"
    (finding,) = scanner.scan_sync([Segment("user", "prompt", text, ("x",))])
    assert finding.kind in ("secret:aws-access-token", "secret:github-pat")
    assert text[finding.start : finding.end] == (AWS_KEY if AWS_KEY in written else written)


@pytest.mark.parametrize(
    "text",
    [
        "asiapacificregionsales is our team alias",  # an upper-case alphabet, but a word: no digit
        "Visit https://asiapacificregionsales.example.com today",
        "AKIAIOSFODNN7EXAMPLE".lower() + " is the documentation example, lower-cased",
        "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 16).decode(),
        "i t  i s  a  s p a c e d  s e n t e n c e  o f  l e t t e r s",
        "Tom &amp; Jerry &lt;3 &#169; 2024",
        "RFC 2616 SECTION 14 AND RFC 7231 SECTION 7 COVER THE DATE HEADER",  # upper-case groups, no key in them
        "well-known state-of-the-art up-to-date end-to-end",
        "AKIA" + "B" * 15 + "QXYZ" * 12,  # the prefix deep inside a long run: a chance substring
    ],
)
def test_respelling_leaves_benign_text_alone(scanner, text):
    assert kinds(scanner, text) == []


def test_a_key_in_a_blob_is_not_glued_but_its_own_boundaries_still_count(scanner):
    blob = base64.b64encode(bytes(range(200))).decode()
    assert kinds(scanner, blob + AWS_KEY + blob) == []  # deep inside one run
    assert kinds(scanner, blob + " " + AWS_KEY + " " + blob) == ["secret:aws-access-token"]


def segments(*texts: str, roles: tuple[str, ...] = ()) -> list[Segment]:
    return [Segment(roles[i] if roles else "user", "prompt", t, ("m", i)) for i, t in enumerate(texts)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("texts", "roles"),
    [
        (("key one " + AWS_KEY[:6], AWS_KEY[6:13], AWS_KEY[13:] + " end"), ()),
        (tuple(AWS_KEY[i : i + 4] for i in range(0, 20, 4)), ()),  # five pieces
        (("key " + AWS_KEY[:10], "sure, go on", AWS_KEY[10:] + " end"), ("user", "assistant", "user")),
        (("x " * 1000 + AWS_KEY[:8], "ok", AWS_KEY[8:] + " y" * 1000), ("user", "assistant", "user")),
    ],
    ids=["three pieces", "five pieces", "a benign answer between", "ends of long messages"],
)
def test_a_key_split_over_several_messages_is_marked_in_every_piece(scanner, texts, roles):
    found = scanner.scan_sync(segments(*texts, roles=roles))
    pieces = "".join(texts[f.segment][f.start : f.end] for f in sorted(found, key=lambda f: f.segment))
    assert pieces == AWS_KEY
    assert {f.fingerprint for f in found} == {fingerprint(AWS_KEY)}


def test_a_key_split_over_one_field_of_many_json_lines_is_joined(scanner):
    """Ollama's NDJSON stream: each line's other fields stood between the pieces of the joined text."""
    pieces = ["The key is ", *(AWS_KEY[i : i + 4] for i in range(0, 20, 4))]
    lines = []
    for line, piece in enumerate(pieces):
        lines += [Segment("unknown", "document", "llama3", (line, "model")),
                  Segment("unknown", "document", piece, (line, "message", "content"))]  # fmt: skip
    found = scanner.scan_sync(lines)
    assert {f.fingerprint for f in found} == {fingerprint(AWS_KEY)}
    assert "".join(lines[f.segment].text[f.start : f.end] for f in sorted(found, key=lambda f: f.segment)) == AWS_KEY


def test_the_middle_of_a_long_message_is_not_joined(scanner):
    """The documented limit: only each segment's first and last 256 characters are joined with its neighbours."""
    middle = "x" * 300 + " " + AWS_KEY[10:] + " " + "y" * 300
    assert scanner.scan_sync(segments("key " + AWS_KEY[:10], middle)) == []


def test_the_join_is_linear_in_the_number_of_messages(scanner):
    many = segments(*(f"message {i} about the weather" for i in range(2000)))
    started = time.process_time()
    assert scanner.scan_sync(many) == []
    assert time.process_time() - started < 2.0


def test_a_respelled_key_is_found_past_many_decoy_keywords(scanner):
    """Past 16 keyword places the layer's keywords are tested one by one: decoys cannot push a key out of sight."""
    decoys = " ".join(["aika _phg _fh"] * 10)  # 30 keywords in the reversed layer
    text = f"{AWS_KEY[::-1]} {decoys}"
    assert kinds(scanner, text) == ["secret:aws-access-token"]


class TestHistory:
    """A chat resends its history each turn: only new text is read again (the joins across segments always are)."""

    @staticmethod
    def history() -> list[Segment]:
        return [
            Segment("user", "prompt", f"deploy with {AWS_KEY} please", ("messages", 0, "content")),
            Segment("assistant", "prompt", "ok, the key starts " + GITHUB_PAT[:20], ("messages", 1, "content")),
            Segment("user", "prompt", GITHUB_PAT[20:] + " is the rest", ("messages", 2, "content")),
        ]

    @staticmethod
    def counted(scanner: SecretsScanner, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The texts read from now on."""
        texts: list[str] = []
        scan_text = scanner._scan_text
        monkeypatch.setattr(scanner, "_scan_text", lambda index, text: texts.append(text) or scan_text(index, text))
        return texts

    async def test_history_is_not_read_again_and_finds_the_same(self, monkeypatch):
        scanner = SecretsScanner.from_file()
        first = await scanner.scan(self.history())
        assert [(f.kind, f.segment) for f in first] == [
            ("secret:aws-access-token", 0), ("secret:github-pat", 1), ("secret:github-pat", 2)
        ]  # fmt: skip

        texts = self.counted(scanner, monkeypatch)
        turn = Segment("user", "prompt", f"and {STRIPE} now", ("messages", 3, "content"))
        again = await scanner.scan([*self.history(), turn])
        assert [f for f in again if f.segment < 3] == first
        assert [(f.kind, f.segment) for f in again if f.segment == 3] == [("secret:stripe-access-token", 3)]
        assert texts == [turn.text]

    async def test_stream_windows_are_not_remembered(self, monkeypatch):
        scanner = SecretsScanner.from_file()
        scanner.scan_sync(self.history())
        texts = self.counted(scanner, monkeypatch)
        await scanner.scan(self.history())
        assert texts == [segment.text for segment in self.history()]


def test_base64_wrapped_into_lines_is_decoded_whole(scanner):
    """`base64` and PEM wrap at 76 and 64 characters: a key falls across a line break at most offsets."""
    for offset in range(0, 60, 7):
        env = "x" * offset + f"\nAWS_ACCESS_KEY_ID={AWS_KEY}\nREGION=eu-west-1\n" + "LOG=debug\n" * 5
        wrapped = "\n".join(textwrap.wrap(base64.b64encode(env.encode()).decode(), 76))
        assert kinds(scanner, wrapped) == ["secret:aws-access-token"], offset
