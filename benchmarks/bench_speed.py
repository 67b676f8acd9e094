"""Speed against the peers: every ratio measured in the same run, medians of several repetitions.

    .venv/bin/python -m benchmarks speed            # all of them
    .venv/bin/python -m benchmarks batch            # one (batch, large, overhead, cold, jobs)

- batch: ``dcmharness run`` with JSON Lines over the single-frame native sample files (python_ref)
  versus ``dcmj2pnm`` one process per file (aim >= 3x);
- large: RG1_UNCI (1955x1841, 16-bit) rendered by python_ref in-process (PNG: the default compressor, zlib level 1
  and level 6) versus ``dcmj2pnm`` (aim >= 4x);
- overhead: a request through the dcmtk adapter versus the same ``dcmj2pnm`` argv run directly (aim <= 5%);
- cold: ``dcmharness --version`` and a single request versus ``python -c pass``;
- jobs: ``dcmharness conform --jobs 2`` versus ``--jobs 1`` on 40 files against dcmtk and rust_render (aim >= 1.7x).

Both sides of a ratio render the same files with the same window (min-max) to 8-bit PNG.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.corpus import sample_infos

if TYPE_CHECKING:
    from dcmharness.backends.preflight import InputInfo

VENV_BIN = Path(sys.executable).parent
DCMHARNESS = str(VENV_BIN / "dcmharness") if (VENV_BIN / "dcmharness").exists() else "dcmharness"
LARGE = "RG1_UNCI.dcm"


@dataclass
class Row:
    name: str
    ours_s: float | None
    peer_s: float | None
    ratio: float | None  # how many times faster we are (peer / ours); for overhead: ours / peer - 1
    aim: str
    met: bool | None
    ours_cmd: str
    peer_cmd: str
    note: str = ""


def median_time(fn: Callable[[], Any], repeat: int, warmup: bool = True) -> float:
    """Median wall time (s) of ``fn`` over ``repeat`` runs (after one unmeasured warm-up run)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, check=False, **kw)


def dcmj2pnm() -> str | None:
    return shutil.which("dcmj2pnm")


def native_single_frame_infos() -> list[InputInfo]:
    """The sample files every backend should render: uncompressed, one frame, readable."""
    return [info for info in sample_infos() if not info.is_compressed and info.frames == 1]


def _skip(name: str, aim: str, why: str) -> Row:
    return Row(name, None, None, None, aim, None, "", "", f"skipped: {why}")


# -- 1. batch ----------------------------------------------------------------------------------------------


def bench_batch(repeat: int) -> list[Row]:
    """Both sides in turn, ``repeat`` rounds after a warm-up round (a change of the machine's load hits both
    alike); medians of the wall and of the CPU seconds (user + system of the processes started)."""
    aim = ">= 3x"
    tool = dcmj2pnm()
    if tool is None:
        return [_skip("batch", aim, "dcmj2pnm not on PATH")]
    infos = native_single_frame_infos()
    files = [info.path for info in infos]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        batch = out / "batch.jsonl"
        batch.write_text(
            "".join(
                json.dumps(
                    {
                        "op": "to_image",
                        "input": str(info.path),
                        "output": str(out / f"ours_{i}.png"),
                        "overwrite": True,
                        # min-max is a grayscale option (the contract refuses it on colour; dcmj2pnm ignores +Wm)
                        "options": {} if info.is_color else {"voi": "minmax"},
                    }
                )
                + "\n"
                for i, info in enumerate(infos)
            )
        )
        ours_argv = [DCMHARNESS, "run", "--request", str(batch)]
        failed = [0]

        def ours() -> None:
            proc = _run(ours_argv)
            failed[0] = sum(1 for line in proc.stdout.splitlines() if not json.loads(line)["ok"])

        def peer() -> None:
            for i, p in enumerate(files):
                _run([tool, "+on", "+Wm", str(p), str(out / f"peer_{i}.png")])

        walls, cpus = interleaved({"ours": ours, "peer": peer}, repeat)
    ratio = walls["peer"] / walls["ours"]
    return [
        Row(
            f"batch ({len(files)} files)",
            walls["ours"],
            walls["peer"],
            ratio,
            aim,
            ratio >= 3,
            "dcmharness run --request batch.jsonl  (python_ref, voi minmax on grayscale, png)",
            "for f in files: dcmj2pnm +on +Wm $f out.png",
            f"CPU s ours {cpus['ours']:.2f} vs dcmj2pnm {cpus['peer']:.2f} ({cpus['peer'] / cpus['ours']:.1f}x)"
            + (f"; {failed[0]} of our requests failed" if failed[0] else ""),
        )
    ]


