"""Dynamic batching across concurrent requests: gather for up to `max_wait` or `max_items`, run once, fan out.

One batch runs at a time on a worker thread (ONNX Runtime releases the GIL and spreads a batch over the cores),
so concurrent flows share forward passes instead of queueing single-item ones, and the event loop never waits
on inference.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Sequence

__all__ = ["DynamicBatcher"]


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class DynamicBatcher[R]:
    """`run` maps a list of texts to one result each (a score, a list of entities)."""

    def __init__(self, run: Callable[[list[str]], list[R]], *, max_items: int = 64, max_wait: float = 0.002) -> None:
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
            # A caller that is gone (its request refused, timed out or disconnected) has cancelled its future:
            # its texts are not run, and a long batch stops between slices once nobody waits for it.
            pending = [(texts, future) for texts, future in pending if not future.done()]
            texts = [text for item_texts, _ in pending for text in item_texts]
            scores: list[R] = []
            try:
                for start in range(0, len(texts), self._max_items):
                    if all(future.done() for _, future in pending):
                        break
                    batch = texts[start : start + self._max_items]
                    scores += await loop.run_in_executor(self._executor, self._run, batch)
                    self.batches_run += 1
            except Exception as exc:  # handed to every caller in this batch; the loop keeps serving
                for _, future in pending:
                    if not future.done():
                        future.set_exception(exc)
                continue
            offset = 0
            for item_texts, future in pending:
                if not future.done():
                    future.set_result(scores[offset : offset + len(item_texts)])
                offset += len(item_texts)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
