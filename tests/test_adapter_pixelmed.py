"""PixelMed: golden command lines, multi-frame naming, the launcher's protocol, refusals (no JVM started)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dcmharness.adapters.pixelmed.adapter import (
    MAIN_CLASS,
    PixelMedAdapter,
    build_to_image_argv,
    frame_file,
    jar_version,
    java_error,
    job_args,
    multi_frame_output,
    per_frame,
    tool_args,
)
from dcmharness.adapters.pixelmed.launcher import batch_argv, batch_line, parse_answers, unescape_field
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface.samples import find

JAVA, JAR = "/usr/bin/java", "/usr/share/java/pixelmed.jar"


def request(name: str, output: str = "/o/x.png", **options: Any) -> tuple[ToImageRequest, InputInfo]:
    path = str(find(name))
    req = ToImageRequest.model_validate(
        {"op": "to_image", "backend": "pixelmed", "input": path, "output": output, "options": options}
    )
    return req, inspect(path)


def single_plan(output: str = "/o/x.png", frame: int = 0) -> OutputPlan:
    out = Path(output)
    return OutputPlan(targets=[OutputTarget(out, out.with_name(f".{out.stem}.tmp{out.suffix}"), frame)])


def args(name: str, output: str = "/o/x.png", **options: Any) -> list[str]:
    req, info = request(name, output, **options)
    frame = options.get("frame", 0)
    return tool_args(req, info, single_plan(output, frame if isinstance(frame, int) else 0))


# -- golden command lines ----------------------------------------------------------------------------------
def test_explicit_window_full_argv() -> None:
    req, info = request("CT_small.dcm", window_center=40, window_width=400)
    assert build_to_image_argv(req, info, single_plan(), JAVA, JAR) == [
        JAVA, "-Djava.awt.headless=true", "-Xmx259m", "-cp", JAR, MAIN_CLASS,
        os.path.abspath(find("CT_small.dcm")), "/o/.x.tmp.png",
        "png", "40", "400", "0", "0", "-1", "none", "0", "0", "0", "0", "0", "0",
    ]  # fmt: skip


def test_annotation_is_always_none_and_the_region_whole() -> None:
    a = args("MR_small.dcm")
    assert a[8] == "none" and a[9:13] == ["0", "0", "0", "0"] and len(a) == 15


def test_stored_window_is_read_from_the_header() -> None:
    # MR_small stores Window Center 600 / Width 1600 (checked with pydicom)
    ds = inspect(str(find("MR_small.dcm"))).dataset
    assert args("MR_small.dcm", voi="window")[3:5] == [
        str(int(float(ds.WindowCenter))),
        str(int(float(ds.WindowWidth))),
    ]


def test_auto_without_window_lets_pixelmed_choose() -> None:
    assert args("emri_small.dcm", frame=3)[3:5] == ["0", "0"]


def test_frames_are_zero_based_ranges() -> None:
    assert args("emri_small.dcm", frame=3)[13:] == ["3", "3"]


def test_jpeg_quality_0_100_default_90_and_not_for_png() -> None:
    assert args("CT_small.dcm", "/o/x.jpg", quality=75)[2] == "jpeg"
    assert args("CT_small.dcm", "/o/x.jpg", quality=75)[7] == "75"
    assert args("CT_small.dcm", "/o/x.jpg")[7] == "90"
    assert args("CT_small.dcm", "/o/x.tiff")[2:8:5] == ["tiff", "-1"]


def test_fractional_window_keeps_its_digits() -> None:
    assert args("CT_small.dcm", window_center=40.25, window_width=399.5)[3:5] == ["40.25", "399.5"]


# -- multi-frame naming ------------------------------------------------------------------------------------
def test_multi_frame_out_and_pixelmed_names() -> None:
    req, info = request("emri_small.dcm", "/o/em.png", frame="all")
    plan = OutputPlan(
        targets=[
            OutputTarget(Path(f"/o/em_{k:04d}.png"), Path(f"/o/.em_{k:04d}.dcmharness-1-ab.tmp.png"), k)
            for k in range(10)
        ]
    )
    out = multi_frame_output(plan)
    assert out == Path("/o/.em_0000.dcmharness-1-ab.tmp.frames.png")
    assert tool_args(req, info, plan)[1] == str(out)
    assert tool_args(req, info, plan)[13:] == ["0", "-1"]
    # PixelMed: <OUT without its last suffix>_<1-based frame, 10 digits><suffix> (observed with the jar)
    assert frame_file(out, 0).name == ".em_0000.dcmharness-1-ab.tmp.frames_0000000001.png"
    assert frame_file(Path("/o/emri.png"), 9).name == "emri_0000000010.png"


# -- the launcher's protocol -------------------------------------------------------------------------------
def test_batch_line_escapes_and_round_trips() -> None:
    fields = ["/a b/x\tz.dcm", "/o/back\\slash.png", "png", "line\nbreak"]
    line = batch_line(fields)
    assert "\n" not in line and line.count("\t") == 3
    assert [unescape_field(f) for f in line.split("\t")] == fields


def test_answers_are_parsed_and_noise_ignored() -> None:
    stdout = "\n".join(
        [
            "PMB\tOK\t0\t/o/a.png",
            "some log line",
            "PMB\tERR\t1\tcom.pixelmed.dicom.DicomException: SOP Class is not an image",
            "PMB\tOK\t2\t/o/e_0000000001.png\t/o/e_0000000002.png",
        ]
    )
    assert parse_answers(stdout) == {
        0: (True, ["/o/a.png"]),
        1: (False, ["com.pixelmed.dicom.DicomException: SOP Class is not an image"]),
        2: (True, ["/o/e_0000000001.png", "/o/e_0000000002.png"]),
    }


def test_batch_argv_puts_the_launcher_on_the_classpath() -> None:
    assert batch_argv(JAVA, JAR, "/repo/adapters/pixelmed/build", "-Xmx300m") == [
        JAVA, "-Djava.awt.headless=true", "-Xmx300m", "-cp", f"{JAR}:/repo/adapters/pixelmed/build", "PixelMedBatch",
    ]  # fmt: skip


def test_java_error_finds_the_exception_line() -> None:
    stderr = "Nov 22 SEVERE:\njava.io.FileNotFoundException: /nope (No such file or directory)\n\tat java.base/..."
    assert java_error(stderr) == "FileNotFoundException: /nope (No such file or directory)"
    assert java_error("nothing here") is None


def test_jar_version_from_the_file_name(tmp_path: Path) -> None:
    jar = tmp_path / "pixelmed-20220618.jar"
    jar.write_bytes(b"not a zip")
    assert jar_version(str(jar)) == "20220618"


# -- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "output", "options", "code", "field"),
    [
        ("CT_small.dcm", "/o/x.png", {"bit_depth": 16}, "unsupported_option", "options.bit_depth"),
        ("CT_small.dcm", "/o/x.pgm", {}, "unsupported_option", "options.format"),
        ("CT_small.dcm", "/o/x.png", {"voi": "minmax"}, "unsupported_option", "options.voi"),
        ("CT_small.dcm", "/o/x.png", {"voi": "none"}, "unsupported_option", "options.voi"),
        ("CT_small.dcm", "/o/x.png", {"presentation": "inverse"}, "unsupported_option", "options.presentation"),
        ("CT_small.dcm", "/o/x.png", {"modality_lut": False}, "unsupported_option", "options.modality_lut"),
        ("CT_small.dcm", "/o/x.png", {"png_compression": 1}, "unsupported_option", "options.png_compression"),
        ("CT_small.dcm", "/o/x.png", {"overlay_value": 128}, "unsupported_option", "options.overlay_value"),
        (
            "CT_small.dcm",
            "/o/x.png",
            {"window_center": 40, "window_width": 400, "voi_function": "sigmoid"},
            "unsupported_option",
            "options.voi_function",
        ),
        ("vlut_04.dcm", "/o/x.png", {}, "unsupported_option", "options.voi"),  # auto = its VOI LUT
        ("mlut_18.dcm", "/o/x.png", {"voi": "window"}, "unsupported_option", "options.modality_lut"),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "/o/x.png", {}, "unsupported_option", "options.overlays"),
        ("JPEG2000.dcm", "/o/x.png", {}, "unsupported_transfer_syntax", "input"),
        ("JPEG-LL.dcm", "/o/x.png", {}, "unsupported_transfer_syntax", "input"),
        ("MR_small.dcm", "/o/x.png", {"voi": "window", "voi_index": 2}, "invalid_request", "options.voi_index"),
    ],
)
def test_refused_before_running(name: str, output: str, options: dict[str, Any], code: str, field: str) -> None:
    req, info = request(name, output, **options)
    with pytest.raises(HarnessError) as err:
        PixelMedAdapter().check(req, info)
    assert (err.value.code, err.value.field) == (code, field)


def test_min_max_of_every_frame_needs_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    req, info = request("emri_small.dcm", frame="all")  # no stored window: min-max of each frame
    monkeypatch.setattr(PixelMedAdapter, "launcher_classes", lambda self: None)
    with pytest.raises(HarnessError) as err:
        PixelMedAdapter().check_input(req, info)
    assert (err.value.code, err.value.field) == ("unsupported_option", "options.voi")


def test_min_max_frames_become_one_job_each() -> None:
    req, info = request("emri_small.dcm", "/o/em.png", frame="all")
    plan = OutputPlan(targets=[OutputTarget(Path(f"/o/em_{k:04d}.png"), Path(f"/o/.em{k}.png"), k) for k in range(10)])
    assert per_frame(req, info)
    jobs = job_args(req, info, plan)
    assert [(j[1], j[13], j[14]) for j in jobs[:2]] == [("/o/.em0.png", "0", "0"), ("/o/.em1.png", "1", "1")]
    assert len(jobs) == 10
    windowed, _ = request("emri_small.dcm", "/o/em.png", frame="all", window_center=600, window_width=1200)
    assert not per_frame(windowed, info) and len(job_args(windowed, info, plan)) == 1


def test_overlays_off_is_accepted_on_an_overlay_file() -> None:
    req, info = request("MR-SIEMENS-DICOM-WithOverlays.dcm", overlays=False)
    assert PixelMedAdapter().check_input(req, info) == []


def test_unavailable_without_the_jar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIXELMED_JAR", str(tmp_path / "missing.jar"))
    avail = PixelMedAdapter().availability()
    assert not avail.available and avail.reason is not None and "missing.jar" in avail.reason
