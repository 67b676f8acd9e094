"""Live: PixelMed and python_ref render the real sample files (explicit_window, stored_window), pixel for pixel.

Every pair both render must agree within 1 gray level, or the difference must be named by an entry of
``interface/conform/divergences.toml`` (matched by ``conform/divergence.py``). All PixelMed requests of a profile run
in ONE JVM through the batch launcher (``dcmharness.interface.batch.run_batch``). A file PixelMed refuses
(``unsupported_*``) or fails on is counted, never compared. ``python tests/test_live_pixelmed.py`` prints
the table.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.interface.api import run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.compare import compare_files
from dcmharness.interface.conform.profiles import PROFILES
from dcmharness.interface.samples import find, image_files

pytestmark = [pytest.mark.live, pytest.mark.slow]

LIVE_PROFILES = ("explicit_window", "stored_window")
TOLERANCE = 1.0


def pixelmed_missing() -> str | None:
    from dcmharness.adapters.pixelmed.adapter import PixelMedAdapter

    adapter = PixelMedAdapter()
    avail = adapter.availability()
    if not avail.available:
        return f"pixelmed not available: {avail.reason}"
    if adapter.launcher_classes() is None:
        return "PixelMedBatch not built: run `bash adapters/pixelmed/build.sh` (make setup does)"
    return None


def _inputs() -> list[tuple[Path, InputInfo]]:
    out = []
    for path in image_files():
        try:
            out.append((path, inspect(str(path))))
        except HarnessError:
            continue
    return out


def agreement(profile: str, folder: Path, backend: str = "pixelmed") -> tuple[Counter[str], list[str]]:
    """Counts per outcome and the unexplained mismatches of one profile over every sample file (all the
    backend's requests through ``run_batch``: one JVM for PixelMed, few dcm2jpg calls for dcm4che)."""
    entries = divergence.load()
    cases: list[tuple[Path, InputInfo, dict[str, Any]]] = []
    for path, info in _inputs():
        options = PROFILES[profile].options_for(info)
        if options is None:
            continue
        cases.append((path, info, options))
    requests: list[dict[str, Any]] = [
        {
            "op": "to_image",
            "backend": backend,
            "input": str(p),
            "output": str(folder / f"{backend}-{profile}-{k}.png"),
            "options": o,
        }
        for k, (p, _, o) in enumerate(cases)
    ]
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for (path, info, options), req, resp in zip(cases, requests, run_batch(requests), strict=True):
        if not resp.ok:
            assert resp.error is not None
            counts[resp.error.code] += 1
            continue
        ref = run({**req, "backend": "python_ref", "output": str(folder / f"ref-{Path(req['output']).name}")})
        if not ref.ok:
            counts["reference failed"] += 1
            continue
        metrics = compare_files(ref.outputs[0], resp.outputs[0])
        same_kind = metrics.shape_match and metrics.mode_match
        if same_kind and metrics.max_abs_diff <= TOLERANCE:
            counts["agree"] += 1
            continue
        case = divergence.Case(backend, profile, str(path), options, info.dataset, info.transfer_syntax)
        found = divergence.find_explanation(entries, case, metrics.max_abs_diff, same_kind)
        if found.entry is not None:
            counts[f"explained: {found.entry.id}"] += 1
        else:
            counts["MISMATCH"] += 1
            problems.append(f"{path.name} {options}: max diff {metrics.max_abs_diff} (shape match {same_kind})")
    return counts, problems


@pytest.fixture(scope="module")
def folder() -> Any:
    reason = pixelmed_missing()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="dcmharness-live-pixelmed-") as tmp:
        yield Path(tmp)


@pytest.mark.parametrize("profile", LIVE_PROFILES)
def test_pixelmed_agrees_with_python_ref(profile: str, folder: Path) -> None:
    counts, problems = agreement(profile, folder)
    assert not problems, "\n".join(problems)
    assert counts["agree"] >= 40, counts  # most sample files are compared, not refused
    assert counts["backend_failed"] <= 8, counts  # RT Dose (not an image) and MR_truncated only


