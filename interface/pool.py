"""Requests on N worker processes (``dcmharness run --jobs N``).

``execute(requests, ctx, jobs)`` yields ``(index, response)`` as each request finishes (``answers.py`` runs
``--jobs 1`` in its own process, without this). ``jobs`` processes are forked once for the whole run; each keeps
its own backend instances for its life (``registry`` caches per process: one Orthanc server, one set of
``dicom-render --batch`` workers per process, not one per request) and closes them when it ends. Requests go to
the workers in order, each given its next chunk when it has finished the last (none waits behind a slow
one); a chunk is one request, or up to ``BATCH_CHUNK`` consecutive requests for a backend that runs many in
one tool process (PixelMed: one JVM per chunk, through ``run_batch``).

Stopping: the workers ignore SIGINT; when this process is interrupted (Ctrl-C reaches the terminal's whole
group), terminated, or its consumer stops early, it sends SIGTERM to each worker still alive (SIGKILL after
``STOP_GRACE`` seconds) and waits for them. A worker unwinds on SIGTERM: its request in flight discards its
temporary files and kills its tool's process group (``api.run``, ``runner``), then it closes its backends
(servers, JVMs, ``--batch`` processes). No child outlives the run. A worker that dies (killed, out of memory)
answers its unfinished requests ``internal_error`` and is replaced.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue
import signal
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dcmharness.adapters.runner import kill_live_tools
from dcmharness.backends.batch import BatchBackend
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, Response
from dcmharness.interface import registry
from dcmharness.interface.api import RunContext, error_response, run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.orphans import exit_with_parent

BATCH_CHUNK = 8
STOP_GRACE = 10.0
_AHEAD = 1  # chunks given to a worker at a time: none waits behind a slow one

Chunk = list[tuple[int, Any]]


def _backend_name(data: Any) -> str | None:
    if isinstance(data, RequestBase):
        return data.backend
    if isinstance(data, dict):
        name = data.get("backend", "python_ref")
        return name if isinstance(name, str) else None
    return None


def _batches(name: str | None) -> bool:
    """Whether ``name``'s backend class runs many requests in one tool process (``execute_batch``)."""
    if name is None:
        return False
    try:
        cls = registry.backend_class(name)
    except Exception:  # an adapter that fails to import answers on its own, in the worker
        return False
    return cls is not None and issubclass(cls, BatchBackend)


def chunks(requests: Iterable[Any]) -> Iterator[Chunk]:
    """Requests in order, grouped: up to ``BATCH_CHUNK`` consecutive ones for the same batching backend."""
    pending: Chunk = []
    pending_name: str | None = None
    for index, data in enumerate(requests):
        name = _backend_name(data)
        if pending and (name != pending_name or len(pending) >= BATCH_CHUNK):
            yield pending
            pending = []
        if _batches(name):
            pending.append((index, data))
            pending_name = name
        else:
            yield [(index, data)]
    if pending:
        yield pending


def run_chunk(chunk: Chunk, ctx: RunContext) -> Iterator[tuple[int, Response]]:
    if len(chunk) == 1:
        index, data = chunk[0]
        yield index, run(data, ctx)
        return
    responses = run_batch([data for _, data in chunk], ctx)
    yield from zip((index for index, _ in chunk), responses, strict=True)


