"""The fuzzer: mutated real sample files through every backend; each request must get a structured answer.

    .venv/bin/python -m dcmharness.interface.fuzz --cases 10000 --backends python_ref,dcmtk

Each case takes a real sample file, applies one structure-aware mutation (``dcmharness.interface.fuzz.mutations``:
truncation at every kind of boundary, bit flips, corrupted lengths and VRs, absurd rows/columns/frames/
bits, broken encapsulation, a lying transfer syntax) and sends one ``to_image`` request per backend
through the dispatcher (``dcmharness.interface.api.run``), in a forked worker (its peak resident memory, the
external tools' included, is checked against ``--rss-limit-mb``; RLIMIT_AS is only a safety net, a soft limit
that the cornerstone backend lifts for Chromium alone, which does not start under any). The worker's temporary
folders (Orthanc's storage, Chromium's profile) are inside the case's folder, removed after the case whatever
happened, and every process it started carries ``DCMHARNESS_FUZZ_CASE`` in its environment: the worker stops
its backends before it answers, and a process of the case still alive after that is a failure (``leftover``).
``--case N`` replays single cases of a run (``--seed``) exactly. With ``--reuse-workers`` each of the ``--jobs``
workers runs case after case and keeps its backends' sessions between them, as a conformance run does (a
browser starts once per worker instead of once per case: five times faster on the cornerstone backend); a
worker is replaced after a crash, a hang or a memory failure, and its leftovers are looked for when it ends.
Ctrl-C prints the report of the cases done (exit 130).

A case *fails* for a backend when: the worker crashed (a segfault in a decoder would take a whole run
down), it did not answer within its deadline (hang), the response is not a valid contract response,
the error is ``internal_error`` (a bug), memory ran out or the peak resident memory went over the
limit (an absurd size was allocated instead of refused), the input file changed, or ``ok`` came with
an output file that does not exist, or a process it started outlived it.
Exit status: 0 no failure, 1 failures, 2 unusable arguments, 130 interrupted (Ctrl-C) without a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from dcmharness.interface.fuzz import memory
from dcmharness.interface.fuzz.mutations import Mutation, mutate

#: Small real sample files covering the encodings: native LE/BE/implicit, multi-frame, colour, palette,
#: RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, deflate.
SEEDS: tuple[str, ...] = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "emri_small.dcm",
    "rtdose_1frame.dcm",
    "SC_rgb_small_odd.dcm",
    "SC_rgb_rle.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_rgb_gdcm_KY.dcm",
    "JPEG-lossy.dcm",
    "JPEGLSNearLossless_16.dcm",
    "JPEG2000.dcm",
    "OBXXXX1A_rle.dcm",
    "image_dfl.dcm",
)

#: The options of each case's request, picked at random.
OPTION_SETS: tuple[dict[str, Any], ...] = (
    {},
    {},
    {"voi": "minmax"},
    {"voi": "none", "bit_depth": 16},
    {"window_center": 40.0, "window_width": 400.0},
    {"frame": "all"},
)

FAILURES = ("crash", "hang", "unstructured", "internal", "memory", "input_modified", "missing_output", "leftover")
#: Set in each case's worker: every process the case starts inherits it (leftovers are found by it).
CASE_ENV = "DCMHARNESS_FUZZ_CASE"
#: How long a case's processes may take to vanish after its worker ended (s) before they count as leftovers.
LEFTOVER_GRACE_S = 2.0
OOM_MESSAGE = "out of memory while processing the input"


@dataclass(frozen=True)
class CaseSpec:
    index: int
    seed_file: str
    kind: str
    detail: str
    options: dict[str, Any]


@dataclass
class Answer:
    """What one backend answered to one case (``status``: ok, error, or a failure kind)."""

    backend: str
    status: str
    code: str | None = None
    message: str = ""
    seconds: float = 0.0


@dataclass
class FuzzReport:
    cases: int = 0
    requests: int = 0
    backends: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, int]] = field(default_factory=dict)  # backend -> status/code -> count
    examples: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # the first EXAMPLES cases of each
    kinds: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the largest single process (worker or a tool it waited for): ru_maxrss
    budget_reached: bool = False  # --max-seconds ended the run before --cases were done
    interrupted: bool = False  # Ctrl-C (SIGINT) ended the run: the report holds the cases done before it
    peak_tree_rss_mb: float = 0.0  # a case's processes together (worker + children; PSS), sampled every SAMPLE_S
    peak_rss_case: int | None = None  # the case of each peak (replay it with --case)
    peak_tree_case: int | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)


def make_case(index: int, seed: int, seeds: dict[str, bytes]) -> tuple[CaseSpec, bytes]:
    """Case ``index`` of run ``seed``: deterministic, independent of the other cases."""
    rng = random.Random(f"{seed}:{index}")
    name = rng.choice(sorted(seeds))
    mutation: Mutation = mutate(seeds[name], rng)
    options = dict(rng.choice(OPTION_SETS))
    return CaseSpec(index, name, mutation.kind, mutation.detail, options), mutation.data


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def classify(resp: Any, input_changed: bool) -> tuple[str, str | None, str]:
    """(status, code, message) of one response: ok / error, or the failure it shows."""
    from dcmharness.contract.errors import ErrorCode
    from dcmharness.contract.models import Response

    if input_changed:
        return "input_modified", None, "the input file changed"
    try:
        checked = Response.model_validate_json(resp.model_dump_json())
    except Exception as exc:  # pragma: no cover - a broken response model
        return "unstructured", None, f"{type(exc).__name__}: {exc}"[:300]
    if checked.ok:
        missing = [p for p in checked.outputs if not Path(p).is_file()]
        if missing or not checked.outputs:
            return "missing_output", None, f"ok but no file at {missing or '(no outputs)'}"
        return "ok", None, ""
    err = checked.error
    if err is None:
        return "unstructured", None, "ok is false but there is no error"
    known = {c.value for c in ErrorCode}
    if err.code not in known:
        return "unstructured", err.code, f"unknown error code {err.code!r}"
    if err.code == ErrorCode.INTERNAL_ERROR:
        return "internal", err.code, err.message[:300]
    if err.code == ErrorCode.INPUT_TOO_LARGE and err.message == OOM_MESSAGE:
        return "memory", err.code, err.message
    return "error", err.code, err.message[:300]


def run_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[Answer]:
    """Every backend's answer to one mutated input (runs in the worker process)."""
    from dcmharness.interface.api import run

    answers = []
    fmt = "png"
    for name in backends:
        out = path.parent / f"{name}.{fmt}"
        before = _sha(path)
        started = time.perf_counter()
        request = {
            "id": name,
            "op": "to_image",
            "input": str(path),
            "output": str(out),
            "backend": name,
            "overwrite": True,
            "timeout": timeout,
            "options": options,
        }
        resp = run(request)
        status, code, message = classify(resp, _sha(path) != before)
        answers.append(Answer(name, status, code, message, round(time.perf_counter() - started, 4)))
        for p in path.parent.glob(f"{name}*"):
            with contextlib.suppress(OSError):
                p.unlink()
    return answers


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """SIGINT blocked while a worker is forked: a Ctrl-C then reaches the new worker only once it ignores it
    (else it could land in the fork's own handlers, and be printed there), and the parent right after."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _enter_worker(scratch: Path, marker: str, address_space_mb: int) -> None:
    """A forked worker's set-up: Ctrl-C is the parent's (it reports and kills the workers; one pending is
    discarded); every process it starts carries ``marker``; temporary folders go into ``scratch`` (removed
    by the parent, even when the worker is killed); RLIMIT_AS is a soft safety net only (decoders reserve
    far more address space than they touch)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if marker:
        os.environ[CASE_ENV] = marker
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = str(scratch)
    if address_space_mb > 0:
        limit = address_space_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _peak_rss_mb() -> float:
    """This process's peak resident size, or that of the largest child it waited for (MB)."""
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def _case_peak_mb(children_before_kb: int) -> float:
    """In a reused worker: the largest peak resident size of one process during the case (MB): this worker and
    the servers, browsers and JVMs it keeps (their ``VmHWM``, started again for the next case), and a tool it
    waited for when that raised the children's peak. ``ru_maxrss`` alone would keep an earlier case's peak
    and never see a kept server's (observed: Orthanc's 1.09 GB upload peak, gone between two samples)."""
    pids = memory.descendants(os.getpid(), memory.parent_map())
    peak = max((memory.peak_rss_bytes(p) for p in pids), default=0) / 1024 / 1024
    for pid in pids:
        memory.reset_peak(pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, children / 1024 if children > children_before_kb else 0.0)


