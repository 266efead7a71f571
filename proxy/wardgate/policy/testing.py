"""`wardgate policy test`: run the bundle's `test_*` rules on the embedded engine, like `opa test`."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

from wardgate.policy.bundle import Bundle, load_bundle
from wardgate.policy.engine import compile_bundle
from wardgate.policy.roots import PACKAGE

__all__ = ["Coverage", "Outcome", "TestResult", "discover_tests", "run_tests"]

Outcome = Literal["pass", "fail", "error", "skip"]

# A test is a rule whose head starts a line: `test_name if {`, `test_name {`, `test_name := ...`.
_TEST_RULE = re.compile(r"^(test_\w+|todo_test_\w+)\b", re.MULTILINE)


@dataclasses.dataclass(frozen=True, slots=True)
class TestResult:
    file: str
    package: str
    name: str
    outcome: Outcome
    detail: str
    seconds: float


def discover_tests(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """(file, package, rule) for each distinct test rule, in file order."""
    for file, source in bundle.modules.items():
        if not file.endswith("_test.rego"):
            continue
        package = PACKAGE.search(source)
        if package is None:
            continue
        seen: set[str] = set()
        for match in _TEST_RULE.finditer(source):
            if match.group(1) not in seen:
                seen.add(match.group(1))
                yield file, package.group(1), match.group(1)


def _run_one(engine: OpaEngine, file: str, package: str, name: str, coverage: Coverage | None) -> TestResult:
    if name.startswith("todo_"):
        return TestResult(file, package, name, "skip", "", 0.0)
    started = time.perf_counter()
    outcome: Outcome
    try:
        value = engine.eval_document(f"{package}.{name}", coverage=coverage is not None)
        if coverage is not None:
            coverage.add(engine.last_coverage or {})
    except OpaUndefinedError:
        outcome, detail = "fail", "undefined"
    except OpaError as exc:
        outcome, detail = "error", exc.message
    else:
        # A partial rule (`test_x[note]`) hides failing cases by leaving them out: only `true` passes.
        outcome, detail = (
            ("pass", "") if value is True else ("fail", f"= {value!r} (tests must be `true`; use `every` for tables)")
        )
    return TestResult(file, package, name, outcome, detail, time.perf_counter() - started)


class Coverage:
    """Lines of policy (not test) modules evaluated by at least one test, as `opa test --coverage` counts them."""

    def __init__(self) -> None:
        self.covered: dict[str, set[int]] = {}
        self.not_covered: dict[str, set[int]] = {}

    def add(self, report: dict[str, Any]) -> None:
        for file, spans in (report.get("files") or {}).items():
            if file.endswith("_test.rego"):
                continue
            for kind, target in (("covered", self.covered), ("not_covered", self.not_covered)):
                lines = target.setdefault(file, set())
                for span in spans.get(kind) or []:
                    lines.update(range(span["start"]["row"], span["end"]["row"] + 1))

    def per_file(self) -> dict[str, float]:
        result = {}
        for file in sorted({*self.covered, *self.not_covered}):
            covered = self.covered.get(file, set())
            missed = self.not_covered.get(file, set()) - covered
            total = len(covered) + len(missed)
            result[file] = round(100 * len(covered) / total, 1) if total else 100.0
        return result


def run_tests(root: Path, coverage: Coverage | None = None) -> list[TestResult]:
    """Raises `PolicyError` if the bundle (with its tests) does not load or compile."""
    bundle = load_bundle(root, include_tests=True)
    engine = compile_bundle(bundle)
    try:
        return [_run_one(engine, *test, coverage) for test in discover_tests(bundle)]
    finally:
        engine.close()
