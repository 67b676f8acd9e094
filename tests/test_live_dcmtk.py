"""Live: dcmtk and python_ref render the real sample files with the four VOI profiles, pixel against pixel.

Every pair both render must agree within 1 gray level, or the difference must be named by an entry of
``interface/conform/divergences.toml`` (the known, explained causes, with their sources). A file dcmtk refuses
(``unsupported_*``) is counted, never compared. Run ``python tests/test_live_dcmtk.py`` for the table.
"""

from __future__ import annotations

import fnmatch
import math
import shutil
import sys
import tempfile
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.interface.api import run
from dcmharness.interface.conform.compare import compare_files
from dcmharness.interface.conform.profiles import PROFILES
from dcmharness.interface.samples import image_files

pytestmark = [pytest.mark.live, pytest.mark.slow]

LIVE_PROFILES = ("explicit_window", "stored_window", "minmax", "none")
REGISTRY = Path(__file__).resolve().parents[1] / "interface" / "conform" / "divergences.toml"
TOLERANCE = 1.0


def dcmtk_missing() -> str | None:
    from dcmharness.adapters.dcmtk.render import DcmtkAdapter

    avail = DcmtkAdapter().availability()
    return None if avail.available else f"dcmtk not available: {avail.reason}"


# -- a small matcher of the divergence registry (the conformance engineer's interface/divergence.py is the
#    general one; this one reads the same documented format) ------------------------------------------------
def load_divergences(backend: str) -> list[dict[str, Any]]:
    with REGISTRY.open("rb") as fh:
        entries = tomllib.load(fh).get("divergence", [])
    return [e for e in entries if backend in e.get("backends", [])]


def _attr_values(info: InputInfo, keyword: str) -> list[str]:
    if keyword == "TransferSyntaxUID":
        return [info.transfer_syntax or ""]
    value = info.dataset.get(keyword)
    if value is None:
        return []
    if not isinstance(value, str | bytes) and hasattr(value, "__iter__"):
        return [str(v).strip() for v in value]
    return [str(value).strip()]


def entry_matches(entry: dict[str, Any], path: Path, profile: str, options: dict[str, Any], info: InputInfo) -> bool:
    if "profiles" in entry and profile not in entry["profiles"]:
        return False
    for name, want in entry.get("options", {}).items():
        if options.get(name) != want:
            return False
    globs = entry.get("files")
    if globs and not any(fnmatch.fnmatch(str(path) if "/" in g else path.name, g) for g in globs):
        return False
    for keyword, want in entry.get("dataset", {}).items():
        values = _attr_values(info, keyword)
        if want == "*":
            if not values:
                return False
        elif want == "!":
            if values:
                return False
        else:
            wanted = [str(w) for w in (want if isinstance(want, list) else [want])]
            if not any(v in wanted for v in values):
                return False
    return True


def explain(
    entries: list[dict[str, Any]],
    path: Path,
    profile: str,
    options: dict[str, Any],
    info: InputInfo,
    diff: float | None,
) -> str | None:
    """The id of the first entry allowing this difference (``diff`` None: no comparable image).

    The conformance engineer's matcher (``interface/conform/divergence.py``) decides when it is there; this file's
    own small matcher of the same documented format otherwise.
    """
    try:
        from dcmharness.interface.conform import divergence as shared
    except ImportError:
        return explain_locally(entries, path, profile, options, info, diff)
    case = shared.Case(
        backend="dcmtk",
        profile=profile,
        input=str(path),
        options=options,
        dataset=info.dataset,
        transfer_syntax=info.transfer_syntax,
    )
    found = shared.find_explanation(shared.load(REGISTRY), case, math.inf if diff is None else diff, diff is not None)
    return None if found.entry is None else str(found.entry.id)


def explain_locally(
    entries: list[dict[str, Any]],
    path: Path,
    profile: str,
    options: dict[str, Any],
    info: InputInfo,
    diff: float | None,
) -> str | None:
    for e in entries:
        if not entry_matches(e, path, profile, options, info):
            continue
        if e.get("any_difference") or (diff is not None and diff <= float(e.get("max_abs_diff", -1))):
            return str(e["id"])
    return None