def _over_limit(answers: list[Answer], rss_mb: float, rss_limit_mb: int) -> list[Answer]:
    """The answers, each turned into a ``memory`` failure when the peak went over the limit."""
    if rss_limit_mb <= 0 or rss_mb <= rss_limit_mb:
        return answers
    return [
        Answer(a.backend, "memory", a.code, f"peak RSS {rss_mb:.0f} MB > {rss_limit_mb} MB; {a.message}")
        for a in answers
    ]


def _crashed(backends: list[str], exc: BaseException) -> list[dict[str, Any]]:
    return [asdict(Answer(b, "crash", None, f"{type(exc).__name__}: {exc}"[:300])) for b in backends]


def _worker(
    conn: Connection,
    path: str,
    options: dict[str, Any],
    backends: list[str],
    timeout: float,
    address_space_mb: int,
    rss_limit_mb: int,
    marker: str = "",
) -> None:
    from dcmharness.interface import registry

    _enter_worker(Path(path).parent / "tmp", marker, address_space_mb)  # removed with the case's folder
    try:
        try:
            answers = run_case(Path(path), options, backends, timeout)
        finally:  # servers, browsers, worker pools: a forked worker ends in os._exit, atexit would not run
            registry.close_all()
        rss_mb = _peak_rss_mb()
        conn.send(([asdict(a) for a in _over_limit(answers, rss_mb, rss_limit_mb)], rss_mb))
    except BaseException as exc:  # reported as a crash of every backend of the case
        conn.send((_crashed(backends, exc), 0.0))
    finally:
        conn.close()


