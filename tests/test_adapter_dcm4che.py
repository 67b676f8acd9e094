"""dcm4che dcm2jpg: golden command lines, refusals, batch grouping, and the run path against a stand-in.

dcm2jpg is not installable here, so the execution path is exercised with a tiny stand-in script that
behaves as dcm2jpg does where the adapter depends on it: one file -> the named file, several -> files
named ``<input name>.<suffix>`` in the output folder, ``Failed to convert <file>: <message>`` on stdout
and exit 0 for an input it cannot read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcmharness.adapters.dcm4che.render import (
    Dcm4cheAdapter,
    Unit,
    build_to_image_argv,
    overlay_args,
    parse_failures,
    plan_calls,
    presentation_args,
    units_of,
)
from dcmharness.backends.batch import Job
from dcmharness.backends.outputs import OutputPlan, OutputTarget, plan_outputs
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.options import ToImageOptions
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.samples import find

TOOL = "/opt/dcm4che/bin/dcm2jpg"
SOFT = {"window_center": 40, "window_width": 400}


def request(name: str, output: str = "/out/x.png", **options: Any) -> tuple[ToImageRequest, InputInfo]:
    path = str(find(name))
    req = ToImageRequest.model_validate(
        {"op": "to_image", "backend": "dcm4che", "input": path, "output": output, "options": options}
    )
    return req, inspect(path)


def argv(name: str, output: str = "/out/x.png", frame: int = 0, **options: Any) -> list[str]:
    req, info = request(name, output, **options)
    target = OutputTarget(
        final=Path(output), temp=Path("/out/.x.tmp.png").with_suffix(Path(output).suffix), frame=frame
    )
    return build_to_image_argv(req, info, target, TOOL)[1:]


# -- golden command lines ----------------------------------------------------------------------------------
def test_explicit_window_png() -> None:
    ct = os.path.abspath(find("CT_small.dcm"))
    assert argv("CT_small.dcm", window_center=40, window_width=400) == [
        "-F", "PNG", "--windowCenter=40", "--windowWidth=400", ct, "/out/.x.tmp.png",
    ]  # fmt: skip


def test_negative_centre_cannot_be_taken_for_an_option() -> None:
    assert argv("CT_small.dcm", window_preset="lung")[2:4] == ["--windowCenter=-600", "--windowWidth=1500"]
    assert argv("CT_small.dcm", window_center=40.5, window_width=1.25)[2:4] == [
        "--windowCenter=40.5",
        "--windowWidth=1.25",
    ]


def test_jpeg_quality_is_a_fraction_and_defaults_to_90() -> None:
    assert argv("CT_small.dcm", "/out/x.jpg", quality=75)[:4] == ["-F", "JPEG", "-q", "0.75"]
    assert argv("CT_small.dcm", "/out/x.jpg")[:4] == ["-F", "JPEG", "-q", "0.9"]
    assert argv("CT_small.dcm", "/out/x.tiff")[:2] == ["-F", "TIFF"]


def test_frame_is_one_based() -> None:
    assert argv("emri_small.dcm", frame=7)[:2] == ["--frame", "8"]
    assert "--frame" not in argv("emri_small.dcm", frame=0)  # dcm2jpg's default: frame 1


def test_deflated_input_is_read_through_dicominputstream() -> None:
    assert "--usedis" not in argv("image_dfl.dcm")  # no --frame: DicomInputStream already
    # (a deflated multi-frame file would get --frame n --usedis; none is among the samples)


def test_stored_window_and_voi_lut_by_one_based_index() -> None:
    assert argv("MR_small.dcm", voi="window")[2:4] == ["--window", "1"]
    assert argv("vlut_04.dcm", voi="lut")[2:5] == ["--uselut", "--voilut", "1"]
    # auto: the contract prefers the VOI LUT, dcm2jpg the window: --uselut says which
    assert argv("vlut_04.dcm")[2:5] == ["--uselut", "--voilut", "1"]
    assert argv("MR_small.dcm")[2:3] == [os.path.abspath(find("MR_small.dcm"))]  # auto: dcm2jpg's default window 1


def test_out_of_range_index_is_checked_here_not_left_to_fall_back() -> None:
    req, info = request("MR_small.dcm", voi="window", voi_index=3)
    with pytest.raises(HarnessError) as err:
        Dcm4cheAdapter().check_input(req, info)
    assert err.value.code == "invalid_request" and err.value.field == "options.voi_index"


def test_none_is_noauto_on_files_without_stored_voi() -> None:
    assert argv("emri_small.dcm", voi="none")[2:3] == ["--noauto"]
    assert argv("emri_small.dcm", voi="minmax")[2:3] == [os.path.abspath(find("emri_small.dcm"))]


@pytest.mark.parametrize(
    ("photometric", "shape", "presentation", "expected"),
    [
        ("MONOCHROME2", "", "auto", []),
        ("MONOCHROME1", "", "auto", []),
        ("MONOCHROME1", "IDENTITY", "auto", ["--noshape"]),  # the contract inverts MONOCHROME1 anyway
        ("MONOCHROME2", "INVERSE", "auto", []),
        ("MONOCHROME2", "INVERSE", "identity", ["--noshape"]),
        ("MONOCHROME1", "INVERSE", "inverse", []),
        ("MONOCHROME2", "", "identity", []),
    ],
)
def test_presentation_through_noshape(photometric: str, shape: str, presentation: str, expected: list[str]) -> None:
    ds = {"PhotometricInterpretation": photometric, "PresentationLUTShape": shape or None}
    opts = ToImageOptions.model_validate({"presentation": presentation})
    assert presentation_args(opts, ds) == expected


@pytest.mark.parametrize(("photometric", "presentation"), [("MONOCHROME2", "inverse"), ("MONOCHROME1", "identity")])
def test_presentation_out_of_reach_is_refused(photometric: str, presentation: str) -> None:
    opts = ToImageOptions.model_validate({"presentation": presentation})
    with pytest.raises(HarnessError) as err:
        presentation_args(opts, {"PhotometricInterpretation": photometric})
    assert err.value.code == "unsupported_option" and err.value.field == "options.presentation"


def test_overlay_mask_and_values() -> None:
    def ovl(colour: bool = False, **o: Any) -> list[str]:
        return overlay_args(ToImageOptions.model_validate(o), colour)

    assert ovl() == []
    assert ovl(overlays=False) == ["--overlays", "0"]
    assert ovl(overlays=[0, 2, 15]) == ["--overlays", "8005"]
    assert ovl(overlay_value=128) == ["--ovlygray", "8080"]  # 0x8080 >> 8 = 128 on 8-bit output
    assert ovl(True, overlay_value="#FF8000") == ["--ovlyrgb", "#ff8000"]


# -- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "output", "options", "field"),
    [
        ("CT_small.dcm", "/out/x.png", {"bit_depth": 16}, "options.bit_depth"),
        ("CT_small.dcm", "/out/x.png", {**SOFT, "voi_function": "sigmoid"}, "options.voi_function"),
        ("CT_small.dcm", "/out/x.png", {**SOFT, "voi_function": "linear_exact"}, "options.voi_function"),
        ("CT_small.dcm", "/out/x.png", {"modality_lut": False}, "options.modality_lut"),
        ("CT_small.dcm", "/out/x.png", {"png_compression": 6}, "options.png_compression"),
        ("CT_small.dcm", "/out/x.pgm", {}, "options.format"),
        ("MR_small.dcm", "/out/x.png", {"voi": "minmax"}, "options.voi"),  # it has a stored window
        ("MR_small.dcm", "/out/x.png", {"voi": "none"}, "options.voi"),
    ],
)  # fmt: skip
def test_refused_before_running(name: str, output: str, options: dict[str, Any], field: str) -> None:
    req, info = request(name, output, **options)
    with pytest.raises(HarnessError) as err:
        Dcm4cheAdapter().check(req, info)
    assert err.value.code == "unsupported_option"
    assert err.value.field == field


# -- batching ----------------------------------------------------------------------------------------------
def _job(name: str, output: str, **options: Any) -> Job:
    req, info = request(name, output, **options)
    plan = OutputPlan(targets=[OutputTarget(Path(output), Path(output).with_name("." + Path(output).name), 0)])
    return Job(req, info, plan)


def test_shared_options_make_one_call_with_an_outdir() -> None:
    jobs = [_job("CT_small.dcm", "/o/a.png"), _job("MR_small.dcm", "/o/b.png"), _job("CT_small.dcm", "/o/c.png")]
    calls = plan_calls(units_of(jobs), TOOL, Path("/w"))
    ct, mr = os.path.abspath(find("CT_small.dcm")), os.path.abspath(find("MR_small.dcm"))
    assert [c.argv for c in calls] == [
        [TOOL, "-F", "PNG", ct, mr, "/w/call-0"],
        [TOOL, "-F", "PNG", ct, "/o/.c.png"],  # same file name again: its own call
    ]
    assert [(u.job, str(p)) for u, p in calls[0].outputs] == [
        (0, "/w/call-0/CT_small.dcm.png"),
        (1, "/w/call-0/MR_small.dcm.png"),
    ]


def test_different_options_split_calls() -> None:
    jobs = [_job("CT_small.dcm", "/o/a.png"), _job("MR_small.dcm", "/o/b.jpg")]
    calls = plan_calls(units_of(jobs), TOOL, Path("/w"))
    assert len(calls) == 2 and all(c.outdir is None for c in calls)


def test_failure_lines_are_parsed() -> None:
    out = "/a/x.dcm -> /o/x.dcm.png\nFailed to convert /a/bad.dcm: Unsupported Transfer Syntax\n\tat org.dcm4che3..."
    assert parse_failures(out) == {"/a/bad.dcm": "Unsupported Transfer Syntax"}


def test_unit_carries_its_frame() -> None:
    req, info = request("emri_small.dcm", "/o/e.png", frame="all")
    plan = OutputPlan(targets=[OutputTarget(Path(f"/o/e_{k:04d}.png"), Path(f"/o/.e{k}.png"), k) for k in range(3)])
    units = units_of([Job(req, info, plan)])
    assert [u.options[:2] for u in units] == [("-F", "PNG"), ("--frame", "2"), ("--frame", "3")]
    assert all(isinstance(u, Unit) for u in units)


# -- the run path, against a stand-in dcm2jpg ------------------------------------------------------------------
FAKE = r"""#!{python}
import json, os, sys
from PIL import Image
args = sys.argv[1:]
with open(os.environ["FAKE_DCM2JPG_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args == ["-V"]:
    print("dcm2jpg 5.34.1"); sys.exit(0)
with_value = {{"-F", "-q", "--frame", "-c", "-w", "--window", "--voilut", "--overlays", "--ovlygray", "--ovlyrgb"}}
pos, fmt, i = [], "JPEG", 0
while i < len(args):
    if args[i] in with_value:
        fmt = args[i + 1] if args[i] == "-F" else fmt
        i += 2
    elif args[i].startswith("--"):
        i += 1
    else:
        pos.append(args[i]); i += 1
srcs, dest = pos[:-1], pos[-1]
for src in srcs:
    out = os.path.join(dest, os.path.basename(src) + "." + fmt.lower()) if len(srcs) > 1 else dest
    if "bad" in os.path.basename(src):
        print("Failed to convert " + src + ": cannot read"); continue
    Image.new("L", (4, 3), 7).save(out, format=fmt)
    print(src + " -> " + out)
"""


@pytest.fixture()
def fake_dcm2jpg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dcm4che"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "dcm2jpg"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("DCM4CHE_HOME", str(home))
    monkeypatch.setenv("FAKE_DCM2JPG_LOG", str(log))
    registry.close_all()
    yield log
    registry.close_all()


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines() if json.loads(line) != ["-V"]]


def test_single_request_runs_one_call(fake_dcm2jpg: Path, tmp_path: Path) -> None:
    out = tmp_path / "ct.png"
    resp = run({"op": "to_image", "backend": "dcm4che", "input": str(find("CT_small.dcm")), "output": str(out)})
    assert resp.ok, resp.error
    assert resp.backend_version == "5.34.1"
    assert resp.outputs == [str(out)] and resp.result is not None and resp.result["width"] == 4
    assert len(_calls(fake_dcm2jpg)) == 1


def test_batch_maps_outputs_back_and_isolates_a_failure(fake_dcm2jpg: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(find("MR_small.dcm").read_bytes())
    names = [find("CT_small.dcm"), find("MR_small.dcm"), bad, find("emri_small.dcm")]
    reqs = [
        {"op": "to_image", "backend": "dcm4che", "input": str(p), "output": str(tmp_path / f"o{k}.png")}
        for k, p in enumerate(names)
    ]
    responses = run_batch(reqs)
    assert [r.ok for r in responses] == [True, True, False, True]
    assert responses[2].error is not None and responses[2].error.code == "backend_failed"
    assert "cannot read" in responses[2].error.message
    assert not (tmp_path / "o2.png").exists()
    assert [Path(r.outputs[0]).name for r in responses if r.ok] == ["o0.png", "o1.png", "o3.png"]
    calls = _calls(fake_dcm2jpg)
    assert len(calls) == 1 and len(calls[0]) == 2 + 4 + 1  # -F PNG, four inputs, the outdir
    assert not list(tmp_path.glob(".o*"))  # no temp file left


def test_frame_all_is_one_call_per_frame(fake_dcm2jpg: Path, tmp_path: Path) -> None:
    resp = run(
        {
            "op": "to_image",
            "backend": "dcm4che",
            "input": str(find("emri_small.dcm")),
            "output": str(tmp_path / "e.png"),
            "options": {"frame": "all", "voi": "none"},
        }
    )
    assert resp.ok, resp.error
    assert [Path(p).name for p in resp.outputs] == [f"e_{k:04d}.png" for k in range(10)]
    calls = _calls(fake_dcm2jpg)
    assert [c[:2] for c in calls] == [["-F", "PNG"]] + [["--frame", str(k + 1)] for k in range(1, 10)]
    assert all("--noauto" in c for c in calls)


def test_unavailable_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DCM4CHE_HOME", str(tmp_path / "nowhere"))
    avail = Dcm4cheAdapter().availability()
    assert not avail.available and avail.reason is not None and "adapters/dcm4che/README.md" in avail.reason


def test_plan_outputs_fixture_sanity(tmp_path: Path) -> None:
    plan = plan_outputs([(tmp_path / "a.png", 0)], overwrite=False)
    assert plan.targets[0].temp.parent == tmp_path


# -- dcm4che's integer window ramp, modelled from its source ---------------------------------------------------
def java_round(x: float | np.floating[Any]) -> int:
    """Java's Math.round(float): floor(x + 0.5) in single precision."""
    return int(np.floor(np.float32(x) + np.float32(0.5)))


def dcm4che_window(stored: np.ndarray, c: float, w: float, slope: float, intercept: float) -> np.ndarray:
    """dcm2jpg's 8-bit window, as dcm4che-image 5.3x builds it (LookupTableFactory.combineModalityVOILUT and
    the ramp constructor of ByteLookupTable): a table of ``size = max(2, round(w/|m|))`` entries
    ``(i*255 + (size-1)/2) / (size-1)`` (integer division) from ``offset = round((c - w/2 - b)/|m|)``, indexed
    by the STORED value and clamped (5.3x clips the table to the stored range, which clamps the same way
    while it keeps an entry: ``adapters/dcm4che/limits.py`` refuses the windows that leave none); float
    arithmetic in single precision. It reproduces issue 20's measurements: 28 levels at most (mean 2.0) on
    linear_half_borders, the w = 1 step one value late on linear_w1_threshold."""
    f = np.float32
    m = abs(f(slope))
    size = max(2, java_round(f(w) / m))
    offset = java_round((f(c) - f(w) / f(2) - f(intercept)) / m)
    index = np.arange(size, dtype=np.int64)
    lut = (index * 255 + (size - 1) // 2) // (size - 1)
    if slope < 0:
        lut = lut[::-1]
    return lut[np.clip(stored.astype(np.int64) - offset, 0, size - 1)]


def test_the_model_reproduces_the_ramp_by_hand() -> None:
    # c = 10, w = 4: 4 entries 0, 85, 170, 255 ((i*255 + 1) // 3) from offset round(10 - 4/2) = 8, so
    # stored 8 -> 0, 9 -> 85, 10 -> 170, 11 -> 255; the contract's LINEAR gives the same here
    # (x <= 8 -> 0, ((9 - 9.5)/3 + 0.5)*255 = 85, 170, 255)
    stored = np.array([0, 8, 9, 10, 11, 12, 20])
    assert dcm4che_window(stored, 10, 4, 1, 0).tolist() == [0, 0, 85, 170, 255, 255, 255]


def test_the_model_reproduces_what_dcm2jpg_535_did_on_narrow_windows() -> None:
    """Issue 20's measurements, registered as dcm4che-integer-window-ramp-narrow and -w1-threshold-one-value-late:
    the synthetic cases' stored values and windows through the model, against the contract's expected images."""
    from dcmharness.interface.synth import cases_gray

    half = cases_gray.linear_half_borders()  # stored 0..63, slope 0.5, window 10/5
    x = np.frombuffer(half.ds.PixelData, "<u2").reshape(half.expected.shape)
    diff = np.abs(dcm4che_window(x, 10, 5, 0.5, 0) - half.expected.astype(np.int64))
    assert (int(diff.max()), round(float(diff.mean()), 2)) == (28, 2.02)  # measured: max 28, mean 2.0
    w1 = cases_gray.linear_w1_threshold()  # stored 90..110, window 100/1
    x = np.frombuffer(w1.ds.PixelData, "<u2").reshape(w1.expected.shape)
    wrong = dcm4che_window(x, 100, 1, 1, 0) != w1.expected
    assert set(x[wrong].tolist()) == {100} and int(wrong.sum()) == 26  # 26 * 255 / 512 = 12.95: measured 12.9


@pytest.mark.parametrize(
    ("name", "profile"),
    [("CT_small.dcm", "explicit_window"), ("MR_small.dcm", "stored_window"), ("6154", "explicit_window"),
     ("4467", "stored_window"), ("RG1_UNCI.dcm", "stored_window"), ("693_UNCR.dcm", "explicit_window")],
)  # fmt: skip
def test_integer_ramp_stays_within_one_level(name: str, profile: str) -> None:
    """Why no divergence is registered for dcm4che's integer window ramp: modelled from its source, it stays
    within the contract's 1-level tolerance of python_ref on these files (on all 142 explicit/stored-window
    cases of the sample corpus when this was written, overlays aside)."""
    from dcmharness.adapters import header
    from dcmharness.backends.python_ref.decode import decode_frame
    from dcmharness.interface.api import render
    from dcmharness.interface.conform.profiles import PROFILES

    info = inspect(str(find(name)))
    ds = info.dataset
    options = PROFILES[profile].options_for(info)
    assert options is not None
    c, w = options.get("window_center"), options.get("window_width")
    if c is None or w is None:
        c, w = header.stored_windows(ds)[0]
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    modelled = dcm4che_window(decode_frame(ds, 0, info.transfer_syntax), c, w, slope, intercept)
    if info.photometric == "MONOCHROME1":
        modelled = 255 - modelled
    reference = render(str(find(name)), 0, **options).astype(np.int64)
    assert int(np.abs(modelled - reference).max()) <= 1


# -- run_batch: the dispatcher of the batch path ------------------------------------------------------------
def test_run_batch_keeps_order_and_answers_like_run(fake_dcm2jpg: Path, tmp_path: Path) -> None:
    ct, mr = str(find("CT_small.dcm")), str(find("MR_small.dcm"))
    reqs: list[Any] = [
        {"id": "a", "op": "to_image", "backend": "dcm4che", "input": ct, "output": str(tmp_path / "a.png")},
        {"id": "b", "op": "to_image", "backend": "python_ref", "input": ct, "output": str(tmp_path / "b.png")},
        {"id": "c", "op": "to_image", "backend": "dcm4che", "input": ct, "options": {"bit_depth": 16}},
        {"id": "d", "op": "to_image", "backend": "dcm4che", "input": str(tmp_path / "missing.dcm")},
        "not an object",
        {"id": "f", "op": "to_image", "backend": "dcm4che", "input": mr, "output": str(tmp_path / "f.png")},
    ]  # fmt: skip
    batched = run_batch(reqs)
    assert [r.id for r in batched] == ["a", "b", "c", "d", None, "f"]
    assert [r.ok for r in batched] == [True, True, False, False, False, True]
    # the refusals are exactly what run() answers
    for k in (2, 3, 4):
        got, want = batched[k].error, run(reqs[k]).error
        assert got is not None and want is not None
        assert (got.code, got.field) == (want.code, want.field)
    assert batched[2].error is not None and batched[2].error.code == "unsupported_option"
    assert batched[3].error is not None and batched[3].error.code == "input_not_found"
    assert len(_calls(fake_dcm2jpg)) == 1  # a and f (same options) shared one dcm2jpg call
    assert batched[0].result is not None and batched[0].result["batch"] == {"jobs": 2, "calls": 1}


def test_run_batch_output_exists_is_per_request(fake_dcm2jpg: Path, tmp_path: Path) -> None:
    (tmp_path / "taken.png").write_bytes(b"keep me")
    ct = str(find("CT_small.dcm"))
    reqs = [
        {"op": "to_image", "backend": "dcm4che", "input": ct, "output": str(tmp_path / "taken.png")},
        {"op": "to_image", "backend": "dcm4che", "input": ct, "output": str(tmp_path / "free.png")},
    ]
    first, second = run_batch(reqs)
    assert first.error is not None and first.error.code == "output_exists"
    assert second.ok
    assert (tmp_path / "taken.png").read_bytes() == b"keep me"
