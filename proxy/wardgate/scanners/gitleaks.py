"""Load a gitleaks-format rule file (TOML) into compiled, prompt-applicable rules.

gitleaks rules are Go RE2 expressions; `google-re2` matches them with the same semantics and in
linear time, so a hostile prompt cannot make a rule backtrack. Path-based parts of the format
(`path`, `paths`) do not apply to prompts and are ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import re2

from wardgate.errors import ConfigError

__all__ = ["Allowlist", "Rule", "RuleSet", "load_rules"]

Target = Literal["secret", "match", "line"]


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


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSet:
    rules: Sequence[Rule]
    allowlist: Allowlist


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
        rules.append(
            Rule(
                id=rule_id,
                regex=_compile(spec["regex"], rule_id),
                secret_group=int(spec.get("secretGroup", 0)),
                entropy=spec.get("entropy"),
                keywords=[keyword.lower() for keyword in spec.get("keywords", [])],
                allowlists=[a for a in allowlists if a is not None],
            )
        )
    if not rules:
        raise ConfigError(f"secret rule file {path} defines no rules")
    glob = _allowlist(document.get("allowlist", {}), "allowlist") or Allowlist((), (), "secret")
    return RuleSet(rules, glob)
