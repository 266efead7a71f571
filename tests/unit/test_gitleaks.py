import pytest

from wardgate.scanners.gitleaks import load_rules, prefixed_form
from wardgate.scanners.secrets import BUNDLED_RULES


@pytest.mark.parametrize(
    ("pattern", "loosened"),
    [
        (
            r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
            r"((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})",
        ),
        (r"""\b(sk-ant-api03-[a-zA-Z0-9_\-]{93}AA)(?:[\x60'"\s;]|\\[nr]|$)""", r"(sk-ant-api03-[a-zA-Z0-9_\-]{93}AA)"),
        (r"""(?i)\b(dor_v1_[a-f0-9]{64})(?:[\x60'"\s;]|\\[nr]|$)""", r"(?i)(dor_v1_[a-f0-9]{64})"),
        (r"ghp_[0-9a-zA-Z]{36}", r"ghp_[0-9a-zA-Z]{36}"),  # no boundary to drop: still a prefixed rule
        (
            r"\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})\b",
            r"((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})",
        ),
    ],
)
def test_a_rule_with_a_distinctive_prefix_loses_its_outer_boundaries(pattern, loosened):
    assert prefixed_form(pattern) == loosened


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)[\w.-]{0,50}?(?:adobe)(?:[ \t\w.-]{0,20})[\s'\"]{0,3}(?:=|:)([a-f0-9]{32})\b",  # found by context
        r"SK[0-9a-fA-F]{32}",  # a two-letter prefix is too common to match glued
        r"\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9]{17,})\b",
        r"\bfoo_[a-z]{10}\b|\bbar[0-9]{4}\b",  # top-level alternatives: left as they are
        r"\b(?:abc|d)_[a-z]{10}\b",  # one alternative has no prefix
        r"\babc?_[a-z]{10}\b",  # an optional letter shortens the prefix
    ],
)
def test_a_rule_without_one_is_left_alone(pattern):
    assert prefixed_form(pattern) is None


def test_only_rules_whose_secret_is_upper_case_read_upper_cased_text():
    rules = {rule.id: rule for rule in load_rules(BUNDLED_RULES).rules}
    assert rules["aws-access-token"].upper_case
    assert not rules["github-pat"].upper_case  # `[0-9a-zA-Z]`: either case already
    assert not rules["sendgrid-api-token"].upper_case  # `(?i)`
    assert not rules["generic-api-key"].upper_case  # not prefixed at all
