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
