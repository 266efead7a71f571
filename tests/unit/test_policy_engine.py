import asyncio

import pytest

from tests.conftest import POLICIES, write_policy
from wardgate.errors import PolicyError
from wardgate.policy import EmbeddedEngine
from wardgate.policy.bundle import load_bundle

CLEAN = {
    "phase": "request",
    "identity": {"tenant": "default", "authenticated": True},
    "request": {"model": "gpt-4o-mini", "parsed": True},
    "findings": [],
}


def engine_for(directory, timeout=1.0) -> EmbeddedEngine:
    engine = EmbeddedEngine(directory, timeout=timeout)
    engine.load()
    return engine


class TestEmbeddedEngine:
    async def test_default_bundle_allows_clean_request(self):
        decision = await engine_for(POLICIES).evaluate(CLEAN)
        assert (decision.allow, decision.source) == (True, "policy")

    async def test_secret_finding_is_denied_with_reason(self):
        finding = {"kind": "secret:aws-access-token", "family": "secret", "score": 1.0}
        decision = await engine_for(POLICIES).evaluate({**CLEAN, "findings": [finding]})
        assert (decision.allow, decision.status, decision.code) == (False, 403, "secret_detected")

    async def test_undefined_decision_is_an_error(self, tmp_path):
        engine = engine_for(write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true} if input.never\n'))
        with pytest.raises(PolicyError, match="undefined"):
            await engine.evaluate(CLEAN)

    async def test_runtime_conflict_is_an_error(self, tmp_path):
        rego = (
            'package wardgate\n\ndecision := {"allow": true} if input.phase\n\n'
            'decision := {"allow": false} if input.phase\n'
        )
        with pytest.raises(PolicyError, match="eval_conflict_error"):
            await engine_for(write_policy(tmp_path, rego)).evaluate(CLEAN)

    async def test_slow_policy_times_out(self, tmp_path):
        rego = (
            "package wardgate\n\n"
            'decision := {"allow": count([x | some x in numbers.range(1, 1000000); x % 7 == 0]) > 0}\n'
        )
        engine = engine_for(write_policy(tmp_path, rego), timeout=0.05)
        with pytest.raises(PolicyError, match="timed out after 50 ms"):
            await engine.evaluate(CLEAN)

    async def test_a_decision_running_past_its_budget_does_not_hold_the_next_one(self, tmp_path):
        # Slow only for an input that asks for it: the policy work keeps running in Go after its timeout.
        rego = (
            "package wardgate\n\nimport rego.v1\n\n"
            'default decision := {"allow": true}\n\n'
            'decision := {"allow": count([x | some x in numbers.range(1, 3000000); x % 7 == 0]) > 0} if input.slow\n'
        )
        engine = engine_for(write_policy(tmp_path, rego), timeout=0.2)
        with pytest.raises(PolicyError, match="timed out"):
            await engine.evaluate({**CLEAN, "slow": True})
        decision = await engine.evaluate(CLEAN)  # one evaluator is still busy with the slow one
        assert decision.allow

    async def test_malformed_decision_is_an_error(self, tmp_path):
        engine = engine_for(write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": "yes"}\n'))
        with pytest.raises(PolicyError, match="malformed decision"):
            await engine.evaluate(CLEAN)

    def test_bundle_that_does_not_compile_fails_load(self, tmp_path):
        engine = EmbeddedEngine(write_policy(tmp_path, "package wardgate\n\ndecision := x if { y := 1 }\n"), timeout=1)
        with pytest.raises(PolicyError, match="rego_unsafe_var_error"):
            engine.load()

    async def test_reload_swaps_bundle_and_keeps_old_one_on_error(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n')
        engine = engine_for(tmp_path)
        old = engine.revision
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": false, "reasons": ["closed"]}\n')
        assert await engine.reload()
        assert old != engine.revision
        assert (await engine.evaluate(CLEAN)).reasons[0].message == "closed"
        serving = engine.revision
        (tmp_path / "wardgate" / "decision.rego").write_text("package wardgate\n\ndecision := {")
        assert not await engine.reload()
        assert serving == engine.revision
        assert not (await engine.evaluate(CLEAN)).allow

    async def test_evaluations_run_concurrently_off_the_loop(self):
        engine = engine_for(POLICIES)
        decisions = await asyncio.gather(*(engine.evaluate(CLEAN) for _ in range(50)))
        assert all(d.allow for d in decisions)


class TestBundle:
    def test_revision_ignores_tests_and_changes_with_data(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n', {"a": 1})
        first = load_bundle(tmp_path).revision
        (tmp_path / "wardgate" / "x_test.rego").write_text("package wardgate_test\n\ntest_a if true\n")
        assert first == load_bundle(tmp_path).revision
        (tmp_path / "data.json").write_text('{"a": 2}')
        assert first != load_bundle(tmp_path).revision

    async def test_a_file_that_is_not_utf8_fails_the_reload_and_the_bundle_stays(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n', {})
        engine = EmbeddedEngine(tmp_path, timeout=1.0)
        engine.load()
        served = engine.revision
        (tmp_path / "junk.rego").write_bytes(b"\xff\xfe package x")
        with pytest.raises(PolicyError, match="cannot read the policy bundle"):
            load_bundle(tmp_path)
        assert await engine.reload() is False
        assert engine.revision == served

    def test_nested_data_json_lands_at_its_directory_path(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n', {"top": 1})
        (tmp_path / "tenants" / "acme").mkdir(parents=True)
        (tmp_path / "tenants" / "acme" / "data.json").write_text('{"models": ["x"]}')
        assert load_bundle(tmp_path).data == {"top": 1, "tenants": {"acme": {"models": ["x"]}}}

    def test_invalid_data_json_is_reported(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n')
        (tmp_path / "data.json").write_text("{nope")
        with pytest.raises(PolicyError, match=r"data\.json: not valid JSON"):
            load_bundle(tmp_path)


class TestStrictDecisions:
    """A misspelt key is an engine error (fail-closed), never an allow that silently does nothing."""

    @pytest.mark.parametrize(
        "decision",
        [
            {"allow": True, "maks": ["pii"]},
            {"allow": True, "tools": {"deni": ["shell"]}},
            {"allow": "true"},
            # Headers from request fields (a model named "x\r\nSet-Cookie: …"), names no client can read, framing.
            {"allow": False, "headers": {"x-denied-model": "x\r\nSet-Cookie: session=attacker"}},
            {"allow": False, "headers": {"bad name": "v"}},
            {"allow": False, "headers": {"Content-Length": "0"}},
            # A deny whose status carries no body would lose its error.
            {"allow": False, "status": 204},
            {"allow": False, "status": 304},
        ],
    )
    def test_unknown_keys_and_loose_types_are_refused(self, decision):
        from wardgate.errors import PolicyError
        from wardgate.policy.decision import parse_decision

        with pytest.raises(PolicyError, match="malformed decision"):
            parse_decision(decision)

    def test_redact_kinds_are_masked_and_never_restorable(self):
        from wardgate.policy.decision import parse_decision

        decision = parse_decision({"allow": True, "redact": ["secret"]})
        assert decision.masks("secret:aws-access-token")
        assert decision.redacts("secret:aws-access-token")
        assert not decision.masks("pii:PERSON")
