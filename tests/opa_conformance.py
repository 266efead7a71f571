"""Run OPA's own conformance cases (shared/data/opa-conformance) through Wardgate's embedded engine adapter."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opa_bindings import OpaEngine, OpaError

from wardgate.errors import PolicyError
from wardgate.policy.bundle import Bundle
from wardgate.policy.engine import compile_bundle

CASES = Path(__file__).resolve().parents[2] / "shared" / "data" / "opa-conformance" / "v1"


@dataclasses.dataclass(frozen=True)
class Outcome:
    note: str
    status: str  # pass | fail | skip
    detail: str = ""


def iter_cases() -> Iterator[dict[str, Any]]:
    for path in sorted(CASES.rglob("*.json")):
        yield from json.loads(path.read_text())["cases"]


def _numbers_as_json(value: Any) -> Any:
    # The bridge hands back 3.0 where OPA's JSON says 3: the same Rego number.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_numbers_as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _numbers_as_json(item) for key, item in value.items()}
    return value


def _canonical(rows: list[dict[str, Any]], sort: bool) -> list[str]:
    dumped = [json.dumps(_numbers_as_json(row), sort_keys=True) for row in rows]
    return sorted(dumped) if sort else dumped


def run_case(case: dict[str, Any]) -> Outcome:
    note = case["note"]
    if case.get("ignore"):
        return Outcome(note, "skip", "marked ignore by the suite")
    modules = {f"test-{i}.rego": source for i, source in enumerate(case.get("modules") or [])}
    bundle = Bundle(Path("."), modules, case.get("data") or {}, "conformance")
    try:
        engine = compile_bundle(bundle) if modules else OpaEngine()
    except PolicyError as exc:
        return _expect_error(case, str(exc))
    try:
        try:
            policy_input = case.get("input")
            if "input_term" in case:  # a Rego term: let OPA itself turn it into JSON
                policy_input = engine.eval_query(f"__input__ := {case['input_term']}")[0]["__input__"]
            rows = engine.eval_query(case["query"], policy_input)
        except OpaError as exc:
            return _expect_error(case, f"{exc.code}: {exc.message}")
        if "want_result" not in case:
            return Outcome(note, "fail", f"expected an error, got {rows!r}")
        want = case["want_result"] or []
        sort = bool(case.get("sort_bindings"))
        if _canonical(rows, sort) == _canonical(want, sort):
            return Outcome(note, "pass")
        return Outcome(note, "fail", f"got {rows!r}, want {want!r}")
    finally:
        engine.close()


def _expect_error(case: dict[str, Any], message: str) -> Outcome:
    code = case.get("want_error_code")
    text = case.get("want_error")
    builtin_error = "eval_builtin_error" in message or "eval_type_error" in message
    if code is None and text is None:
        if builtin_error and not case.get("strict_error"):
            # The case expects OPA's lenient default (undefined); Wardgate evaluates with strict builtin errors.
            return Outcome(case["note"], "skip", "expects non-strict builtin errors")
        return Outcome(case["note"], "fail", f"unexpected error: {message}")
    if (code and code in message) or (text and text in message) or (code and not text):
        return Outcome(case["note"], "pass")
    return Outcome(case["note"], "fail", f"error {message!r}, want {code or ''} {text or ''}")
