"""The Orthanc adapter without a server: request building (URLs, query strings, headers), VOI planning,
refusals, the server configuration. Golden values are written out by hand."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmharness.adapters.orthanc.adapter import OrthancAdapter
from dcmharness.adapters.orthanc.client import HttpCall, delete_call, http, orthanc_message, upload_call
from dcmharness.adapters.orthanc.rendering import (
    VoiPlan,
    Window,
    capability_table,
    functional_group_rescale_ignored,
    layout_refusal,
    number,
    plan_voi,
    presentation_refusal,
    rendered_call,
    stored_windows,
    window_parameter,
)
from dcmharness.adapters.orthanc.server import find_plugins, server_config
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.backends.python_ref import voi as ref_voi
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.options import ToImageOptions
from dcmharness.interface.samples import find

UIDS = ("1.2.3", "1.2.3.4", "1.2.3.4.5")
BASE = "http://127.0.0.1:8042"


def opts(**kw: Any) -> ToImageOptions:
    return ToImageOptions.model_validate(kw)


def dataset(**kw: Any) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


# -- numbers and the window parameter ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"), [(40.0, "40"), (-600.0, "-600"), (0.0, "0"), (40.5, "40.5"), (-1024.25, "-1024.25")]
)
def test_number_formats_integers_without_fraction(value: float, text: str) -> None:
    assert number(value) == text


def test_window_parameter_linear_and_sigmoid_pass_through() -> None:
    assert window_parameter(Window(40, 400, "linear")) == "40,400,linear"
    assert window_parameter(Window(-600, 1500, "sigmoid")) == "-600,1500,sigmoid"


def test_linear_exact_is_sent_as_the_equal_linear_window() -> None:
    assert window_parameter(Window(40, 400, "linear_exact")) == "40.5,401,linear"
    assert window_parameter(Window(0, 0.5, "linear_exact")) == "0.5,1.5,linear"


@pytest.mark.parametrize(("c", "w"), [(40.0, 400.0), (0.0, 1.0), (100.0, 0.5), (-3.25, 7.0)])
def test_linear_with_shifted_window_equals_linear_exact(c: float, w: float) -> None:
    """PS3.3 C.11.2.1.2.1 with (c+0.5, w+1) is C.11.2.1.3.2 with (c, w): same bounds, same ramp."""
    x = np.linspace(c - w, c + w, 4001)
    x = np.concatenate([x, [c - w / 2, c + w / 2, c]])  # the bounds themselves
    exact = ref_voi.window(x, c, w, "linear_exact", 255)
    shifted = ref_voi.window(x, c + 0.5, w + 1, "linear", 255)
    np.testing.assert_allclose(shifted, exact, atol=1e-9)


# -- the calls ----------------------------------------------------------------------------------------------
def test_rendered_call_explicit_window_png() -> None:
    call = rendered_call(UIDS, 0, "png", None, VoiPlan(Window(40, 400, "linear"), "explicit"))
    assert call.method == "GET"
    assert call.path == "/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/frames/1/rendered"
    assert call.query == (("window", "40,400,linear"),)
    assert call.headers == (("Accept", "image/png"),)
    assert call.url(BASE) == BASE + call.path + "?window=40,400,linear"


def test_rendered_call_jpeg_carries_quality_and_one_based_frame() -> None:
    call = rendered_call(UIDS, 2, "jpeg", 85, VoiPlan(Window(-600, 1500, "sigmoid"), "explicit"))
    assert call.path.endswith("/frames/3/rendered")
    assert call.url(BASE).endswith("/frames/3/rendered?window=-600,1500,sigmoid&quality=85")
    assert call.headers == (("Accept", "image/jpeg"),)


def test_rendered_call_jpeg_default_quality_is_90() -> None:
    call = rendered_call(UIDS, 0, "jpeg", None, VoiPlan(Window(1, 2, "linear"), "explicit"))
    assert ("quality", "90") in call.query


def test_rendered_call_minmax_forces_the_plugins_own_renderer_with_quality() -> None:
    """No window: a quality parameter (ignored for PNG) keeps the plugin from forwarding to the core route."""
    call = rendered_call(UIDS, 0, "png", None, VoiPlan(None, "minmax"))
    assert call.query == (("quality", "90"),)


def test_rendered_call_quotes_odd_uids() -> None:
    call = rendered_call(("1.2/3", "4 5", "6"), 0, "png", None, VoiPlan(None, "minmax"))
    assert call.path == "/dicom-web/studies/1.2%2F3/series/4%205/instances/6/frames/1/rendered"


def test_upload_and_delete_calls() -> None:
    assert upload_call() == HttpCall("POST", "/instances", (), (("Content-Type", "application/dicom"),))
    assert delete_call("ab-cd").describe(BASE) == "DELETE http://127.0.0.1:8042/instances/ab-cd"
    call = rendered_call(UIDS, 0, "png", None, VoiPlan(None, "minmax"))
    assert call.describe(BASE).endswith("/frames/1/rendered?quality=90 [Accept: image/png]")


# -- VOI planning -------------------------------------------------------------------------------------------
def test_plan_voi_explicit_window_defaults_to_linear() -> None:
    plan = plan_voi(opts(window_center=40.0, window_width=400.0), dataset())
    assert plan == VoiPlan(Window(40.0, 400.0, "linear"), "explicit")


def test_plan_voi_explicit_ignores_the_files_function() -> None:
    ds = dataset(VOILUTFunction="SIGMOID")
    assert plan_voi(opts(window_center=1.0, window_width=2.0), ds).window == Window(1.0, 2.0, "linear")


def test_plan_voi_stored_window_by_index_with_file_function() -> None:
    ds = dataset(WindowCenter=[600, 300], WindowWidth=[1600, 700], VOILUTFunction="SIGMOID")
    plan = plan_voi(opts(voi="window", voi_index=1), ds)
    assert plan == VoiPlan(Window(300.0, 700.0, "sigmoid"), "window", 1)


def test_plan_voi_auto_takes_the_first_stored_window() -> None:
    ds = dataset(WindowCenter=[600, 300], WindowWidth=[1600, 700])
    assert plan_voi(opts(), ds) == VoiPlan(Window(600.0, 1600.0, "linear"), "window", 0)


def test_plan_voi_auto_without_window_is_minmax() -> None:
    assert plan_voi(opts(), dataset()) == VoiPlan(None, "minmax")


def test_plan_voi_linear_width_below_one_is_one() -> None:
    ds = dataset(WindowCenter=10, WindowWidth=0.5)
    assert plan_voi(opts(voi="window"), ds).window == Window(10.0, 1.0, "linear")


def test_plan_voi_none_is_the_theoretical_range_as_a_linear_exact_window() -> None:
    # 12-bit unsigned, rescale 1/-1024: [-1024, 3071] -> c = 1023.5, w = 4095
    ds = dataset(BitsStored=12, PixelRepresentation=0, RescaleSlope=1, RescaleIntercept=-1024)
    plan = plan_voi(opts(voi="none"), ds)
    assert plan == VoiPlan(Window(1023.5, 4095.0, "linear_exact"), "none")
    assert window_parameter(plan.window) == "1024,4096,linear"  # type: ignore[arg-type]
    # 16-bit signed, negative slope: endpoints swap
    ds = dataset(BitsStored=16, PixelRepresentation=1, RescaleSlope=-2, RescaleIntercept=0)
    assert plan_voi(opts(voi="none"), ds).window == Window(1.0, 131070.0, "linear_exact")


def test_linear_exact_window_of_the_range_is_the_none_ramp() -> None:
    lo, hi = -1024.0, 3071.0
    x = np.arange(lo - 5, hi + 6)
    ramp = np.clip((x - lo) / (hi - lo), 0, 1) * 255
    np.testing.assert_allclose(ref_voi.window(x, (lo + hi) / 2 + 0.5, hi - lo + 1, "linear", 255), ramp, atol=1e-9)


def test_plan_voi_auto_with_voi_lut_is_refused() -> None:
    ds = dataset(WindowCenter=10, WindowWidth=20, VOILUTSequence=Sequence([Dataset()]))
    with pytest.raises(HarnessError) as err:
        plan_voi(opts(), ds)
    assert (err.value.code, err.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.voi")


def test_plan_voi_missing_stored_window_is_invalid_request() -> None:
    with pytest.raises(HarnessError) as err:
        plan_voi(opts(voi="window", voi_index=2), dataset(WindowCenter=[1, 2], WindowWidth=[3, 4]))
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID_REQUEST, "options.voi_index")


def enhanced(per_frame: list[Dataset], shared: Dataset | None = None, **top: Any) -> Dataset:
    ds = dataset(**top)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    if shared is not None:
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
    return ds


def frame_voi(c: float, w: float, function: str | None = None) -> Dataset:
    item = dataset(WindowCenter=c, WindowWidth=w)
    if function:
        item.VOILUTFunction = function
    return dataset(FrameVOILUTSequence=Sequence([item]))


def test_stored_windows_from_the_per_frame_then_shared_functional_groups() -> None:
    ds = enhanced([frame_voi(100, 200), Dataset()], shared=frame_voi(7, 9, "SIGMOID"))
    assert stored_windows(ds, 0) == ([100.0], [200.0], "linear")
    assert stored_windows(ds, 1) == ([7.0], [9.0], "sigmoid")
    assert plan_voi(opts(), ds, 1) == VoiPlan(Window(7.0, 9.0, "sigmoid"), "window", 0)


def test_top_level_window_wins_over_the_functional_groups() -> None:
    ds = enhanced([frame_voi(100, 200)], WindowCenter=40, WindowWidth=400)
    assert stored_windows(ds, 0) == ([40.0], [400.0], "linear")


def test_functional_group_rescale_is_ignored_only_when_it_differs_from_the_top_level() -> None:
    pvt = dataset(PixelValueTransformationSequence=Sequence([dataset(RescaleSlope=1, RescaleIntercept=-1024)]))
    assert functional_group_rescale_ignored(enhanced([pvt]))
    assert not functional_group_rescale_ignored(enhanced([pvt], RescaleSlope=1, RescaleIntercept=-1024))
    identity = dataset(PixelValueTransformationSequence=Sequence([dataset(RescaleSlope=1, RescaleIntercept=0)]))
    assert not functional_group_rescale_ignored(enhanced([identity]))


def info_of(ds: Dataset, **kw: Any) -> InputInfo:
    return InputInfo(path=Path("x.dcm"), dataset=ds, transfer_syntax="1.2.840.10008.1.2.1", has_pixel_data=True, **kw)


@pytest.mark.parametrize(
    ("presentation", "photometric", "shape", "ok"),
    [
        ("auto", "MONOCHROME2", None, True),
        ("auto", "MONOCHROME1", None, True),
        ("auto", "MONOCHROME1", "INVERSE", True),  # one inversion, as Orthanc does
        ("auto", "MONOCHROME1", "IDENTITY", True),  # still shown inverted (SEMANTICS.md 4)
        ("auto", "MONOCHROME2", "INVERSE", False),
        ("identity", "MONOCHROME2", "INVERSE", True),
        ("identity", "MONOCHROME1", None, False),
        ("inverse", "MONOCHROME1", None, True),
        ("inverse", "MONOCHROME2", None, False),
    ],
)
def test_presentation_is_honoured_when_it_means_inverting_monochrome1(
    presentation: str, photometric: str, shape: str | None, ok: bool
) -> None:
    assert (presentation_refusal(presentation, photometric, shape) is None) == ok


def test_layout_refusals() -> None:
    gray = {"rows": 16, "columns": 32, "bits_allocated": 16, "bits_stored": 10, "photometric": "MONOCHROME2"}
    assert layout_refusal(info_of(dataset(HighBit=9), **gray)) is None
    assert "High Bit 12" in str(layout_refusal(info_of(dataset(HighBit=12), **gray)))
    one_bit = {"rows": 5, "columns": 7, "bits_allocated": 1, "bits_stored": 1, "photometric": "MONOCHROME2"}
    assert layout_refusal(info_of(dataset(), **one_bit)) is None  # one frame
    assert "byte boundary" in str(layout_refusal(info_of(dataset(), frames=2, **one_bit)))
    assert layout_refusal(info_of(dataset(), **{**one_bit, "rows": 8, "frames": 2})) is None
    pal = {"rows": 4, "columns": 4, "bits_allocated": 8, "bits_stored": 8, "photometric": "PALETTE COLOR"}
    assert layout_refusal(info_of(dataset(RedPaletteColorLookupTableDescriptor=[256, 0, 16]), **pal)) is None
    assert "first mapped" in str(
        layout_refusal(info_of(dataset(RedPaletteColorLookupTableDescriptor=[256, 10, 16]), **pal))
    )
    assert "segmented" in str(layout_refusal(info_of(dataset(SegmentedRedPaletteColorLookupTableData=b"\0\0"), **pal)))


# -- refusals (before anything runs: check() starts no server) --------------------------------------------
def check(name: str, output: str = "out.png", **options: Any) -> HarnessError | None:
    path = find(name)
    request = ToImageRequest.model_validate(
        {"op": "to_image", "input": str(path), "output": output, "options": options}
    )
    try:
        OrthancAdapter().check(request, inspect(str(path)))
    except HarnessError as exc:
        return exc
    return None


@pytest.mark.parametrize(
    ("name", "output", "options", "field"),
    [
        ("CT_small.dcm", "x.tiff", {}, "options.format"),
        ("CT_small.dcm", "x.pgm", {}, "options.format"),
        ("CT_small.dcm", "x.png", {"bit_depth": 16}, "options.bit_depth"),
        ("CT_small.dcm", "x.png", {"png_compression": 6}, "options.png_compression"),
        ("CT_small.dcm", "x.png", {"voi": "lut"}, "options.voi"),
        ("CT_small.dcm", "x.png", {"modality_lut": False}, "options.modality_lut"),
        ("CT_small.dcm", "x.png", {"presentation": "inverse"}, "options.presentation"),
        ("RG1_UNCI.dcm", "x.png", {"presentation": "identity"}, "options.presentation"),
        ("CT_small.dcm", "x.png", {"overlay_value": 128}, "options.overlay_value"),
        ("mlut_18.dcm", "x.png", {}, "options.modality_lut"),
        ("vlut_04.dcm", "x.png", {}, "options.voi"),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "x.png", {}, "options.overlays"),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "x.png", {"overlays": [0]}, "options.overlays"),
        ("US1_UNCR.dcm", "x.png", {"window_center": 1.0, "window_width": 2.0}, "options.window_center"),
        ("rtdose_1frame.dcm", "x.png", {}, "input"),
        ("JPEGLSNearLossless_08.dcm", "x.png", {}, "input"),
        ("SC_rgb_16bit.dcm", "x.png", {}, "input"),
        ("gdcm-US-ALOKA-16.dcm", "x.png", {}, "input"),
        ("US1_J2KR.dcm", "x.png", {}, "input"),
        ("SC_ybr_full_422_uncompressed.dcm", "x.png", {}, "input"),
        ("liver.dcm", "x.png", {"window_center": 0.0, "window_width": 2.0}, "options.window_center"),
    ],
)
def test_refused_before_anything_runs(name: str, output: str, options: dict[str, Any], field: str) -> None:
    exc = check(name, output, **options)
    assert exc is not None, f"{name} {options} was not refused"
    assert (exc.code, exc.field) == (ErrorCode.UNSUPPORTED_OPTION, field), exc.message


@pytest.mark.parametrize(
    ("name", "output", "options"),
    [
        ("CT_small.dcm", "x.png", {"window_center": 40.0, "window_width": 400.0, "voi_function": "linear_exact"}),
        ("CT_small.dcm", "x.jpg", {"quality": 75}),
        ("CT_small.dcm", "x.png", {"voi": "minmax"}),
        ("MR_small.dcm", "x.png", {"voi": "window", "voi_index": 0}),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "x.png", {"overlays": False}),
        ("US1_UNCR.dcm", "x.png", {}),
        ("emri_small.dcm", "x.png", {"frame": "all"}),
        ("liver.dcm", "x.png", {"voi": "minmax"}),
        ("CT_small.dcm", "x.png", {"presentation": "identity"}),
        ("RG1_UNCI.dcm", "x.png", {"presentation": "inverse"}),
        ("SC_ybr_full_uncompressed.dcm", "x.png", {}),
        ("color3d_jpeg_baseline.dcm", "x.jpg", {}),
    ],
)
def test_accepted(name: str, output: str, options: dict[str, Any]) -> None:
    assert check(name, output, **options) is None


def test_capability_table_lists_only_honoured_values() -> None:
    caps = capability_table("1.10.1")["to_image"]
    assert caps["voi"] == ("auto", "window", "minmax", "none")
    assert caps["bit_depth"] == (8,)
    assert caps["format"] == (None, "png", "jpeg")
    assert caps["presentation"] is True  # input-dependent: presentation_refusal
    assert caps["png_compression"] is False and caps["overlay_value"] is False


# -- errors and server configuration ------------------------------------------------------------------------
def test_orthanc_message_prefers_message_and_details() -> None:
    body = json.dumps({"HttpStatus": 400, "Message": "Bad file format", "Details": "Cannot parse", "Method": "POST"})
    assert orthanc_message(body) == "Bad file format; Cannot parse"
    assert orthanc_message("plain text") == "plain text"


def test_server_config_is_private_and_loopback_only(tmp_path: Path) -> None:
    cfg = server_config(41234, tmp_path, ["/p/libOrthancDicomWeb.so"])
    assert cfg["HttpPort"] == 41234
    assert cfg["RemoteAccessAllowed"] is False
    assert cfg["DicomServerEnabled"] is False
    assert cfg["AuthenticationEnabled"] is False
    assert cfg["StorageDirectory"] == cfg["IndexDirectory"] == str(tmp_path / "storage")
    assert cfg["Plugins"] == ["/p/libOrthancDicomWeb.so"]


def test_find_plugins_prefers_the_shortest_name_in_the_first_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "libOrthancDicomWeb.so.1.7").touch()
    (b / "libOrthancDicomWeb.so").touch()
    (b / "libOrthancGdcm.so").touch()
    found = find_plugins([str(a), str(b)])
    assert found == {"dicomweb": str(a / "libOrthancDicomWeb.so.1.7"), "gdcm": str(b / "libOrthancGdcm.so")}


# -- HTTP failures become contract errors -------------------------------------------------------------------
@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts connections (backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def test_a_server_that_does_not_answer_is_a_timeout(silent_port: int) -> None:
    commands: list[str] = []
    with pytest.raises(HarnessError) as err:
        http(upload_call(), f"http://127.0.0.1:{silent_port}", b"x", 0.3, commands)
    assert err.value.code == ErrorCode.TIMEOUT
    assert "within 0.3 s" in err.value.message


def test_a_closed_port_is_backend_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # bound, not listening: connection refused
        with pytest.raises(HarnessError) as err:
            http(upload_call(), f"http://127.0.0.1:{port}", b"x", 2.0, [])
    assert err.value.code == ErrorCode.BACKEND_FAILED
    assert "unreachable" in err.value.message


class _Answer400(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"HttpStatus": 400, "Message": "Parameter out of range", "Method": "GET"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_http_error_carries_orthancs_message_and_body() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Answer400)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        call = rendered_call(UIDS, 0, "png", None, VoiPlan(None, "minmax"))
        with pytest.raises(HarnessError) as err:
            http(call, f"http://127.0.0.1:{server.server_address[1]}", None, 5.0, ["GET x"])
    finally:
        thread.join(5)
        server.server_close()
    assert err.value.code == ErrorCode.BACKEND_FAILED
    assert err.value.message.endswith("/frames/1/rendered: Parameter out of range")
    assert getattr(err.value, "command", None) == ["GET x"]
    assert "Parameter out of range" in str(getattr(err.value, "stderr", ""))
