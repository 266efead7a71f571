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


class DynamicBatcher:
    def __init__(
        self, run: Callable[[list[str]], list[float]], *, max_items: int = 64, max_wait: float = 0.002
    ) -> None:
        self._run = run
        self._max_items, self._max_wait = max_items, max_wait
        self._queue: asyncio.Queue[tuple[Sequence[str], asyncio.Future[list[float]]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="wardgate-infer")
        self.batches_run = 0

    async def score(self, texts: Sequence[str]) -> list[float]:
        """This caller's texts, scored in whatever batch they join; results in the caller's order."""
        if not texts:
            return []
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._serve(self._queue), name="wardgate-batcher")
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _serve(self, queue: asyncio.Queue[tuple[Sequence[str], asyncio.Future[list[float]]]]) -> None:
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
            texts = [text for item_texts, _ in pending for text in item_texts]
            try:
                scores = await loop.run_in_executor(self._executor, self._run, texts)
            except Exception as exc:  # handed to every caller in this batch; the loop keeps serving
                for _, future in pending:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches_run += 1
            offset = 0
            for item_texts, future in pending:
                if not future.done():
                    future.set_result(scores[offset : offset + len(item_texts)])
                offset += len(item_texts)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