def test_single_request_writes_the_window(folder: Path) -> None:
    """One plain call (no batch): CT_small, explicit soft-tissue window, vs python_ref."""
    ct = str(find("CT_small.dcm"))
    base = {"op": "to_image", "input": ct, "options": {"window_center": 40, "window_width": 400}}
    pm = run({**base, "backend": "pixelmed", "output": str(folder / "ct-pm.png")})
    ref = run({**base, "backend": "python_ref", "output": str(folder / "ct-ref.png")})
    assert pm.ok, pm.error
    assert pm.command is not None and "com.pixelmed.display.ConsumerFormatImageMaker" in pm.command
    assert pm.result == {"width": 128, "height": 128, "mode": "L", "frames": [0], "frame": 0}
    assert compare_files(ref.outputs[0], pm.outputs[0]).max_abs_diff <= TOLERANCE


def test_frame_all_names_map_back(folder: Path) -> None:
    """PixelMed's OUT_0000000001.png ... become the contract's out_0000.png ...; each frame equals python_ref's."""
    emri = str(find("emri_small.dcm"))
    options = {"frame": "all", "window_center": 600, "window_width": 1200}
    pm = run(
        {"op": "to_image", "backend": "pixelmed", "input": emri, "output": str(folder / "em.png"), "options": options}
    )
    assert pm.ok, pm.error
    assert [Path(p).name for p in pm.outputs] == [f"em_{k:04d}.png" for k in range(10)]
    assert sorted(p.name for p in folder.glob("*.frames*")) == []  # no PixelMed file left behind
    for k in (0, 9):
        ref = run(
            {
                "op": "to_image",
                "input": emri,
                "output": str(folder / f"em-ref-{k}.png"),
                "options": {**options, "frame": k},
            }
        )
        assert compare_files(ref.outputs[0], pm.outputs[k]).max_abs_diff <= TOLERANCE


def test_min_max_frames_each_by_their_own_range(folder: Path) -> None:
    """emri_small has no stored window: each frame is windowed by its own min/max, as python_ref does."""
    emri = str(find("emri_small.dcm"))
    req = {"op": "to_image", "backend": "pixelmed", "input": emri, "output": str(folder / "mm.png")}
    pm = run({**req, "options": {"frame": "all"}})
    assert pm.ok, pm.error
    assert len(pm.outputs) == 10
    for k in (0, 4, 9):
        ref = run({**req, "backend": "python_ref", "output": str(folder / f"mm-ref-{k}.png"), "options": {"frame": k}})
        assert compare_files(ref.outputs[0], pm.outputs[k]).max_abs_diff <= TOLERANCE


def test_batch_equals_single_calls(folder: Path) -> None:
    """The launcher renders exactly what ConsumerFormatImageMaker's own main does."""
    cases = [("CT_small.dcm", {"window_center": 40, "window_width": 400}), ("MR_small.dcm", {}), ("RG1_UNCI.dcm", {})]
    reqs: list[dict[str, Any]] = [
        {
            "op": "to_image",
            "backend": "pixelmed",
            "input": str(find(n)),
            "output": str(folder / f"one{k}.png"),
            "options": o,
        }
        for k, (n, o) in enumerate(cases)
    ]
    singles = [run(r) for r in reqs]
    batched = run_batch([{**r, "output": str(folder / f"many{k}.png")} for k, r in enumerate(reqs)])
    assert all(r.ok for r in singles + batched), [r.error for r in singles + batched]
    assert all(r.result is not None and r.result["batch"]["jobs"] == 3 for r in batched)
    for one, many in zip(singles, batched, strict=True):
        assert compare_files(one.outputs[0], many.outputs[0]).max_abs_diff == 0


def test_failure_is_detected_though_it_exits_0(folder: Path) -> None:
    """RT Dose is not an image for PixelMed: exit 0, no file; the response says why, nothing is left."""
    rtdose = str(find("rtdose_1frame.dcm"))
    resp = run(
        {
            "op": "to_image",
            "backend": "pixelmed",
            "input": rtdose,
            "output": str(folder / "rt.png"),
            "options": {"window_center": 0, "window_width": 100},
        }
    )
    assert not resp.ok and resp.error is not None
    assert resp.error.code == "backend_failed"
    assert "SOP Class is not an image" in resp.error.message
    assert not (folder / "rt.png").exists()
    assert not list(folder.glob(".rt.*"))


if __name__ == "__main__":
    reason = pixelmed_missing()
    if reason:
        print(reason)
        sys.exit(0)
    with tempfile.TemporaryDirectory() as tmp:
        for prof in LIVE_PROFILES:
            result, issues = agreement(prof, Path(tmp))
            print(prof, dict(result))
            for issue in issues:
                print("   ", issue)