def _stop(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not interrupt the unwinding
    raise SystemExit(128 + signum)


def _worker(wid: int, tasks: Any, results: Any, ctx: RunContext) -> None:
    # One way to stop, SIGTERM from the parent: unwinds the request in flight (temp files discarded, its tool's
    # group killed). Ctrl-C is the parent's to handle: a worker that also got it would meet a second signal
    # while unwinding from the first (Popen.wait waits 0.25 s after a KeyboardInterrupt), and could hang there.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    registry.forget_inherited()
    exit_with_parent()  # a parent killed outright (SIGKILL) leaves no worker or tool behind
    try:
        while True:
            chunk = tasks.get()
            if chunk is None:
                break
            for index, resp in run_chunk(chunk, ctx):
                results.put((wid, index, resp.model_dump_json()))
            results.put((wid, None, None))  # the chunk is done
    except (KeyboardInterrupt, SystemExit):
        results.cancel_join_thread()
    finally:
        registry.close_all()
        kill_live_tools()  # a forked process ends by os._exit: no atexit


@dataclass
class _Slot:
    process: Any
    tasks: Any
    outstanding: list[Chunk] = field(default_factory=list)


def _dead_answers(chunk: Chunk, done: set[int], exitcode: int | None) -> Iterator[tuple[int, Response]]:
    err = HarnessError(ErrorCode.INTERNAL_ERROR, f"the worker process died (exit status {exitcode})")
    for index, data in chunk:
        if index not in done:
            resp = error_response(err)
            resp.id = data.id if isinstance(data, RequestBase) else data.get("id") if isinstance(data, dict) else None
            yield index, resp


class Pool:
    """``jobs`` forked worker processes fed with chunks of requests."""

    def __init__(self, jobs: int, ctx: RunContext) -> None:
        self.jobs = jobs
        self.ctx = ctx
        self.mp = multiprocessing.get_context("fork")
        self.results = self.mp.Queue()
        self.slots: list[_Slot] = []  # started with the first chunk: nothing forked for a run with no request
        self.done: set[int] = set()

    def _start(self, wid: int) -> _Slot:
        tasks = self.mp.Queue()
        process = self.mp.Process(target=_worker, args=(wid, tasks, self.results, self.ctx), daemon=True)
        process.start()
        return _Slot(process, tasks)

    def run(self, requests: Iterable[Any]) -> Iterator[tuple[int, Response]]:
        source = chunks(requests)
        first = next(source, None)
        if first is None:
            return
        self.slots = [self._start(wid) for wid in range(self.jobs)]
        source = itertools.chain([first], source)
        exhausted = False
        while True:
            for slot in self.slots:
                while not exhausted and len(slot.outstanding) < _AHEAD:
                    chunk = next(source, None)
                    if chunk is None:
                        exhausted = True
                        break
                    slot.outstanding.append(chunk)
                    slot.tasks.put(chunk)
            if exhausted and not any(slot.outstanding for slot in self.slots):
                return
            try:
                wid, index, payload = self.results.get(timeout=0.5)
            except queue.Empty:
                yield from self._replace_dead()
                continue
            slot = self.slots[wid]
            if index is None:
                for k in slot.outstanding.pop(0) if slot.outstanding else []:
                    self.done.discard(k[0])
                continue
            self.done.add(index)
            yield index, Response.model_validate_json(payload)

    def _replace_dead(self) -> Iterator[tuple[int, Response]]:
        for wid, slot in enumerate(self.slots):
            if slot.process.is_alive():
                continue
            with contextlib.suppress(queue.Empty):  # what it answered before it died
                while True:
                    owner, index, payload = self.results.get_nowait()
                    if index is not None:
                        self.done.add(index)
                        yield index, Response.model_validate_json(payload)
                    elif self.slots[owner].outstanding:
                        self.slots[owner].outstanding.pop(0)
            for chunk in slot.outstanding:
                yield from _dead_answers(chunk, self.done, slot.process.exitcode)
            slot.tasks.cancel_join_thread()
            self.slots[wid] = self._start(wid)

    def close(self) -> None:
        """Let every worker finish and close its backends; they are stopped if they do not."""
        for slot in self.slots:
            with contextlib.suppress(Exception):
                slot.tasks.put(None)
        self._wait(STOP_GRACE)

    def stop(self) -> None:
        """SIGTERM every worker still alive (their requests discard temp files, tools killed), then reap."""
        for slot in self.slots:
            slot.tasks.cancel_join_thread()
            if slot.process.is_alive() and slot.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.process.pid, signal.SIGTERM)
        self.results.cancel_join_thread()
        self._wait(STOP_GRACE)

    def _wait(self, grace: float) -> None:
        for slot in self.slots:
            slot.process.join(grace)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()


def execute(requests: Iterable[Any], ctx: RunContext, jobs: int = 1) -> Generator[tuple[int, Response], None, None]:
    """``(index, response)`` for each request, as each finishes on ``jobs`` worker processes."""
    pool = Pool(jobs, ctx)
    finished = False
    try:
        yield from pool.run(requests)
        finished = True
    finally:
        if finished:
            pool.close()
        else:
            pool.stop()