def _slot_worker(
    conn: Connection,
    folder: str,
    backends: list[str],
    timeout: float,
    address_space_mb: int,
    rss_limit_mb: int,
    marker: str,
    parent_pid: int,
) -> None:
    """``--reuse-workers``: one worker runs case after case, keeping its backends' sessions (a browser and its
    driver, Orthanc, JVM workers) between them, as a conformance run does. It reads ``(input path, options)``
    and answers like ``_worker``; None, or its parent gone (a sibling worker forked later holds a copy of
    this pipe: no end of file would come), ends it, stopping its backends. It ends after a
    case whose peak resident memory went over the limit (the next case gets a fresh worker) or that raised."""
    from dcmharness.interface import registry

    _enter_worker(Path(folder) / "tmp", marker, address_space_mb)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    _case_peak_mb(children_before)  # the peaks start from here
    try:
        while True:
            try:
                while not conn.poll(1.0):
                    if os.getppid() != parent_pid:
                        return
                job = conn.recv()
            except (EOFError, OSError):
                break
            if job is None:
                break
            path, options = job
            try:
                answers = run_case(Path(path), options, backends, timeout)
            except BaseException as exc:  # reported as a crash of every backend of the case; the worker ends
                conn.send((_crashed(backends, exc), 0.0))
                break
            rss_mb = _case_peak_mb(children_before)
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            answers = _over_limit(answers, rss_mb, rss_limit_mb)
            conn.send(([asdict(a) for a in answers], rss_mb))
            if any(a.status == "memory" for a in answers):
                break
    finally:
        registry.close_all()
        conn.close()


