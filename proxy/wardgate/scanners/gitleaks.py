"""Load a gitleaks-format rule file (TOML) into compiled, prompt-applicable rules.

gitleaks rules are Go RE2 expressions; `google-re2` matches them with the same semantics and in
linear time, so a hostile prompt cannot make a rule backtrack. Path-based parts of the format
(`path`, `paths`) do not apply to prompts and are ignored.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import re2

from wardgate.errors import ConfigError

__all__ = ["Allowlist", "Rule", "RuleSet", "load_rules", "prefixed_form"]

Target = Literal["secret", "match", "line"]

# A secret that starts with a distinctive literal (`AKIA`, `ghp_`, `sk-ant-api03-`): the rule's flags, its leading
# word boundary and capture group, then the literal or a group of literal alternatives.
_HEAD = re.compile(r"^(\(\?[a-z]+\))?(\\b)?(\((?!\?)|)")
_LITERAL = re.compile(r"(?:[A-Za-z0-9_~=-]|\\[-./])+")
_MIN_PREFIX = 3  # AWS's `A3T`, Facebook's `EAA`: the shortest prefixes gitleaks' own rules rely on
# What lets a pattern match lower-case letters: a flag, a class or a shorthand.
_ANY_LOWER = re.compile(r"\(\?[a-z]*i|a-z|\\w|\\S|\[:(?:alnum|alpha|lower):\]|(?<!\\)\.")
# The trailing boundaries gitleaks' rule generators write after a secret.
_TAILS = (r"\b", r"""(?:[\x60'"\s;]|\\[nr]|$)""")


@dataclasses.dataclass(frozen=True, slots=True)
class Allowlist:
    regexes: Sequence[Any]
    stopwords: Sequence[str]
    target: Target

    def allows(self, secret: str, match: str, line: str) -> bool:
        subject = {"secret": secret, "match": match, "line": line}[self.target]
        if any(regex.search(subject) for regex in self.regexes):
            return True
        lowered = secret.lower()
        return any(word in lowered for word in self.stopwords)


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    id: str
    regex: Any
    secret_group: int
    entropy: float | None
    keywords: Sequence[str]
    allowlists: Sequence[Allowlist]
    # The rule without its outer word boundaries when its secret starts with a distinctive literal (`prefixed_form`);
    # None for rules that need context (a `key =` before the value, or no literal at all).
    prefixed: Any | None = None
    upper_case: bool = False  # its secret's letters are upper case only (AWS): worth matching on lower-cased text


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSet:
    rules: Sequence[Rule]
    allowlist: Allowlist


def _top_level(pattern: str) -> list[str]:
    """The pattern split at its top-level `|` (escapes, character classes and groups respected)."""
    parts, depth, start, index, in_class = [], 0, 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    return [*parts, pattern[start:]]


def _group(pattern: str) -> tuple[str, str] | None:
    """(inside, what follows) of the `(?:…)` or `(…)` group that `pattern` starts with, or None."""
    opening = 3 if pattern.startswith("(?:") else 1 if pattern.startswith("(") and pattern[1:2] != "?" else 0
    if not opening:
        return None
    depth, index = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return pattern[opening:index], pattern[index + 1 :]
        index += 1
    return None


def _prefix_chars(pattern: str) -> int:
    """How many literal characters every match of `pattern` starts with (a group of alternatives: its fewest, then
    what follows the group: `(?:sk|rk)_(?:test|live)_` starts with 8)."""
    if (group := _group(pattern)) is not None:
        inside, rest = group
        alternatives = [_prefix_chars(alternative) for alternative in _top_level(inside)]
        whole = all(_LITERAL.fullmatch(alternative) for alternative in _top_level(inside))
        quantified = rest[:1] in ("?", "*", "+", "{")
        return 0 if quantified else min(alternatives) + (_prefix_chars(rest) if whole else 0)
    literal = _LITERAL.match(pattern)
    if literal is None:
        return 0
    chars = len(literal.group(0)) - literal.group(0).count("\\")
    quantified = pattern[literal.end() : literal.end() + 1] in ("?", "*", "+", "{")
    return chars - 1 if quantified else chars


def prefixed_form(pattern: str) -> str | None:
    """`pattern` without its outer word boundaries if its secret starts with a distinctive literal, else None.

    gitleaks' boundaries keep a token from matching inside a longer word, but a key glued to word characters
    (`9AKIA…`, `AKIA…_1`) still works as a key. The literal prefix, the rule's entropy and its allow-lists keep the
    loosened rule from matching ordinary words; rules that find their secret by context are left as they are."""
    if len(_top_level(pattern)) > 1:
        return None
    head = _HEAD.match(pattern)
    assert head is not None  # every part of _HEAD is optional
    flags, group = head.group(1) or "", head.group(3)
    body = pattern[head.end() :]
    if _prefix_chars(body) < _MIN_PREFIX:
        return None
    tail = next((tail for tail in _TAILS if body.endswith(tail)), "")
    return flags + group + body[: len(body) - len(tail)]


def _allowlist(spec: dict[str, Any], where: str) -> Allowlist | None:
    # An AND allowlist with paths can never hold for a prompt, which has no path.
    if spec.get("condition", "OR").upper() == "AND" and (spec.get("paths") or spec.get("path")):
        return None
    if not spec.get("regexes") and not spec.get("stopwords"):
        return None
    return Allowlist(
        regexes=[_compile(pattern, where) for pattern in spec.get("regexes", [])],
        stopwords=[word.lower() for word in spec.get("stopwords", [])],
        target=spec.get("regexTarget", "secret"),
    )


def _compile(pattern: str, where: str) -> Any:
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise ConfigError(f"secret rule {where}: regex does not compile: {exc}") from exc


def load_rules(path: Path) -> RuleSet:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot load secret rules from {path}: {exc}") from exc
    rules = []
    for spec in document.get("rules", []):
        if "regex" not in spec:
            continue
        rule_id = spec.get("id", "unnamed")
        allowlists = [_allowlist(a, rule_id) for a in spec.get("allowlists", [])]
        prefixed = prefixed_form(spec["regex"])
        upper_case = prefixed is not None and "A-Z" in spec["regex"] and not _ANY_LOWER.search(spec["regex"])
        rules.append(
            Rule(
                id=rule_id,
                regex=_compile(spec["regex"], rule_id),
                secret_group=int(spec.get("secretGroup", 0)),
                entropy=spec.get("entropy"),
                keywords=[keyword.lower() for keyword in spec.get("keywords", [])],
                allowlists=[a for a in allowlists if a is not None],
                prefixed=_compile(prefixed, rule_id) if prefixed is not None else None,
                upper_case=upper_case,
            )
        )
    if not rules:
        raise ConfigError(f"secret rule file {path} defines no rules")
    glob = _allowlist(document.get("allowlist", {}), "allowlist") or Allowlist((), (), "secret")
    return RuleSet(rules, glob)
