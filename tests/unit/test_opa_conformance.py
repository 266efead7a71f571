"""OPA's own conformance cases, through the embedded engine adapter (`compile_bundle`)."""

import collections

import pytest

from tests.opa_conformance import CASES, iter_cases, run_case


@pytest.mark.skipif(not CASES.is_dir(), reason="shared/data/opa-conformance is not beside the checkout")
def test_conformance_pass_rate(capsys):
    outcomes = [run_case(case) for case in iter_cases()]
    counts = collections.Counter(outcome.status for outcome in outcomes)
    rate = counts["pass"] / (counts["pass"] + counts["fail"])
    with capsys.disabled():
        print(f"\nOPA conformance: {counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip ({rate:.2%})")
        for outcome in outcomes:
            if outcome.status != "pass":
                print(f"  {outcome.status}: {outcome.note}: {outcome.detail[:120]}")
    assert counts["pass"] > 2000
    assert rate >= 0.98