# -- one comparison ------------------------------------------------------------------------------------------
@dataclass
class Pair:
    file: Path
    profile: str
    status: str  # agree / explained / unsupported / reference_error / mismatch / failed
    max_abs_diff: float | None = None
    detail: str = ""
    divergence: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def compare_pair(path: Path, profile: str, options: dict[str, Any], info: InputInfo, out: Path) -> Pair:
    tag = f"{path.name}.{profile}"
    responses = {}
    for backend in ("python_ref", "dcmtk"):
        responses[backend] = run(
            {
                "op": "to_image",
                "input": str(path),
                "output": str(out / f"{tag}.{backend}.png"),
                "backend": backend,
                "overwrite": True,
                "timeout": 60,
                "options": options,
            }
        )
    ref, dc = responses["python_ref"], responses["dcmtk"]
    entries = load_divergences("dcmtk")
    if not dc.ok and dc.error and dc.error.code.startswith("unsupported"):
        return Pair(path, profile, "unsupported", detail=f"{dc.error.code}: {dc.error.message}")
    if not ref.ok:
        assert ref.error is not None
        return Pair(path, profile, "reference_error", detail=f"python_ref {ref.error.code}: {ref.error.message}")
    if not dc.ok:
        assert dc.error is not None
        detail = f"dcmtk {dc.error.code}: {dc.error.message}"
        why = explain(entries, path, profile, options, info, None)
        return Pair(path, profile, "explained" if why else "failed", detail=detail, divergence=why)
    metrics = compare_files(ref.outputs[0], dc.outputs[0])
    diff = metrics.max_abs_diff
    if metrics.shape_match and diff <= TOLERANCE:
        return Pair(path, profile, "agree", diff)
    why = explain(entries, path, profile, options, info, diff if metrics.shape_match else None)
    detail = f"max |diff| {diff:g}, {metrics.frac_diff_gt1:.1%} of samples > 1, shapes {metrics.reference_shape}"
    detail += f" vs {metrics.other_shape}"
    return Pair(path, profile, "explained" if why else "mismatch", diff, detail, why)


def corpus_jobs() -> list[tuple[Path, str, dict[str, Any], InputInfo]]:
    jobs = []
    for path in image_files():
        try:
            info = inspect(str(path))
        except HarnessError:
            continue  # not renderable by any backend (the shared checks refuse it the same way everywhere)
        for name in LIVE_PROFILES:
            options = PROFILES[name].options_for(info)
            if options is not None:
                jobs.append((path, name, options, info))
    return jobs


def run_corpus(workers: int = 2) -> list[Pair]:
    out = Path(tempfile.mkdtemp(prefix="dcmharness-live-dcmtk-"))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda j: compare_pair(j[0], j[1], j[2], j[3], out), corpus_jobs()))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def counts(pairs: list[Pair]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {p: Counter() for p in LIVE_PROFILES}
    for pair in pairs:
        table[pair.profile][pair.status] += 1
    return table


@pytest.fixture(scope="module")
def corpus() -> list[Pair]:
    reason = dcmtk_missing()
    if reason:
        pytest.skip(reason)
    return run_corpus()


def test_every_pair_agrees_or_is_explained(corpus: list[Pair]) -> None:
    bad = [f"{p.file.name} [{p.profile}] {p.status}: {p.detail}" for p in corpus if p.status in ("mismatch", "failed")]
    assert not bad, "unexplained differences between dcmtk and python_ref:\n" + "\n".join(bad)


def test_most_pairs_agree_outright(corpus: list[Pair]) -> None:
    table = counts(corpus)
    for profile in LIVE_PROFILES:
        compared = table[profile]["agree"] + table[profile]["explained"]
        assert compared > 0, f"{profile}: nothing compared"
        assert table[profile]["agree"] >= 0.8 * compared, f"{profile}: {dict(table[profile])}"


def test_explained_pairs_name_a_registered_cause(corpus: list[Pair]) -> None:
    ids = {e["id"] for e in load_divergences("dcmtk")}
    for pair in corpus:
        if pair.status == "explained":
            assert pair.divergence in ids


# -- single options, live ---------------------------------------------------------------------------------------
OPTION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("6154", {"voi": "window", "presentation": "inverse"}, ".png"),  # MONOCHROME1: +Piv inverts once
    ("6154", {"voi": "window", "presentation": "identity"}, ".png"),
    ("RG3_UNCR.dcm", {"presentation": "identity"}, ".png"),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", {"overlays": False}, ".png"),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", {"overlays": [0]}, ".png"),
    ("examples_overlay.dcm", {}, ".png"),
    ("CT_small.dcm", {"window_preset": "soft_tissue", "voi_function": "sigmoid"}, ".png"),
    ("CT_small.dcm", {"window_center": 40, "window_width": 400, "bit_depth": 16}, ".png"),
    ("CT_small.dcm", {"voi": "none", "bit_depth": 16}, ".pgm"),
    ("CT_small.dcm", {"modality_lut": False, "voi": "minmax"}, ".tif"),
    ("MR_small.dcm", {"voi": "window", "voi_function": "sigmoid"}, ".png"),
    ("vlut_04.dcm", {"voi": "lut", "bit_depth": 16}, ".png"),
    ("mlut_18.dcm", {}, ".png"),
    ("emri_small_jpeg_ls_lossless.dcm", {"frame": 3}, ".png"),  # dcml2pnm on 3.6.7
    ("emri_small_RLE.dcm", {"frame": 9}, ".png"),
    ("eCT_Supplemental.dcm", {"frame": 1}, ".png"),  # functional-group window, passed as +Ww
    ("US1_UNCR.dcm", {}, ".png"),
    ("OBXXXX1A.dcm", {}, ".png"),
]


