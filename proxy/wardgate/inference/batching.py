"""Dynamic batching across concurrent requests: gather for up to `max_wait` or `max_items`, run once, fan out.

One batch runs at a time on a worker thread (ONNX Runtime releases the GIL and spreads a batch over the cores),
so concurrent flows share forward passes instead of queueing single-item ones, and the event loop never waits
on inference.

No work outlives its caller by more than one forward pass: a caller that is gone (its request refused, timed out or
disconnected) has cancelled its future, so its queued texts are never run, and `run` is told which texts are still
wanted, which a model checks between its forward passes over a long text's windows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from wardgate.inference.work import SCAN_WORK

__all__ = ["DynamicBatcher", "Wanted"]

# Whether the text at this index of a `run` call still has a caller waiting for it (read between forward passes).
Wanted = Callable[[int], bool]


class _Run[R](Protocol):
    def __call__(self, texts: Sequence[str], wanted: Wanted | None = None) -> list[R]: ...


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _forget(gone: set[int], caller: int, _: object) -> None:
    gone.add(caller)


def _still_wanted(owners: list[int], gone: set[int], index: int) -> bool:
    return owners[index] not in gone


class DynamicBatcher[R]:
    """`run` maps a list of texts to one result each (a score, a list of entities); what it returns for a text
    that is no longer wanted is never read."""

    def __init__(self, run: _Run[R], *, max_items: int = 64, max_wait: float = 0.002) -> None:
        self._run = run
        self._max_items, self._max_wait = max_items, max_wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Sequence[str], asyncio.Future[list[R]]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="wardgate-infer")
        self.batches_run = 0

    async def score(self, texts: Sequence[str]) -> list[R]:
        """This caller's texts, run in whatever batch they join; results in the caller's order."""
        if not texts:
            return []
        queue = self.bind()
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        await queue.put((texts, future))
        return await future

    def bind(self) -> asyncio.Queue[tuple[Sequence[str], asyncio.Future[list[R]]]]:
        """Attach to the running loop (once): its batches are the ones `run_blocking` joins from other threads."""
        if self._queue is None:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            self._task = self._loop.create_task(self._serve(self._queue), name="wardgate-batcher")
        return self._queue

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether `score` called on `loop` joins batches that run (bound to another loop, it never would)."""
        return self._loop is loop

    def run_blocking(self, texts: Sequence[str]) -> list[R]:
        """For code running on a worker thread (inside a library call): join the bound loop's batches and wait.

        Unbound (a CLI, a benchmark) or called on the loop's own thread, it runs the texts directly.
        """
        loop = self._loop
        if loop is None or not loop.is_running() or _loop_of_this_thread() is loop:
            return self._run(list(texts))
        return asyncio.run_coroutine_threadsafe(self.score(texts), loop).result()

    async def _serve(self, queue: asyncio.Queue[tuple[Sequence[str], asyncio.Future[list[R]]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pending = [await queue.get()]
            size = len(pending[0][0])
            deadline = loop.time() + self._max_wait
            while size < self._max_items:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    pending.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
                size += len(pending[-1][0])
            await self._run_batch([(texts, future) for texts, future in pending if not future.done()])

    async def _run_batch(self, pending: list[tuple[Sequence[str], asyncio.Future[list[R]]]]) -> None:
        """Run the callers' texts in slices of `max_items`, each caller's results handed over in its order."""
        loop = asyncio.get_running_loop()
        gone: set[int] = set()  # callers whose future is done (cancelled): their texts are skipped from now on
        for caller, (_, future) in enumerate(pending):
            future.add_done_callback(functools.partial(_forget, gone, caller))
        items = [(caller, text) for caller, (texts, _) in enumerate(pending) for text in texts]
        results: list[R | None] = [None] * len(items)
        try:
            for start in range(0, len(items), self._max_items):
                batch = [(i, caller, text) for i, (caller, text) in enumerate(items[start : start + self._max_items],
                                                                              start) if caller not in gone]  # fmt: skip
                if not batch:
                    continue
                wanted = functools.partial(_still_wanted, [caller for _, caller, _ in batch], gone)
                found = await loop.run_in_executor(self._executor, self._counted, [text for *_, text in batch], wanted)
                for (i, _, _), result in zip(batch, found, strict=True):
                    results[i] = result
                self.batches_run += 1
        except Exception as exc:  # handed to every caller in this batch; the loop keeps serving
            for _, future in pending:
                if not future.done():
                    future.set_exception(exc)
            return
        offset = 0
        for texts, future in pending:
            if not future.done():
                # Every text of a caller still waiting was wanted, so run: no None among its results.
                future.set_result(cast("list[R]", results[offset : offset + len(texts)]))
            offset += len(texts)

    def _counted(self, texts: list[str], wanted: Wanted) -> list[R]:
        with SCAN_WORK.unit():
            return self._run(texts, wanted)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