def cpu_of_children() -> float:
    """User + system seconds of every finished, waited-for descendant (workers and tools included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call of ``fn`` (CPU: of the processes it started)."""
    cpu, t0 = cpu_of_children(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_of_children() - cpu


def interleaved(sides: dict[str, Callable[[], object]], repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds of each side, run in turn for ``repeat`` rounds after an unmeasured one."""
    walls: dict[str, list[float]] = {k: [] for k in sides}
    cpus: dict[str, list[float]] = {k: [] for k in sides}
    for round_ in range(repeat + 1):
        for name, fn in sides.items():
            wall, cpu = timed(fn)
            if round_:
                walls[name].append(wall)
                cpus[name].append(cpu)
    return {k: statistics.median(v) for k, v in walls.items()}, {k: statistics.median(v) for k, v in cpus.items()}


# -- 2. large image ----------------------------------------------------------------------------------------


def bench_large(repeat: int) -> list[Row]:
    from dcmharness.interface.api import run
    from dcmharness.interface.samples import find

    aim = ">= 4x"
    tool = dcmj2pnm()
    src = str(find(LARGE))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t_peer = None
        if tool is not None:
            t_peer = median_time(lambda: _run([tool, "+on", "+Wm", src, str(out / "peer.png")]), repeat)
        for level in (None, 1, 6):  # None: python_ref's default compressor (grayscale: Up filter + zlib Z_RLE)
            options: dict[str, Any] = {"voi": "minmax"}
            if level is not None:
                options["png_compression"] = level
            request = {
                "op": "to_image",
                "input": src,
                "output": str(out / f"ours_{level}.png"),
                "overwrite": True,
                "options": options,
            }
            t_ours = median_time(lambda r=request: run(r), repeat)  # type: ignore[misc]
            size = (out / f"ours_{level}.png").stat().st_size
            label = "default" if level is None else f"level {level}"
            option_text = "" if level is None else f", png_compression {level}"
            ratio = t_peer / t_ours if t_peer else None
            peer_size = (out / "peer.png").stat().st_size if t_peer else 0
            rows.append(
                Row(
                    f"large {LARGE} png {label}",
                    t_ours,
                    t_peer,
                    ratio,
                    aim,
                    None if ratio is None else ratio >= 4,
                    f"dcmharness.interface.api.run(python_ref, voi minmax{option_text})  (in-process)",
                    f"dcmj2pnm +on +Wm {LARGE} out.png",
                    f"PNG {size / 1e6:.2f} MB vs dcmj2pnm {peer_size / 1e6:.2f} MB",
                )
            )
    return rows


# -- 3. adapter overhead -----------------------------------------------------------------------------------


def bench_overhead(repeat: int) -> list[Row]:
    from dcmharness.interface import registry
    from dcmharness.interface.api import run
    from dcmharness.interface.samples import find

    aim = "<= 5%"
    if "dcmtk" not in registry.names() or not registry.get("dcmtk").availability().available:
        return [_skip("overhead", aim, "the dcmtk adapter is not available")]
    rows = []
    for name in ("CT_small.dcm", LARGE):
        src = str(find(name))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            request = {
                "op": "to_image",
                "input": src,
                "output": str(out / "ours.png"),
                "backend": "dcmtk",
                "overwrite": True,
                "options": {"voi": "minmax"},
            }
            resp = run(request)
            if not resp.ok or not resp.command:
                rows.append(_skip(f"overhead {name}", aim, f"dcmtk failed: {resp.error}"))
                continue
            argv = [str(out / "direct.png") if a.endswith(".png") else a for a in resp.command]
            t_ours = median_time(lambda r=request: run(r), repeat)  # type: ignore[misc]
            t_peer = median_time(lambda a=argv: _run(a), repeat)  # type: ignore[misc]
        overhead = t_ours / t_peer - 1
        rows.append(
            Row(
                f"overhead dcmtk adapter, {name}",
                t_ours,
                t_peer,
                overhead,
                aim,
                overhead <= 0.05,
                "interface.api.run(backend dcmtk)  (in-process: validate, preflight, argv, run, verify, commit)",
                " ".join(Path(a).name if "/" in a else a for a in argv),
                "ratio column = relative overhead",
            )
        )
    return rows


# -- 4. cold start -----------------------------------------------------------------------------------------


def bench_cold(repeat: int) -> list[Row]:
    from dcmharness.interface.samples import find

    baseline = median_time(lambda: _run([sys.executable, "-c", "pass"]), repeat)
    version = median_time(lambda: _run([DCMHARNESS, "--version"]), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            DCMHARNESS,
            "run",
            "--op",
            "to_image",
            "--input",
            str(find("CT_small.dcm")),
            "--output",
            str(Path(tmp) / "ct.png"),
            "--overwrite",
        ]
        single = median_time(lambda: _run(argv), repeat)
    return [
        Row(
            "cold start: dcmharness --version",
            version,
            baseline,
            version / baseline,
            "close to 1x",
            None,
            "dcmharness --version",
            "python -c pass",
            "ratio column = ours / python",
        ),
        Row(
            "cold start: one request",
            single,
            baseline,
            single / baseline,
            "-",
            None,
            "dcmharness run --op to_image --input CT_small.dcm ...",
            "python -c pass",
            "ratio column = ours / python",
        ),
    ]


# -- 5. conform --jobs -------------------------------------------------------------------------------------


def bench_jobs(repeat: int, limit: int = 40) -> list[Row]:
    """A realistic conformance workload: the first ``limit`` files, every profile, against dcmtk and
    rust_render (external processes, as in a real run); python_ref alone where neither is available."""
    from dcmharness.interface import registry

    aim = ">= 1.7x"
    help_text = _run([DCMHARNESS, "conform", "--help"]).stdout.decode()
    if "--jobs" not in help_text:
        return [_skip("jobs", aim, "dcmharness conform --jobs does not exist yet")]
    backends = ",".join(
        n for n in ("dcmtk", "rust_render") if n in registry.names() and registry.get(n).availability().available
    ) or "python_ref"
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            argv = [
                DCMHARNESS,
                "conform",
                "--backends",
                backends,
                "--limit",
                str(limit),
                "--no-html",
                "--quiet",
                "--jobs",
                str(jobs),
                "--out",
                str(Path(tmp) / f"j{jobs}"),
            ]
            times[jobs] = median_time(lambda a=argv: _run(a), max(1, repeat // 2), warmup=False)  # type: ignore[misc]
            shutil.rmtree(Path(tmp) / f"j{jobs}", ignore_errors=True)
    ratio = times[1] / times[2]
    return [
        Row(
            f"conform --jobs 2 vs 1 ({limit} files)",
            times[2],
            times[1],
            ratio,
            aim,
            ratio >= 1.7,
            f"dcmharness conform --backends {backends} --limit {limit} --jobs 2",
            "... --jobs 1",
        )
    ]


BENCHMARKS: dict[str, Callable[[int], list[Row]]] = {
    "batch": bench_batch,
    "large": bench_large,
    "overhead": bench_overhead,
    "cold": bench_cold,
    "jobs": bench_jobs,
}


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%" if pct else f"{value:.3f}"


def format_table(rows: list[Row]) -> str:
    head = ["benchmark", "ours (s)", "peer (s)", "ratio", "aim", "met", "ours", "peer", "note"]
    body = [
        [
            r.name,
            _fmt(r.ours_s),
            _fmt(r.peer_s),
            _fmt(r.ratio, pct=r.name.startswith("overhead")) if r.ratio is not None else "-",
            r.aim,
            "-" if r.met is None else ("yes" if r.met else "no"),
            r.ours_cmd,
            r.peer_cmd,
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per measurement (median; default 5)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    rows: list[Row] = []
    for name in args.names or list(BENCHMARKS):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name](args.repeat)
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
