"""Mapping a function over conformance tasks: in this process, a local process pool, or a Dask cluster.

Whatever the executor, ``map_ordered`` returns the results in task order (the report is deterministic)
and reports progress as results arrive.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import IO, Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Progress:
    """A progress bar on a terminal (stderr), plain periodic lines otherwise; silent when disabled."""

    def __init__(self, total: int, stream: IO[str] | None = None, *, enabled: bool = True, every_s: float = 10.0):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.done = 0
        self.started = time.monotonic()
        self._last_line: float | None = None  # the first result always prints a line

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"conform: {self.done}/{self.total} cases ({pct:.0f}%) {elapsed:.0f}s"

    def bar(self, width: int = 30) -> str:
        filled = int(width * self.done / self.total) if self.total else width
        return f"\r[{'#' * filled}{'.' * (width - filled)}] {self.line()}"

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.tty:
            self.stream.write(self.bar())
            self.stream.flush()
            return
        now = time.monotonic()
        if self.done == self.total or self._last_line is None or now - self._last_line >= self.every_s:
            self._last_line = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _worker_init() -> None:
    """In each pool process: close the backends it started (servers, batch processes) when it exits."""
    from multiprocessing import util

    from dcmharness.interface import registry
    from dcmharness.interface.input_warnings import quiet_terminal
    from dcmharness.interface.orphans import exit_with_parent

    quiet_terminal()  # a spawned worker does not inherit the parent's warning filters
    util.Finalize(None, registry.close_all, exitpriority=10)
    exit_with_parent()  # a parent killed outright leaves no worker (nor its Orthanc) behind


def _close_backends() -> None:
    from dcmharness.interface import registry

    registry.close_all()


def _serial(fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
    for i, task in enumerate(tasks):
        yield i, fn(task)


def submission_order(n: int, cost: Callable[[int], float] | None) -> list[int]:
    """Task indices in the order to submit them: the most costly first when a cost is known (longest
    processing time first: no big file left to run alone at the end), else in order. Pure."""
    if cost is None:
        return list(range(n))
    return sorted(range(n), key=lambda i: (-cost(i), i))


def _pool(
    fn: Callable[[T], R], tasks: Sequence[T], jobs: int, cost: Callable[[T], float] | None = None
) -> Iterator[tuple[int, R]]:
    order = submission_order(len(tasks), None if cost is None else lambda i: cost(tasks[i]))
    with ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init) as pool:
        futures = {pool.submit(fn, tasks[i]): i for i in order}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _dask(fn: Callable[[T], R], tasks: Sequence[T], scheduler: Any) -> Iterator[tuple[int, R]]:
    """``scheduler``: an address (``tcp://host:8786``) or an existing ``distributed.Client``."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler  # type: ignore[no-untyped-call]
    try:
        futures = client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut, result in dask_completed(futures, with_results=True):  # type: ignore[no-untyped-call]
            yield index[fut.key], result
        with contextlib.suppress(Exception):  # stop the servers/batch processes the workers started
            client.run(_close_backends)
    finally:
        if own:
            client.close()


def executor_name(jobs: int, scheduler: Any) -> str:
    if scheduler is not None:
        return f"dask ({scheduler if isinstance(scheduler, str) else 'client'})"
    return "serial" if jobs <= 1 else f"process pool ({jobs})"


def map_ordered(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    jobs: int = 1,
    scheduler: Any = None,
    progress: Progress | None = None,
    weight: Callable[[R], int] | None = None,
    cost: Callable[[T], float] | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]`` run on the chosen executor, in task order.

    ``weight(result)``: how far one result advances the progress (default 1). ``cost(task)``: an estimate of
    a task's work; a process pool starts the costly ones first (the results keep task order).
    """
    if scheduler is not None:
        stream = _dask(fn, tasks, scheduler)
    elif jobs <= 1 or len(tasks) <= 1:
        stream = _serial(fn, tasks)
    else:
        stream = _pool(fn, tasks, jobs, cost)
    results: list[R | None] = [None] * len(tasks)
    try:
        for i, result in stream:
            results[i] = result
            if progress is not None:
                progress.advance(weight(result) if weight is not None else 1)
    finally:
        if progress is not None:
            progress.close()
    return [r for r in results if r is not None]
