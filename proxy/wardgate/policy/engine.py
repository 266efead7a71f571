"""Policy engines: `evaluate(input) -> Decision`, whichever OPA answers.

Every failure (a compile error, a runtime error, an undefined decision, a timeout) surfaces as
`PolicyError`; the pipeline decides whether that fails closed or open.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

from wardgate.errors import PolicyError
from wardgate.policy.bundle import Bundle, load_bundle
from wardgate.policy.decision import Decision, parse_decision

__all__ = ["DECISION_PACKAGE", "DECISION_PATH", "DECISION_RULE", "EmbeddedEngine", "PolicyEngine", "compile_bundle"]

# The one document every engine is asked for: data.wardgate.decision.
DECISION_PACKAGE, DECISION_RULE = "wardgate", "decision"
DECISION_PATH = f"{DECISION_PACKAGE}.{DECISION_RULE}"
logger = logging.getLogger(__name__)
_EVALUATORS = 2  # evaluators and worker threads of the embedded engine


class PolicyEngine(Protocol):
    @property
    def revision(self) -> str: ...

    async def evaluate(self, policy_input: Mapping[str, Any]) -> Decision: ...

    def evaluate_blocking(self, policy_input: Mapping[str, Any]) -> Decision:
        """On the caller's thread: for the stream callable, which mitmproxy runs synchronously."""
        ...

    async def reload(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def compile_bundle(bundle: Bundle) -> OpaEngine:
    """An OPA evaluator holding the bundle's modules and data; compile errors are `PolicyError`s."""
    engine = OpaEngine()
    try:
        for name, source in bundle.modules.items():
            engine.add_policy(name, source)
        engine.add_data(dict(bundle.data))
    except OpaError as exc:
        engine.close()
        raise PolicyError(f"policy bundle {bundle.root} does not compile: {exc.message}") from exc
    return engine


class EmbeddedEngine:
    """OPA's own evaluator in-process (opa-golib-python-bindings), evaluated on worker threads.

    The Go side releases the GIL, so a decision never blocks the proxy's event loop. Each evaluator decides one
    input at a time, so there are as many as worker threads: one slow decision (a policy that runs past its budget
    keeps running in Go) holds one of them, and the others go on deciding; with one evaluator it held every request
    after it to a 503 (an outside review). A reload builds new evaluators and swaps them in; a bundle that fails
    to compile leaves the old ones serving, as OPA does.
    """

    def __init__(self, root: Path, *, timeout: float) -> None:
        self._root = root
        self._timeout = timeout
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=_EVALUATORS, thread_name_prefix="wardgate-opa"
        )
        self._pool: queue.SimpleQueue[OpaEngine] | None = None
        self._bundle: Bundle | None = None

    @property
    def revision(self) -> str:
        return self._bundle.revision if self._bundle else "none"

    def load(self) -> Bundle:
        bundle = load_bundle(self._root)
        pool: queue.SimpleQueue[OpaEngine] = queue.SimpleQueue()
        engines: list[OpaEngine] = []
        try:
            for _ in range(_EVALUATORS):
                engines.append(compile_bundle(bundle))
                # A trivial query makes OPA compile every module now; evaluating the decision itself here would
                # run arbitrary policy work at start-up.
                engines[-1].eval_query("true")
        except (OpaError, PolicyError) as exc:
            for engine in engines:
                engine.close()
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"policy bundle {self._root} does not compile: {exc.message}") from exc
        for engine in engines:
            pool.put(engine)
        # The old evaluators are not closed here: a decision in flight may still hold one; they close when freed.
        self._pool, self._bundle = pool, bundle
        return bundle

    async def reload(self) -> bool:
        try:
            # On a thread of its own: the evaluators' threads may all be held by slow decisions.
            bundle = await asyncio.to_thread(self.load)
        except PolicyError as exc:
            logger.error("policy reload failed, still serving revision %s: %s", self.revision, exc)
            return False
        logger.info("policy bundle loaded: revision %s, %d modules", bundle.revision[:12], len(bundle.modules))
        return True

    async def evaluate(self, policy_input: Mapping[str, Any]) -> Decision:
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._executor, self.evaluate_blocking, policy_input)
        try:
            return await asyncio.wait_for(call, self._timeout)
        except TimeoutError as exc:
            raise PolicyError(f"policy evaluation timed out after {self._timeout * 1000:.0f} ms") from exc

    def evaluate_blocking(self, policy_input: Mapping[str, Any]) -> Decision:
        """Evaluate on this thread (the Go evaluator takes well under a millisecond for the shipped policy)."""
        pool = self._pool
        if pool is None:
            raise PolicyError("no policy bundle is loaded")
        try:
            engine = pool.get(timeout=self._timeout)
        except queue.Empty as exc:
            raise PolicyError(f"every policy evaluator was busy for {self._timeout * 1000:.0f} ms") from exc
        try:
            value = engine.eval_document(DECISION_PATH, policy_input)
        except OpaUndefinedError as exc:
            raise PolicyError(f"data.{DECISION_PATH} is undefined") from exc
        except OpaError as exc:
            raise PolicyError(f"policy evaluation failed: {exc.message}") from exc
        finally:
            pool.put(engine)
        return parse_decision(value)

    async def start(self) -> None:
        """Nothing to open: `load()` already compiled the bundle (at start-up, so errors stop the start)."""

    async def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """`close` for callers without an event loop (the CLI's one-off evaluations, tests)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        pool, self._pool = self._pool, None
        while pool is not None and not pool.empty():
            pool.get_nowait().close()