@pytest.mark.parametrize(("name", "options", "ext"), OPTION_CASES, ids=lambda v: str(v))
def test_single_options_agree_with_the_reference(name: str, options: dict[str, Any], ext: str, tmp_path: Path) -> None:
    reason = dcmtk_missing()
    if reason:
        pytest.skip(reason)
    from dcmharness.interface.samples import find

    outputs = []
    for backend in ("python_ref", "dcmtk"):
        resp = run(
            {
                "op": "to_image",
                "input": str(find(name)),
                "output": str(tmp_path / f"{backend}{ext}"),
                "backend": backend,
                "options": options,
            }
        )
        assert resp.ok, (backend, resp.error, resp.stderr)
        outputs.append(resp.outputs[0])
    metrics = compare_files(outputs[0], outputs[1])
    assert metrics.shape_match and metrics.mode_match
    assert metrics.max_abs_diff <= TOLERANCE


def test_all_frames_match_frame_by_frame(tmp_path: Path) -> None:
    reason = dcmtk_missing()
    if reason:
        pytest.skip(reason)
    from dcmharness.interface.samples import find

    source = str(find("emri_small.dcm"))
    resp = run({"op": "to_image", "input": source, "output": str(tmp_path / "e.png"), "backend": "dcmtk",
                "options": {"frame": "all", "voi": "minmax"}})  # fmt: skip
    assert resp.ok, resp.error
    assert resp.outputs == [str(tmp_path / f"e_{k:04d}.png") for k in range(10)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"e_{k:04d}.png" for k in range(10)]  # no leftovers
    for k, output in enumerate(resp.outputs):
        ref = run({"op": "to_image", "input": source, "output": str(tmp_path / f"r{k}.png"),
                   "options": {"frame": k, "voi": "minmax"}})  # fmt: skip
        assert compare_files(ref.outputs[0], output).max_abs_diff <= TOLERANCE, k


def test_paths_starting_with_a_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = dcmtk_missing()
    if reason:
        pytest.skip(reason)
    from dcmharness.interface.samples import find

    shutil.copy(find("CT_small.dcm"), tmp_path / "-ct.dcm")
    monkeypatch.chdir(tmp_path)
    resp = run({"op": "to_image", "input": "-ct.dcm", "output": "-ct.png", "backend": "dcmtk"})
    assert resp.ok, (resp.error, resp.stderr)
    assert resp.outputs == [str(tmp_path / "-ct.png")]
    assert resp.command is not None and resp.command[-2] == str(tmp_path / "-ct.dcm")


def test_jpeg_ls_to_jpeg_is_refused_or_written(tmp_path: Path) -> None:
    """dcml2pnm (3.6.7) writes no JPEG: refused before running; dcm2img (3.6.9+) writes it."""
    reason = dcmtk_missing()
    if reason:
        pytest.skip(reason)
    from dcmharness.adapters.dcmtk.render import DcmtkAdapter, Generation
    from dcmharness.interface.samples import find

    tool = DcmtkAdapter().tool()
    assert tool is not None
    resp = run({"op": "to_image", "input": str(find("MR_small_jpeg_ls_lossless.dcm")),
                "output": str(tmp_path / "mr.jpg"), "backend": "dcmtk"})  # fmt: skip
    if Generation.of(tool.path, tool.version).jpeg_ls_tool:
        assert resp.error is not None and (resp.error.code, resp.error.field) == (
            "unsupported_option",
            "options.format",
        )
        assert resp.command is None
    else:
        assert resp.ok, resp.error


def main() -> int:
    reason = dcmtk_missing()
    if reason:
        print(reason)
        return 0
    pairs = run_corpus()
    for p in pairs:
        if p.status not in ("agree",):
            print(f"{p.status:<15} {p.profile:<16} {p.file.name:<45} {p.divergence or ''} {p.detail}")
    print()
    print(f"{'profile':<16} agree explained unsupported reference_error mismatch failed")
    for profile, c in counts(pairs).items():
        print(
            f"{profile:<16} {c['agree']:>5} {c['explained']:>9} {c['unsupported']:>11} {c['reference_error']:>15}"
            f" {c['mismatch']:>8} {c['failed']:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
