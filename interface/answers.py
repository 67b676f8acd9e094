"""The answers of a run: plain requests and folder requests (one answer per file, then a summary), on one or
``jobs`` processes (``pool.py``), in the requests' order or as each finishes.

    >>> from dcmharness.interface.answers import answers
    >>> for resp in answers([{"op": "to_image", "input": "series/", "output": "pngs/"}], jobs=2): ...

Order (``ordered``, the default): every answer comes in the order of the requests, a folder's files in the
order of their relative paths followed by the folder's summary. Unordered: each answer as soon as it is known;
a folder's summary once its last file is answered.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import Response
from dcmharness.contract.validation import parse_request
from dcmharness.interface.api import RunContext, error_response, run
from dcmharness.interface.folders import Expansion, expand, folder_input, make_folders, summary


@dataclass(frozen=True)
class Ready:
    """An answer known without running anything (e.g. a request line that is not JSON)."""

    response: Response


@dataclass
class _Folder:
    expansion: Expansion
    started: float
    summary_seq: int
    responses: dict[int, Response] = field(default_factory=dict)

    def complete(self) -> bool:
        return len(self.responses) == len(self.expansion.jobs)

    def summary(self) -> Response:
        self.expansion.remove_empty_folders()
        return summary(self.expansion, [self.responses[k] for k in sorted(self.responses)], self.started)


class _Order:
    """Releases answers by sequence number: in order, or at once."""

    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self.next = 0
        self.held: dict[int, Response] = {}

    def put(self, seq: int, resp: Response) -> list[Response]:
        if not self.ordered:
            return [resp]
        self.held[seq] = resp
        out: list[Response] = []
        while self.next in self.held:
            out.append(self.held.pop(self.next))
            self.next += 1
        return out


@dataclass
class _Unit:
    seq: int
    folder: _Folder | None = None
    position: int = 0  # the file's place in its folder


class _Run:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.seq = 0
        self.units: list[_Unit] = []
        self.ready: deque[tuple[int, Response]] = deque()

    def _take_seq(self) -> int:
        self.seq += 1
        return self.seq - 1

    def requests(self, items: Iterable[Any]) -> Iterator[Any]:
        """The requests to run; answers known at once are queued in ``ready``."""
        for item in items:
            if isinstance(item, Ready):
                self.ready.append((self._take_seq(), item.response))
            elif folder_input(item, self.ctx):
                yield from self._folder(item)
            else:
                self.units.append(_Unit(self._take_seq()))
                yield item

    def _folder(self, data: Any) -> Iterator[Any]:
        started = time.perf_counter()
        request = parse_request(data)  # valid: folder_input checked it
        try:
            expansion = expand(request, self.ctx)
            make_folders(expansion)
        except HarnessError as exc:
            resp = error_response(exc, request_id=request.id, op=request.op, backend=request.backend, started=started)  # type: ignore[attr-defined]
            self.ready.append((self._take_seq(), resp))
            return
        seqs = [self._take_seq() for _ in expansion.jobs]
        folder = _Folder(expansion, started, self._take_seq())
        if not expansion.jobs:
            self.ready.append((folder.summary_seq, folder.summary()))
            return
        for k, (job, seq) in enumerate(zip(expansion.jobs, seqs, strict=True)):
            self.units.append(_Unit(seq, folder, k))
            yield job.request

    def finished(self, index: int, resp: Response) -> list[tuple[int, Response]]:
        unit = self.units[index]
        out = [(unit.seq, resp)]
        folder = unit.folder
        if folder is not None:
            folder.responses[unit.position] = resp
            if folder.complete():
                out.append((folder.summary_seq, folder.summary()))
        return out


def answers(
    items: Iterable[Any], ctx: RunContext | None = None, jobs: int = 1, ordered: bool = True
) -> Generator[Response, None, None]:
    """Every answer of ``items`` (requests as dicts or models, or ``Ready`` answers), folders expanded."""
    state = _Run(ctx or RunContext())
    order = _Order(ordered)
    if jobs <= 1:  # in this process: each item answered before the next one is read (a client may wait for it)
        index = 0
        for item in items:
            for data in state.requests([item]):
                yield from _release(order, state.finished(index, run(data, state.ctx)))
                index += 1
            yield from _release(order, state.ready)
        return
    from dcmharness.interface.pool import execute  # multiprocessing: imported by the runs that fork (start-up time)

    # closed on every way out (an interrupt raised here, or a consumer that stops early): the workers stop at once
    with contextlib.closing(execute(state.requests(items), state.ctx, jobs)) as finished:
        for index, resp in finished:
            yield from _release(order, state.ready)
            yield from _release(order, state.finished(index, resp))
    yield from _release(order, state.ready)


def _release(order: _Order, known: deque[tuple[int, Response]] | list[tuple[int, Response]]) -> Iterator[Response]:
    """The answers ``order`` lets go once ``known`` (emptied) is put in."""
    while known:
        seq, resp = known.pop(0) if isinstance(known, list) else known.popleft()
        yield from order.put(seq, resp)


def run_folder(data: Any, ctx: RunContext | None = None, jobs: int = 1) -> list[Response]:
    """A folder request's answers: one per file (in the order of their relative paths), then the summary."""
    return list(answers([data], ctx, jobs))