def available_backends(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The named backends that can run here, and why the others cannot."""
    from dcmharness.interface import registry

    ok, skipped = [], {}
    for name in names:
        avail = registry.get(name).availability()
        if avail.available:
            ok.append(name)
        else:
            skipped[name] = avail.reason or "unavailable"
    return ok, skipped


def load_seeds(names: tuple[str, ...] = SEEDS) -> dict[str, bytes]:
    from dcmharness.interface.samples import find

    seeds = {}
    for name in names:
        with contextlib.suppress(KeyError):
            seeds[name] = find(name).read_bytes()
    return seeds


def warm_imports(seeds: dict[str, bytes]) -> None:
    """Render every seed file once with python_ref in this (the parent) process, before any fork: the lazily
    imported decoders, numpy, Pillow and the encoders are then loaded once, not again in every case's worker
    (measured under load: 3.8-5.3 s for a forked worker's first three renders cold, 0.15-0.28 s warm).
    python_ref is in-process: no server, pool or thread is started here for the workers to inherit."""
    from dcmharness.interface.api import run

    with tempfile.TemporaryDirectory(prefix="dcmharness-fuzz-warm-") as folder:
        for name, data in sorted(seeds.items()):
            path = Path(folder) / name
            path.write_bytes(data)
            with contextlib.suppress(Exception):
                run({"op": "to_image", "input": str(path), "output": str(path.with_suffix(".png")),
                     "backend": "python_ref", "overwrite": True})  # fmt: skip


@dataclass
class _Running:
    proc: Any
    conn: Connection
    spec: CaseSpec
    data: bytes
    workdir: Path
    deadline: float
    marker: str = ""
    peak_tree_mb: float = 0.0  # the case's processes together (worker, tools, JVM, server), as sampled
    slot: _Slot | None = None  # --reuse-workers: the worker, which goes on to the next case


@dataclass
class _Slot:
    """A worker of ``--reuse-workers``: it runs case after case (``last``: the latest it was given, and its
    input, which ``--keep`` writes when a leftover is found at the worker's end)."""

    proc: Any
    conn: Connection
    marker: str
    folder: Path
    last: tuple[CaseSpec, bytes] | None = None


#: How many case indices of each backend's answer (code or failure kind) the report keeps, to replay them.
EXAMPLES = 5
#: The answers whose example cases the text report prints (the JSON report has all of them).
SHOWN_EXAMPLES = ("timeout", "backend_failed")

#: How often the parent samples the memory of each case's process tree (s).
SAMPLE_S = 0.2


def _watch_memory(running: list[_Running], rss_limit_mb: int) -> dict[int, tuple[float, list[int]]]:
    """Sample every running case's process tree; the cases over the limit: index -> (MB, their pids)."""
    parents = memory.parent_map()
    over = {}
    for r in running:
        marked = memory.marked(f"{CASE_ENV}={r.marker}".encode(), parents) if r.marker else []
        total, pids = memory.tree_rss(r.proc.pid, parents, marked)
        mb = total / 1024 / 1024
        r.peak_tree_mb = max(r.peak_tree_mb, mb)
        if rss_limit_mb > 0 and mb > rss_limit_mb:
            over[r.spec.index] = (mb, pids)
    return over


def _culprit(pids: list[int]) -> str:
    """``largest: chromium 791 MB; chromium x5, node, python3``: the largest process and every one counted."""
    name, size = memory.largest(pids)
    return f"largest: {name} {size / 1024 / 1024:.0f} MB; {memory.census(pids)}"


def _case_processes(marker: str) -> list[int]:
    """The live processes carrying the case's marker (the worker itself does not: it set it after starting)."""
    return memory.marked(f"{CASE_ENV}={marker}".encode(), memory.parent_map()) if marker else []


def _kill_worker(proc: Any, marker: str) -> None:
    """The worker and everything it started (a tool in its own process group, a reparented one included)."""
    memory.kill_all(memory.descendants(proc.pid, memory.parent_map()))
    memory.kill_all(_case_processes(marker))
    proc.kill()


def leftovers(marker: str, grace: float = LEFTOVER_GRACE_S) -> list[tuple[int, str]]:
    """(pid, command name) of the case's processes still alive ``grace`` seconds after its worker ended;
    they are killed (the run goes on clean) and reported."""
    end = time.monotonic() + grace
    pids = _case_processes(marker)
    while pids and time.monotonic() < end:
        time.sleep(0.05)
        pids = _case_processes(marker)
    found = [(pid, memory.command_name(pid)) for pid in pids]
    memory.kill_all(pids)
    return found


def run_fuzz(
    cases: int,
    backends: list[str],
    *,
    seed: int = 0,
    jobs: int = 2,
    timeout: float = 20.0,
    address_space_mb: int = 16384,
    rss_limit_mb: int = 1024,
    keep: Path | None = None,
    progress: bool = False,
    deadline: float | None = None,
    only: list[int] | None = None,
    max_seconds: float | None = None,
    reuse_workers: bool = False,
) -> FuzzReport:
    """Run ``cases`` mutated inputs through ``backends`` (unavailable ones are skipped, with the reason);
    with ``only``, just those case indices of the run ``seed`` (a replay). Each case gets a fresh worker,
    which stops its backends before answering; with ``reuse_workers``, each of the ``jobs`` workers runs
    case after case with its backends' sessions kept (a browser is started once per worker, not per case),
    a worker is replaced after a crash, a hang or a memory failure, and leftovers are looked for when a
    worker ends (the failure names the last case it ran)."""
    import dcmharness.interface.api  # noqa: F401 - imported before forking: workers start warm
    from dcmharness.interface.input_warnings import quiet_terminal

    quiet_terminal()  # the forked workers inherit it: pydicom's warnings are in the responses, not on stderr

    usable, skipped = available_backends(backends)
    report = FuzzReport(backends=usable, skipped=skipped)
    seeds = load_seeds()
    warm_imports(seeds)
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="dcmharness-fuzz-"))
    codes: dict[str, Counter[str]] = {b: Counter() for b in usable}
    kinds: Counter[str] = Counter()
    # an in-process backend has no timeout of its own: the worker's deadline is the guard
    deadline_s = deadline if deadline is not None else timeout * max(1, len(usable)) + 30
    pending = iter(only if only is not None else range(cases))
    total = len(only) if only is not None else cases
    running: list[_Running] = []
    idle: list[_Slot] = []  # --reuse-workers: those waiting for a case
    workers: list[_Slot] = []  # --reuse-workers: every one alive
    slots = 0
    done = 0

    def new_slot() -> _Slot:
        nonlocal slots
        slots += 1
        folder = root / f"worker_{slots:04d}"
        parent, child = ctx.Pipe(duplex=True)
        marker = f"{os.getpid()}-worker{slots}"
        proc = ctx.Process(
            target=_slot_worker,
            args=(child, str(folder), usable, timeout, address_space_mb, rss_limit_mb, marker, os.getpid()),
        )
        with _ctrl_c_held():  # a Ctrl-C comes after it is in ``workers`` (killed at the end)
            proc.start()
            slot = _Slot(proc, parent, marker, folder)
            workers.append(slot)
        child.close()
        return slot

    def record(spec: CaseSpec, data: bytes, answers: list[Answer]) -> None:
        for a in answers:
            codes.setdefault(a.backend, Counter())[a.code or a.status] += 1
            seen = report.examples.setdefault(a.backend, {}).setdefault(a.code or a.status, [])
            if len(seen) < EXAMPLES:
                seen.append(spec.index)
            if a.status in FAILURES:
                report.failures.append({**asdict(spec), **asdict(a)})
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"case_{spec.index:06d}.dcm").write_bytes(data)
                    (keep / f"case_{spec.index:06d}.{a.backend}.json").write_text(
                        json.dumps({**asdict(spec), **asdict(a)}, indent=2)
                    )

    def leftover_answer(marker: str) -> list[Answer]:
        left = leftovers(marker)
        if not left:
            return []
        names = ", ".join(f"{name} {pid}" for pid, name in left)
        message = f"{len(left)} process(es) outlived the case's worker by {LEFTOVER_GRACE_S:g} s (killed): {names}"
        return [Answer("(case)", "leftover", None, message)]

    try:
        while True:
            while len(running) < max(1, jobs):
                if (
                    max_seconds is not None
                    and not report.budget_reached
                    and time.perf_counter() - started > max_seconds
                ):
                    report.budget_reached = next(pending, None) is not None
                    pending = iter(())
                index = next(pending, None)
                if index is None:
                    break
                spec, data = make_case(index, seed, seeds)
                workdir = root / f"case_{index:06d}"
                workdir.mkdir()
                path = workdir / "input.dcm"
                path.write_bytes(data)
                if reuse_workers:
                    slot = idle.pop() if idle else new_slot()
                    slot.last = (spec, data)
                    slot.conn.send((str(path), spec.options))
                    running.append(
                        _Running(
                            slot.proc, slot.conn, spec, data, workdir, time.monotonic() + deadline_s, slot.marker,
                            slot=slot,
                        )
                    )  # fmt: skip
                    continue
                parent, child = ctx.Pipe(duplex=False)
                marker = f"{os.getpid()}-{index}"
                proc = ctx.Process(
                    target=_worker,
                    args=(child, str(path), spec.options, usable, timeout, address_space_mb, rss_limit_mb, marker),
                )
                with _ctrl_c_held():  # a Ctrl-C comes after it is in ``running`` (killed at the end)
                    proc.start()
                    running.append(_Running(proc, parent, spec, data, workdir, time.monotonic() + deadline_s, marker))
                child.close()
            if not running:
                break
            ready = wait([r.conn for r in running], timeout=SAMPLE_S)
            now = time.monotonic()
            over = _watch_memory([r for r in running if r.conn not in ready], rss_limit_mb)
            for r in list(running):
                answers: list[Answer] | None = None
                if r.spec.index in over:
                    mb, pids = over[r.spec.index]
                    culprit = _culprit(pids)
                    memory.kill_all(pids)
                    _kill_worker(r.proc, r.marker)
                    answers = [
                        Answer(
                            b,
                            "memory",
                            None,
                            f"the case's {len(pids)} processes reached {mb:.0f} MB "
                            f"> {rss_limit_mb} MB (killed; {culprit})",
                        )
                        for b in usable
                    ]
                elif r.conn in ready:
                    try:
                        raw, rss = r.conn.recv()
                        answers = [Answer(**a) for a in raw]
                        if rss > report.peak_rss_mb:
                            report.peak_rss_mb, report.peak_rss_case = rss, r.spec.index
                    except (EOFError, OSError):
                        r.proc.join(5)
                        answers = [Answer(b, "crash", None, f"worker died (exit {r.proc.exitcode})") for b in usable]
                elif now > r.deadline:
                    _kill_worker(r.proc, r.marker)
                    answers = [Answer(b, "hang", None, f"no answer within {deadline_s:g} s") for b in usable]
                if answers is None:
                    continue
                running.remove(r)
                if r.peak_tree_mb > report.peak_tree_rss_mb:
                    report.peak_tree_rss_mb, report.peak_tree_case = r.peak_tree_mb, r.spec.index
                ended = {"crash", "hang", "memory"} & {a.status for a in answers}
                if r.slot is not None and not ended and r.proc.is_alive():
                    idle.append(r.slot)  # it goes on; leftovers are looked for when it ends
                else:
                    r.proc.join(30 if r.slot is not None else 5)  # a reused worker stops its backends first
                    r.conn.close()
                    answers += leftover_answer(r.marker)
                    if r.slot is not None:
                        workers.remove(r.slot)
                        shutil.rmtree(r.slot.folder, ignore_errors=True)
                kinds[r.spec.kind] += 1
                record(r.spec, r.data, answers)
                shutil.rmtree(r.workdir, ignore_errors=True)
                done += 1
                report.requests += sum(a.backend in usable for a in answers)
                if progress and done % 500 == 0:
                    print(f"fuzz: {done}/{total} cases, {len(report.failures)} failures", file=sys.stderr)
        while idle:  # --reuse-workers: each worker stops its backends; what outlives it is a failure
            slot = idle[-1]
            with contextlib.suppress(OSError):
                slot.conn.send(None)
            slot.proc.join(60)
            idle.pop()
            workers.remove(slot)  # after it ended: a Ctrl-C meanwhile still kills it
            slot.conn.close()
            left = leftover_answer(slot.marker)
            if slot.last is not None:
                record(*slot.last, left)
    except KeyboardInterrupt:  # Ctrl-C: the report of the cases done, no traceback
        report.interrupted = True
    finally:
        for r in running:
            _kill_worker(r.proc, r.marker)
        for slot in workers:
            _kill_worker(slot.proc, slot.marker)
        shutil.rmtree(root, ignore_errors=True)
    report.cases = done
    report.codes = {b: dict(sorted(c.items())) for b, c in codes.items()}
    report.kinds = dict(sorted(kinds.items()))
    report.seconds = round(time.perf_counter() - started, 1)
    report.peak_rss_mb = round(report.peak_rss_mb, 1)
    report.peak_tree_rss_mb = round(report.peak_tree_rss_mb, 1)
    return report


