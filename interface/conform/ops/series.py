"""Conformance of ``nifti`` and ``volume``: ``dcmharness conform --op nifti`` (or ``--op volume``).

The corpus: the real 174-slice head CT (``HEAD_CT``, read where it is, never copied), the sample corpus's
enhanced multi-frame file with per-frame positions, and the synthetic series of
``interface/synth/series.py`` (generated into ``<out>/synthetic-series``), whose expected geometry and
voxels are computed from the standard's formulas independently of python_ref.

Per input (a series folder or a multi-frame file) and per request (the synthetic two-series folder is
requested three times: without ``series_uid``, and with each series' UID):

- a request the harness must refuse (``expect_error``): every backend, the reference included, must answer
  that error code (profile ``<op>:refusal``);
- otherwise the reference's output is compared with the synthetic expectation when there is one (profile
  ``<op>:expected``, backend = the reference), and every other backend's output with the reference's, both
  brought to one canonical orientation (``compare_volumes``): one record per aspect, profiles
  ``nifti:geometry`` (dimensions, corner displacement in mm), ``nifti:voxels`` (max / mean difference),
  ``nifti:dtype`` (data type and scaling), ``nifti:header`` (qform/sform codes, units, qform vs sform).
  A backend that fails is one record of profile ``nifti``.

Registry entries are matched by backend, profile and input name (``files``: the synthetic case folder's
name, ``ct-head-series``); ``report["slices"]`` holds, per input, the middle slice of each axis per backend
and their differences from the reference, shown by ``report.html``.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.interface.conform.ops import compare_volumes as cv
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, OpsConfig, Run, record, ref_record, run_request

#: The real head CT series (174 slices), read in place.
HEAD_CT = Path(os.environ.get("DCMHARNESS_HEAD_CT", "/work/shared/data/ct-head-series"))
#: Sample multi-frame files with per-frame positions.
MULTIFRAME_SAMPLES = ("eCT_Supplemental.dcm",)
SYNTHETIC = "synthetic-series"
ASPECTS = ("geometry", "voxels", "dtype", "header")
THUMB = 160


def series_corpus(config: OpsConfig) -> list[Path]:
    """The inputs: ``--corpus`` paths as given (folders are series), else the head CT, the multi-frame
    samples and the synthetic series (generated now)."""
    if config.corpus:
        return list(config.corpus)
    from dcmharness.interface.samples import find
    from dcmharness.interface.synth.series import generate

    inputs: list[Path] = [HEAD_CT] if HEAD_CT.is_dir() else []
    for name in MULTIFRAME_SAMPLES:
        try:
            inputs.append(find(name))
        except KeyError:
            continue
    synthetic = config.out / SYNTHETIC
    seen: list[Path] = []
    for case in generate(synthetic):
        path = synthetic / case["input"]
        if path not in seen:
            seen.append(path)
    return inputs + seen


def manifest_requests(path: Path) -> list[dict[str, Any]]:
    """The synthetic cases whose input is ``path`` (several for the two-series folder); one default request
    (no expectation) for any other input."""
    for folder in (path.parent, path.parent.parent):
        manifest = folder / "manifest.json"
        if manifest.is_file():
            cases = json.loads(manifest.read_text(encoding="utf-8"))["cases"]
            found = [c for c in cases if (folder / c["input"]).resolve() == path.resolve()]
            if found:
                return [{**c, "root": str(folder)} for c in found]
    return [{"name": path.name, "options": {}, "expect_error": None}]


def _output(op: str, case_dir: Path, backend: str) -> Path:
    return case_dir / (f"{backend}.npy" if op == "volume" else f"{backend}.nii")


def _request(op: str, path: Path, backend: str, options: dict[str, Any], out: Path) -> dict[str, Any]:
    return {"op": op, "input": str(path), "backend": backend, "options": options, "output": str(out), "overwrite": True}


def load(op: str, output: str) -> cv.Volume:
    if op == "volume":
        sidecar = json.loads(Path(output).with_suffix(".json").read_text(encoding="utf-8"))
        return cv.volume_from_array(np.load(output, allow_pickle=False), np.asarray(sidecar["affine_lps"]))
    return cv.load_nifti(output)


def expected_volume(entry: dict[str, Any]) -> cv.Volume | None:
    if not entry.get("expected"):
        return None
    array = np.load(Path(entry["root"]) / entry["expected"], allow_pickle=False)
    return cv.volume_from_array(array, np.asarray(entry["affine_lps"]))


def check_series(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    for entry in manifest_requests(path):
        sub = f"{case}/{entry['name']}" if entry["name"] != path.name else case
        folder = case_dir / entry["name"]
        folder.mkdir(parents=True, exist_ok=True)
        options = dict(entry.get("options") or {})
        if entry.get("expect_error"):
            check_refusal(ctx, path, sub, backends, folder, options, entry["expect_error"])
        else:
            compare_backends(ctx, path, sub, backends, folder, options, entry)


def check_refusal(
    ctx: Ctx, path: Path, case: str, backends: Sequence[str], folder: Path, options: dict[str, Any], code: str
) -> None:
    """Every backend (the reference too) must refuse with ``code`` (the harness's shared series checks)."""
    op = ctx.config.op
    for backend in (ctx.config.reference, *backends):
        got = run_request(_request(op, path, backend, options, _output(op, folder, backend)), ctx.config.timeout)
        actual = (got.error or {}).get("code")
        problems = [] if actual == code else [f"expected error {code}, got {actual or 'a result'}"]
        as_run = Run(ok=True, error=got.error, command=got.command, duration_ms=got.duration_ms, version=got.version)
        record(
            ctx,
            case=case,
            path=path,
            profile=f"{op}:refusal",
            options={**options, "expect_error": code},
            backend=backend,
            run=as_run,
            problems=problems,
            reference=None,
        )


def compare_backends(
    ctx: Ctx,
    path: Path,
    case: str,
    backends: Sequence[str],
    folder: Path,
    options: dict[str, Any],
    entry: dict[str, Any],
) -> None:
    op, reference = ctx.config.op, ctx.config.reference
    ref = run_request(_request(op, path, reference, options, _output(op, folder, reference)), ctx.config.timeout)
    ref_record(ctx, case, path, op, options, ref)
    volumes: dict[str, cv.Volume] = {}
    ref_volume = load(op, ref.output) if ref.ok and ref.output else None
    if ref_volume is not None:
        volumes[reference] = ref_volume
    expected = expected_volume(entry)
    if expected is not None:
        volumes["expected"] = expected
        problems = None
        metrics: dict[str, Any] = {}
        if ref_volume is not None:
            found = cv.compare(expected, ref_volume)
            problems = [p for aspect in ("geometry", "voxels") for p in found["problems"][aspect]]
            metrics = _metrics(found)
        record(
            ctx,
            case=case,
            path=path,
            profile=f"{op}:expected",
            options=options,
            backend=reference,
            run=ref,
            problems=problems,
            reference=None,
            metrics=metrics,
        )
    for backend in backends:
        got = run_request(_request(op, path, backend, options, _output(op, folder, backend)), ctx.config.timeout)
        if not got.ok or ref_volume is None or not got.output:
            record(
                ctx,
                case=case,
                path=path,
                profile=op,
                options=options,
                backend=backend,
                run=got,
                problems=None,
                reference=ref,
            )
            continue
        try:
            vol = load(op, got.output)
            found = cv.compare(ref_volume, vol)
        except Exception as exc:  # an unreadable output is a finding, not a crash of the run
            record(
                ctx,
                case=case,
                path=path,
                profile=f"{op}:geometry",
                options=options,
                backend=backend,
                run=got,
                problems=[f"output not comparable: {type(exc).__name__}: {exc}"[:300]],
                reference=ref,
            )
            continue
        volumes[backend] = vol
        for aspect in ASPECTS:
            record(
                ctx,
                case=case,
                path=path,
                profile=f"{op}:{aspect}",
                options=options,
                backend=backend,
                run=got,
                problems=found["problems"][aspect],
                reference=ref,
                metrics=_metrics(found),
            )
    if ref_volume is not None:
        ctx.extra.setdefault("slices", []).append(thumbnails(case, volumes, reference))


def _metrics(found: dict[str, Any]) -> dict[str, Any]:
    keys = ("corner_mm", "voxel_max_diff", "voxel_mean_diff", "dtype", "scaling", "shape", "canonical_shape")
    return {k: found.get(k) for k in keys}


def png_data_uri(image: np.ndarray, lo: float, hi: float, spacing: tuple[float, float] = (1.0, 1.0)) -> str:
    """A grayscale PNG (data: URI) of ``image`` windowed to [lo, hi], drawn in proportion to its (row, column)
    spacing, at most ``THUMB`` pixels a side."""
    from PIL import Image

    scaled = np.clip((image - lo) / max(hi - lo, 1e-9) * 255.0, 0, 255).astype(np.uint8)
    img = Image.fromarray(scaled)
    height_mm, width_mm = image.shape[0] * spacing[0], image.shape[1] * spacing[1]
    scale = THUMB / max(height_mm, width_mm, 1e-9)
    img = img.resize((max(1, round(width_mm * scale)), max(1, round(height_mm * scale))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnails(case: str, volumes: dict[str, cv.Volume], reference: str) -> dict[str, Any]:
    """The middle slice of each canonical axis per backend, and |backend - reference| where the shapes agree."""
    ref_slices = cv.middle_slices(volumes[reference])
    everything = np.concatenate([s.ravel() for s in ref_slices])
    lo, hi = (float(v) for v in np.percentile(everything, [1, 99]))
    rows = []
    for name, vol in volumes.items():
        slices = cv.middle_slices(vol)
        spacings = cv.middle_slice_spacings(vol)
        views = [png_data_uri(s, lo, hi, sp) for s, sp in zip(slices, spacings, strict=True)]
        row: dict[str, Any] = {"backend": name, "views": views, "diffs": []}
        if name != reference and all(s.shape == r.shape for s, r in zip(slices, ref_slices, strict=True)):
            for s, r, sp in zip(slices, ref_slices, spacings, strict=True):
                d = np.abs(s - r)
                image = png_data_uri(d, 0.0, max(float(d.max()), 1.0), sp)
                row["diffs"].append({"max": float(d.max()), "image": image})
        rows.append(row)
    return {"case": case, "rows": rows, "window": [lo, hi]}


def finish(ctx: Ctx, report: dict[str, Any]) -> None:
    report["slices"] = ctx.extra.get("slices", [])


NIFTI = OpCheck(files=(), check_file=check_series, finish=finish, corpus=series_corpus)
VOLUME = OpCheck(files=(), check_file=check_series, finish=finish, corpus=series_corpus)
