"""Golden argv tests of the dcmtk adapter: every option, both tool generations, no dcmtk needed.

Generation 1: dcmj2pnm 3.6.7 (Debian 12), JPEG-LS routed to its sibling dcml2pnm.
Generation 2: dcm2img 3.6.9+ (decodes JPEG-LS itself; same options).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmharness.adapters.base import ToolInfo, check_capabilities
from dcmharness.adapters.dcmtk.render import (
    DcmtkAdapter,
    Generation,
    build_to_image_argv,
    capability_table,
    runs_per_frame,
)
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest

OLD = ToolInfo("/usr/bin/dcmj2pnm", "3.6.7")
NEW = ToolInfo("/opt/dcmtk/bin/dcm2img", "3.6.9")
GENERATIONS = [pytest.param(OLD, id="dcmj2pnm-3.6.7"), pytest.param(NEW, id="dcm2img-3.6.9")]
IN = "/data/ct.dcm"
TEMP = "/out/.ct.dcmharness-1-ab.tmp.png"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG_LS = "1.2.840.10008.1.2.4.80"


def gray(
    *,
    windows: int = 0,
    luts: int = 0,
    photometric: str = "MONOCHROME2",
    shape: str | None = None,
    transfer_syntax: str = EXPLICIT_LE,
    path: str = IN,
) -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    if windows:
        ds.WindowCenter = [40 + 10 * i for i in range(windows)] if windows > 1 else 40
        ds.WindowWidth = [400 + 10 * i for i in range(windows)] if windows > 1 else 400
    if luts:
        ds.VOILUTSequence = Sequence([Dataset() for _ in range(luts)])
    if shape:
        ds.PresentationLUTShape = shape
    return InputInfo(
        path=Path(path),
        dataset=ds,
        transfer_syntax=transfer_syntax,
        has_pixel_data=True,
        rows=4,
        columns=4,
        bits_allocated=16,
        bits_stored=12,
        photometric=photometric,
        n_windows=windows,
        n_voi_luts=luts,
    )


def with_function(info: InputInfo, function: str) -> InputInfo:
    info.dataset.VOILUTFunction = function
    return info


def colour() -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = "RGB"
    ds.SamplesPerPixel = 3
    return InputInfo(
        path=Path(IN), dataset=ds, transfer_syntax=EXPLICIT_LE, has_pixel_data=True, rows=4, columns=4,
        samples_per_pixel=3, bits_allocated=8, bits_stored=8, photometric="RGB",
    )  # fmt: skip


def plan(frames: int = 1, temp: str = TEMP) -> OutputPlan:
    first = Path(temp)
    targets = [OutputTarget(final=Path(f"/out/ct_{k:04d}.png"), temp=first if k == 0 else Path(f"/out/t{k}.png"))
               for k in range(frames)]  # fmt: skip
    return OutputPlan(targets=targets)


def request(options: dict[str, Any], output: str | None = "/out/ct.png") -> ToImageRequest:
    return ToImageRequest.model_validate({"op": "to_image", "input": IN, "output": output, "options": options})


def argv(
    options: dict[str, Any], info: InputInfo | None = None, tool: ToolInfo = OLD, output: str | None = "/out/ct.png"
) -> list[str]:
    return build_to_image_argv(request(options, output), info or gray(), plan(), tool)


def middle(args: list[str]) -> list[str]:
    """The options between the executable and the two paths."""
    return args[1:-2]


# -- the whole command line -----------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", GENERATIONS)
def test_default_request_full_argv(tool: ToolInfo) -> None:
    # no stored window, no VOI LUT: the contract's auto is min-max (+Wm), not dcmtk's default -W
    assert argv({}, tool=tool) == [tool.path, "+F", "1", "+Wm", "+Wfl", "+on", IN, TEMP]


@pytest.mark.parametrize("tool", GENERATIONS)
def test_every_option_at_once(tool: ToolInfo) -> None:
    options = {
        "frame": 2,
        "format": "png",
        "bit_depth": 16,
        "window_center": 40.5,
        "window_width": 400,
        "voi_function": "sigmoid",
        "modality_lut": False,
        "presentation": "inverse",
        "overlays": [3, 0],
    }
    assert argv(options, tool=tool) == [
        tool.path, "+F", "3", "-M", "+Ww", "40.5", "400", "+Wfs", "+Piv", "+O", "1", "+O", "4", "+on2", IN, TEMP,
    ]  # fmt: skip


# -- frame ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(("frame", "flag"), [(0, ["+F", "1"]), (2, ["+F", "3"]), (119, ["+F", "120"])])
def test_frame_is_one_based(tool: ToolInfo, frame: int, flag: list[str]) -> None:
    assert middle(argv({"frame": frame}, tool=tool))[:2] == flag


@pytest.mark.parametrize("tool", GENERATIONS)
def test_all_frames_write_under_a_private_prefix(tool: ToolInfo) -> None:
    args = build_to_image_argv(request({"frame": "all"}), gray(), plan(3), tool)
    assert args[1] == "+Fa"
    assert args[-1] == "/out/.ct.dcmharness-1-ab.tmp.frames"  # dcmtk appends .<k>.png


# -- format, bit depth, quality ---------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(
    ("options", "output", "flags"),
    [
        ({"format": "png"}, "/out/ct.png", ["+on"]),
        ({"format": "png", "bit_depth": 16}, "/out/ct.png", ["+on2"]),
        ({"format": "jpeg"}, "/out/ct.jpg", ["+oj", "+Jq", "90"]),
        ({"format": "jpeg", "quality": 75}, "/out/ct.jpg", ["+oj", "+Jq", "75"]),
        ({"format": "tiff"}, "/out/ct.tif", ["+ot"]),
        ({"format": "pnm"}, "/out/ct.pgm", ["+op"]),
        ({"format": "pnm", "bit_depth": 16}, "/out/ct.pgm", ["+opw"]),
        ({}, "/out/ct.JPEG", ["+oj", "+Jq", "90"]),  # from the extension, never dcmtk's PNM default
        ({"quality": 10}, "/out/ct.jpg", ["+oj", "+Jq", "10"]),
        ({}, "/out/ct.tiff", ["+ot"]),
        ({}, "/out/ct.ppm", ["+op"]),
        ({"bit_depth": 16}, "/out/ct.pnm", ["+opw"]),
        ({}, "/out/ct.bin", ["+on"]),  # unknown extension: png
        ({}, None, ["+on"]),
    ],
)
def test_output_format_flags(tool: ToolInfo, options: dict[str, Any], output: str | None, flags: list[str]) -> None:
    assert middle(argv(options, tool=tool, output=output))[4:] == flags


def test_sixteen_bit_tiff_is_refused() -> None:
    with pytest.raises(HarnessError) as exc:
        argv({"format": "tiff", "bit_depth": 16})
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.bit_depth")


# -- VOI ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(
    ("options", "info", "flags"),
    [
        # auto: the contract's choice (first VOI LUT, else first window, else min-max)
        ({}, gray(luts=2, windows=2), ["+Wl", "1"]),
        ({}, gray(windows=2), ["+Wi", "1", "+Wfl"]),
        ({}, gray(), ["+Wm", "+Wfl"]),
        # explicit windows are LINEAR unless asked: never the file's function
        ({"window_center": 40, "window_width": 400}, gray(windows=1), ["+Ww", "40", "400", "+Wfl"]),
        ({"window_center": -600.25, "window_width": 1500}, gray(), ["+Ww", "-600.25", "1500", "+Wfl"]),
        ({"window_preset": "lung"}, gray(), ["+Ww", "-600", "1500", "+Wfl"]),
        ({"window_center": 40, "window_width": 0.5, "voi_function": "sigmoid"}, gray(), ["+Ww", "40", "0.5", "+Wfs"]),
        ({"window_center": 40, "window_width": 400, "voi_function": "linear"}, gray(), ["+Ww", "40", "400", "+Wfl"]),
        # stored windows and LUTs: 0-based in the contract, 1-based for dcmtk
        ({"voi": "window"}, gray(windows=2), ["+Wi", "1", "+Wfl"]),
        ({"voi": "window", "voi_index": 1}, gray(windows=2), ["+Wi", "2", "+Wfl"]),
        ({"voi": "window", "voi_index": 1, "voi_function": "sigmoid"}, gray(windows=2), ["+Wi", "2", "+Wfs"]),
        ({"voi": "window", "voi_function": "linear"}, gray(windows=1), ["+Wi", "1", "+Wfl"]),
        ({"voi": "lut"}, gray(luts=1), ["+Wl", "1"]),
        ({"voi": "lut", "voi_index": 2}, gray(luts=3), ["+Wl", "3"]),
        ({"voi": "minmax"}, gray(windows=1, luts=1), ["+Wm", "+Wfl"]),
        ({"voi": "minmax"}, with_function(gray(windows=1), "SIGMOID"), ["+Wm", "+Wfl"]),  # never the file's
        ({"voi": "none"}, gray(windows=1, luts=1), ["-W"]),
        # the function applies to windows only (as in the reference)
        ({"voi": "minmax", "voi_function": "sigmoid"}, gray(), ["+Wm", "+Wfl"]),
    ],
)
def test_voi_flags(tool: ToolInfo, options: dict[str, Any], info: InputInfo, flags: list[str]) -> None:
    assert middle(argv(options, info, tool))[2:-1] == flags


def enhanced(per_frame: list[tuple[float, float] | None], shared: tuple[float, float] | None = None) -> InputInfo:
    """An enhanced multi-frame header whose windows live in the functional groups only."""

    def group(window: tuple[float, float] | None, function: str | None = None) -> Dataset:
        item = Dataset()
        if window is not None:
            voi = Dataset()
            voi.WindowCenter, voi.WindowWidth = window
            if function:
                voi.VOILUTFunction = function
            item.FrameVOILUTSequence = Sequence([voi])
        return item

    info = gray()
    info.frames = len(per_frame)
    info.dataset.PerFrameFunctionalGroupsSequence = Sequence([group(w) for w in per_frame])
    info.dataset.SharedFunctionalGroupsSequence = Sequence([group(shared)])
    return info


@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(
    ("options", "info", "flags"),
    [
        # the file's VOI LUT Function applies to its stored windows (always said explicitly to dcmtk)
        ({}, with_function(gray(windows=1), "SIGMOID"), ["+Wi", "1", "+Wfs"]),
        ({"voi": "window"}, with_function(gray(windows=1), "LINEAR"), ["+Wi", "1", "+Wfl"]),
        ({"voi_function": "linear", "voi": "window"}, with_function(gray(windows=1), "SIGMOID"), ["+Wi", "1", "+Wfl"]),
        # ...but never to an explicit window
        ({"window_center": 1, "window_width": 9}, with_function(gray(windows=1), "SIGMOID"), ["+Ww", "1", "9", "+Wfl"]),
        # enhanced objects: dcmtk 3.6.7 does not read functional-group windows, so they go as +Ww
        ({}, enhanced([None, None], shared=(49, 102)), ["+Ww", "49", "102", "+Wfl"]),
        ({"voi": "window"}, enhanced([(10, 20), (30, 40)]), ["+Ww", "10", "20", "+Wfl"]),
        ({"voi": "window", "frame": 1}, enhanced([(10, 20), (30, 40)]), ["+Ww", "30", "40", "+Wfl"]),
        ({"voi": "window", "frame": "all"}, enhanced([None, None], shared=(49, 102)), ["+Ww", "49", "102", "+Wfl"]),
    ],
)
def test_stored_window_function_and_functional_groups(
    tool: ToolInfo, options: dict[str, Any], info: InputInfo, flags: list[str]
) -> None:
    args = build_to_image_argv(request(options), info, plan(info.frames), tool)
    assert middle(args)[(1 if options.get("frame") == "all" else 2) : -1] == flags


@pytest.mark.parametrize(
    ("options", "info", "field"),
    [
        ({}, with_function(gray(windows=1), "LINEAR_EXACT"), "options.voi_function"),
        ({"voi": "window", "frame": "all"}, enhanced([(10, 20), (30, 40)]), "options.frame"),
        ({"window_center": 1, "window_width": 9, "voi_function": "linear_exact"}, gray(), "options.voi_function"),
    ],
)
def test_what_dcmtk_cannot_window_is_refused(options: dict[str, Any], info: InputInfo, field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        build_to_image_argv(request(options), info, plan(info.frames), OLD)
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, field)


@pytest.mark.parametrize(
    ("options", "info", "field"),
    [
        ({"voi": "window"}, gray(), "options.voi"),
        ({"voi": "window", "voi_index": 2}, gray(windows=2), "options.voi_index"),
        ({"voi": "lut"}, gray(windows=1), "options.voi"),
        ({"voi": "lut", "voi_index": 1}, gray(luts=1), "options.voi_index"),
    ],
)
def test_missing_stored_window_or_lut_is_invalid_request(options: dict[str, Any], info: InputInfo, field: str) -> None:
    # dcmtk would only fail at run time ("cannot select VOI window 3"); the index is checked first
    with pytest.raises(HarnessError) as exc:
        argv(options, info)
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID_REQUEST, field)


# -- modality, presentation, overlays --------------------------------------------------------------------------
@pytest.mark.parametrize("tool", GENERATIONS)
def test_modality_lut(tool: ToolInfo) -> None:
    assert "-M" in argv({"modality_lut": False}, tool=tool)
    assert "-M" not in argv({"modality_lut": True}, tool=tool) and "+M" not in argv({}, tool=tool)


@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(
    ("presentation", "info", "flags"),
    [
        ("identity", gray(), ["+Pid"]),
        ("inverse", gray(), ["+Piv"]),
        ("identity", gray(photometric="MONOCHROME1"), ["+Pid"]),
        ("inverse", gray(photometric="MONOCHROME1"), ["+Piv"]),
        ("auto", gray(), []),
        ("auto", gray(photometric="MONOCHROME1"), []),  # dcmtk inverts MONOCHROME1 itself
        ("auto", gray(shape="INVERSE"), []),
        ("auto", gray(photometric="MONOCHROME1", shape="INVERSE"), []),
        # the contract shows MONOCHROME1 inverted even with an explicit IDENTITY shape; dcmtk would not
        ("auto", gray(photometric="MONOCHROME1", shape="IDENTITY"), ["+Piv"]),
    ],
)
def test_presentation_flags(tool: ToolInfo, presentation: str, info: InputInfo, flags: list[str]) -> None:
    assert middle(argv({"presentation": presentation}, info, tool))[4:-1] == flags


@pytest.mark.parametrize("tool", GENERATIONS)
@pytest.mark.parametrize(
    ("overlays", "flags"),
    [
        (True, []),
        (False, ["-O"]),
        ([], ["-O"]),
        ([0], ["+O", "1"]),
        ([15, 2], ["+O", "3", "+O", "16"]),
    ],
)
def test_overlay_flags(tool: ToolInfo, overlays: bool | list[int], flags: list[str]) -> None:
    assert middle(argv({"overlays": overlays}, tool=tool))[4:-1] == flags


@pytest.mark.parametrize("tool", GENERATIONS)
def test_colour_images_get_no_grayscale_flags(tool: ToolInfo) -> None:
    assert argv({}, colour(), tool) == [tool.path, "+F", "1", "+on", IN, TEMP]


@pytest.mark.parametrize(
    ("options", "info", "expected"),
    [
        ({"frame": "all"}, enhanced([None, None]), True),  # auto -> min-max (no window, no LUT)
        ({"frame": "all", "voi": "minmax"}, gray(windows=1), False),  # one frame only
        ({"frame": "all", "voi": "minmax"}, enhanced([(1, 2), (3, 4)]), True),
        ({"frame": "all"}, enhanced([(1, 2), (3, 4)]), False),  # stored windows: one +Fa run
        ({"frame": "all", "voi": "none"}, enhanced([None, None]), False),
        ({"frame": 1, "voi": "minmax"}, enhanced([None, None]), False),
    ],
)
def test_min_max_of_all_frames_runs_per_frame(options: dict[str, Any], info: InputInfo, expected: bool) -> None:
    # with +Fa, dcmtk's +Wm takes the min and max over every frame; the contract's is per frame
    assert runs_per_frame(request(options).options, info) is expected


# -- tools and paths ------------------------------------------------------------------------------------------
def test_jpeg_ls_goes_to_dcml2pnm_on_3_6_7() -> None:
    assert argv({}, gray(transfer_syntax=JPEG_LS), OLD)[0] == "/usr/bin/dcml2pnm"
    assert argv({}, gray(transfer_syntax=EXPLICIT_LE), OLD)[0] == "/usr/bin/dcmj2pnm"


def test_jpeg_ls_stays_with_dcm2img() -> None:
    assert argv({}, gray(transfer_syntax=JPEG_LS), NEW)[0] == "/opt/dcmtk/bin/dcm2img"


def test_dcml2pnm_writes_no_jpeg() -> None:
    # dcml2pnm 3.6.7: "error: Unknown option +oj"
    with pytest.raises(HarnessError) as exc:
        argv({"format": "jpeg"}, gray(transfer_syntax=JPEG_LS), OLD)
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.format")
    assert middle(argv({"format": "jpeg"}, gray(transfer_syntax=JPEG_LS), NEW))[4:] == ["+oj", "+Jq", "90"]


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (ToolInfo("/usr/bin/dcmj2pnm", "3.6.7"), Generation("dcmj2pnm", "dcml2pnm")),
        (ToolInfo("/usr/bin/dcmj2pnm", "3.6.8"), Generation("dcmj2pnm", "dcml2pnm")),
        (ToolInfo("/usr/bin/dcmj2pnm", None), Generation("dcmj2pnm", "dcml2pnm")),
        (ToolInfo("/usr/bin/dcmj2pnm", "3.6.9"), Generation("dcmj2pnm", None)),  # the deprecated alias
        (ToolInfo("/usr/bin/dcm2img", "3.7.0"), Generation("dcm2img", None)),
        (ToolInfo("/usr/bin/dcm2img", None), Generation("dcm2img", None)),
    ],
)
def test_generation_by_name_and_version(tool: ToolInfo, expected: Generation) -> None:
    assert Generation.of(tool.path, tool.version) == expected


@pytest.mark.parametrize("tool", GENERATIONS)
def test_input_starting_with_dash_is_never_an_option(tool: ToolInfo) -> None:
    # dcmtk reads "-x.dcm" as an option and rejects "--" ("Unknown option --"): paths are absolute
    args = argv({}, gray(path="-x.dcm"), tool)
    assert args[-2] == os.path.join(os.getcwd(), "-x.dcm")
    assert all(not a.startswith("-") for a in args[-2:])
    args = build_to_image_argv(request({}), gray(path="/d/-x.dcm"), plan(temp="-t.png"), tool)
    assert args[-2:] == ["/d/-x.dcm", os.path.join(os.getcwd(), "-t.png")]


# -- capabilities (refusals before anything runs) -------------------------------------------------------------
@pytest.mark.parametrize("version", ["3.6.7", "3.6.9", None])
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"png_compression": 6}, "options.png_compression"),
        ({"window_center": 40, "window_width": 400, "voi_function": "linear_exact"}, "options.voi_function"),
        ({"overlay_value": 128}, "options.overlay_value"),
        ({"overlay_value": "#ff0000"}, "options.overlay_value"),
    ],
)
def test_capability_table_refuses(version: str | None, options: dict[str, Any], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        check_capabilities(request(options).options, capability_table(version)["to_image"], "dcmtk")
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, field)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"overlay_value": 255},
        {"overlay_value": "#FFFFFF"},
        {"bit_depth": 16, "overlay_value": 65535},
        {"window_center": 1, "window_width": 2, "voi_function": "sigmoid"},
        {"voi": "lut", "voi_index": 3, "presentation": "inverse", "modality_lut": False, "overlays": [1]},
    ],
)
def test_capability_table_accepts(options: dict[str, Any]) -> None:
    check_capabilities(request(options).options, capability_table("3.6.7")["to_image"], "dcmtk")


@pytest.fixture()
def no_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DcmtkAdapter:
    monkeypatch.setenv("DCMTK_HOME", str(tmp_path))  # an empty folder: no dcmtk
    return DcmtkAdapter()


@pytest.mark.parametrize(
    ("options", "info", "code", "field"),
    [
        ({}, gray(transfer_syntax="1.2.840.10008.1.2.4.90"), ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input"),
        ({}, gray(transfer_syntax="1.2.840.10008.1.2.4.201"), ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input"),
        ({"format": "tiff", "bit_depth": 16}, gray(), ErrorCode.UNSUPPORTED_OPTION, "options.bit_depth"),
        ({"voi": "minmax"}, colour(), ErrorCode.UNSUPPORTED_OPTION, "options.voi"),
        ({"bit_depth": 16}, colour(), ErrorCode.UNSUPPORTED_OPTION, "options.bit_depth"),
        ({"voi": "window"}, gray(), ErrorCode.INVALID_REQUEST, "options.voi"),
    ],
)
def test_check_refuses_from_the_header(
    no_tool: DcmtkAdapter, options: dict[str, Any], info: InputInfo, code: ErrorCode, field: str
) -> None:
    with pytest.raises(HarnessError) as exc:
        no_tool.check(request(options), info)
    assert (exc.value.code, exc.value.field) == (code, field)


def test_check_accepts_a_plain_request(no_tool: DcmtkAdapter) -> None:
    assert no_tool.check(request({"voi": "window"}), gray(windows=1)) == []


def test_unavailable_without_the_tool(no_tool: DcmtkAdapter) -> None:
    avail = no_tool.availability()
    assert not avail.available
    assert avail.reason is not None and "DCMTK_HOME" in avail.reason and "dcmj2pnm" in avail.reason