def format_report(report: FuzzReport) -> str:
    lines = [
        f"fuzz: {report.cases} cases, {report.requests} requests, {report.failed} failures, "
        f"{report.seconds} s, peak RSS {report.peak_rss_mb} MB (one process, case {report.peak_rss_case}), "
        f"{report.peak_tree_rss_mb} MB (a case's worker and children together, proportional set sizes; "
        f"case {report.peak_tree_case})",
        *(
            ["(the --max-seconds budget ended the run: the cases above are those done, 0 to N-1 in order)"]
            if report.budget_reached
            else []
        ),
        *(["(interrupted: the cases above are those done before Ctrl-C)"] if report.interrupted else []),
        "mutations: " + ", ".join(f"{k} {v}" for k, v in report.kinds.items()),
    ]
    for backend, counts in report.codes.items():
        shown = report.examples.get(backend, {})
        lines.append(
            f"{backend}: "
            + ", ".join(
                f"{k} {v}" + (f" (cases {', '.join(map(str, shown[k]))})" if k in SHOWN_EXAMPLES and k in shown else "")
                for k, v in counts.items()
            )
        )
    for name, why in report.skipped.items():
        lines.append(f"{name}: skipped ({why})")
    for f in report.failures[:50]:
        lines.append(
            f"FAIL case {f['index']} {f['backend']} {f['status']}: {f['seed_file']} {f['kind']} "
            f"({f['detail']}) options={json.dumps(f['options'])}: {f['message']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcmharness.interface.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="number of mutated inputs (default 300)")
    parser.add_argument("--backends", default="python_ref", help="comma-separated backend names")
    parser.add_argument("--seed", type=int, default=0, help="run seed (cases are reproducible from it)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cases run at once")
    parser.add_argument("--timeout", type=float, default=20.0, help="per-request timeout of external tools (s)")
    parser.add_argument("--rss-limit-mb", type=int, default=1024, help="peak resident memory a case may use")
    parser.add_argument("--address-space-mb", type=int, default=16384, help="RLIMIT_AS per worker (0 = none)")
    parser.add_argument("--keep", metavar="DIR", help="write each failing input and its answer to DIR")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--reuse-workers",
        action="store_true",
        help="each of the --jobs workers runs case after case, keeping its backends' sessions "
        "(a browser starts once per worker, not per case); a worker is replaced after a crash, hang or "
        "memory failure",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="start no case after this many seconds (the report gives the cases done)",
    )
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="N[,N...]",
        help="replay only these case indices of the run --seed (repeatable); --cases is then ignored",
    )
    args = parser.parse_args(argv)
    from dcmharness.interface import registry

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in names if b not in registry.names()]
    if unknown or args.cases < 0:
        print(f"fuzz: unknown backend(s) {unknown}; known: {', '.join(registry.names())}", file=sys.stderr)
        return 2
    try:
        only = [int(n) for item in args.case for n in item.split(",") if n.strip()] or None
    except ValueError:
        print(f"fuzz: --case takes case indices (integers), not {args.case}", file=sys.stderr)
        return 2
    if only is not None and min(only) < 0:
        print("fuzz: --case indices start at 0", file=sys.stderr)
        return 2
    try:
        report = _run_from_args(args, names, only)
    except KeyboardInterrupt:  # before the first case (while the seed files were read and rendered)
        print("fuzz: interrupted before any case ran", file=sys.stderr)
        return 130
    print(json.dumps(asdict(report), indent=2) if args.json else format_report(report))
    return 1 if report.failures else 130 if report.interrupted else 0


def _run_from_args(args: argparse.Namespace, names: list[str], only: list[int] | None) -> FuzzReport:
    return run_fuzz(
        args.cases,
        names,
        seed=args.seed,
        jobs=args.jobs,
        timeout=args.timeout,
        address_space_mb=args.address_space_mb,
        rss_limit_mb=args.rss_limit_mb,
        keep=Path(args.keep) if args.keep else None,
        progress=not args.json,
        only=only,
        max_seconds=args.max_seconds,
        reuse_workers=args.reuse_workers,
    )


if __name__ == "__main__":
    sys.exit(main())
