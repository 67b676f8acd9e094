"""dcm4che dcm2jpg: what is refused from the header before any JVM starts (issue 20), and how the
installed distribution's OpenCV codecs are detected from its folder layout.

Every refusal here turns a failure or a wrong rendering measured live with dcm2jpg 5.35.0 into
``unsupported_option`` / ``unsupported_transfer_syntax`` naming the field; ``DCM4CHE_HOME`` is pointed at a
fake distribution (with or without the codecs) so the outcome never depends on what this machine has.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import pytest

from dcmharness.adapters.dcm4che import install, limits
from dcmharness.adapters.dcm4che.render import Dcm4cheAdapter
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface import synth
from dcmharness.interface.samples import find

J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
MACHINE = platform.machine()


def _distribution(root: Path, codecs: bool, native_dir: str = "linux-x86-64") -> Path:
    """A dcm4che-5.x-bin layout: bin/dcm2jpg (answers -V) and lib/ with or without the OpenCV codecs."""
    (root / "bin").mkdir(parents=True)
    (root / "lib").mkdir()
    tool = root / "bin" / "dcm2jpg"
    tool.write_text(f"#!{sys.executable}\nprint('dcm2jpg 5.35.0')\n")
    tool.chmod(0o755)
    for jar in ("dcm4che-core-5.35.0.jar", "dcm4che-imageio-5.35.0.jar", "dcm4che-imageio-rle-5.35.0.jar"):
        (root / "lib" / jar).write_bytes(b"")
    if codecs:
        (root / "lib" / "dcm4che-imageio-opencv-5.35.0.jar").write_bytes(b"")
        (root / "lib" / "weasis-core-img-4.12.2.jar").write_bytes(b"")
        (root / "lib" / native_dir).mkdir()
        (root / "lib" / native_dir / "libopencv_java.so").write_bytes(b"")
    return root


@pytest.fixture()
def without_codecs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = _distribution(tmp_path / "dcm4che-plain", codecs=False)
    monkeypatch.setenv("DCM4CHE_HOME", str(home))
    monkeypatch.delenv("JAVA_LIBRARY_PATH", raising=False)
    return home


@pytest.fixture()
def with_codecs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if MACHINE not in ("x86_64", "amd64"):
        pytest.skip(f"the fake distribution carries linux-x86-64 natives; this machine is {MACHINE}")
    home = _distribution(tmp_path / "dcm4che-bin", codecs=True)
    monkeypatch.setenv("DCM4CHE_HOME", str(home))
    monkeypatch.delenv("JAVA_LIBRARY_PATH", raising=False)
    return home


def _check(path: Path | str, **options: Any) -> HarnessError | None:
    req = ToImageRequest.model_validate(
        {"op": "to_image", "backend": "dcm4che", "input": str(path), "output": "/out/x.png", "options": options}
    )
    try:
        Dcm4cheAdapter().check(req, inspect(str(path)))
    except HarnessError as err:
        return err
    return None


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    names = [
        "per_frame_voi",
        "modality_lut_none_range",
        "bits32_unsigned",
        "big_endian_32bit_signed",
        "rgb_16bit_out8",
        "sigmoid_option_signed",
        "one_bit_two_frames",
    ]
    cases = synth.generate(tmp_path_factory.mktemp("synth-dcm4che"), names)
    return {c.name: c.path for c in cases}


# -- sample layouts (BitsAllocated, SamplesPerPixel) ------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("rtdose.dcm", "BitsAllocated 32"),  # measured: max 255 / -1610612735
        ("rtdose_expb_1frame.dcm", "BitsAllocated 32"),
        ("rtdose_rle.dcm", "BitsAllocated 32"),  # Raster ShortInterleavedRaster ... #numDataElements
        ("SC_rgb_32bit.dcm", "BitsAllocated 32"),  # NPE BufferedImage.getRaster()
        ("SC_rgb_rle_32bit_2frame.dcm", "BitsAllocated 32"),  # Raster ... incompatible with ColorModel
        ("SC_rgb_16bit.dcm", "16-bit colour"),  # 16-bit PNG, 65280 levels / Illegal band size
        ("SC_rgb_expb_16bit_2frame.dcm", "16-bit colour"),
        ("SC_rgb_rle_16bit.dcm", "16-bit colour"),  # Number of RLE Segments does not match image type: 6
        ("liver.dcm", "1-bit"),  # 'null' (EOF)
        ("liver_expb_1frame.dcm", "1-bit"),
    ],
)
def test_sample_layouts_dcm2jpg_cannot_read_are_refused(name: str, says: str, without_codecs: Path) -> None:
    err = _check(find(name))
    assert err is not None and err.code == "unsupported_option" and err.field == "input"
    assert says in err.message


@pytest.mark.parametrize("name", ["bits32_unsigned", "big_endian_32bit_signed", "rgb_16bit_out8", "one_bit_two_frames"])
def test_synthetic_sample_layouts_are_refused(name: str, synthetic: dict[str, Path], without_codecs: Path) -> None:
    err = _check(synthetic[name])
    assert err is not None and (err.code, err.field) == ("unsupported_option", "input")


@pytest.mark.parametrize(
    ("bits", "samples", "refused"),
    [(1, 1, True), (8, 1, False), (16, 1, False), (32, 1, True), (8, 3, False), (16, 3, True), (32, 3, True)],
)
def test_sample_format_refusal_table(bits: int, samples: int, refused: bool) -> None:
    assert (limits.sample_format_refusal(bits, samples) is not None) is refused


# -- transfer syntaxes: from the install ----------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "MR_small_jp2klossless.dcm",  # .90: Unsupported Transfer Syntax
        "JPEG2000.dcm",  # .91
        "MR_small_jpeg_ls_lossless.dcm",  # .80
        "JPEGLSNearLossless_08.dcm",  # .81
        "JPGExtended.dcm",  # .51 with 12 bits: Unsupported JPEG data precision 12
        "JPEG-LL.dcm",  # .70: no reader without OpenCV in the source read
    ],
)
def test_codec_transfer_syntaxes_refused_without_opencv(name: str, without_codecs: Path) -> None:
    err = _check(find(name))
    assert err is not None and (err.code, err.field) == ("unsupported_transfer_syntax", "input")


@pytest.mark.parametrize(
    "name", ["MR_small_jp2klossless.dcm", "JPEG2000.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm"]
)
def test_codec_transfer_syntaxes_accepted_with_opencv(name: str, with_codecs: Path) -> None:
    assert _check(find(name)) is None


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm"]
)
def test_what_the_jdk_and_rle_readers_decode_is_accepted_without_opencv(name: str, without_codecs: Path) -> None:
    assert _check(find(name)) is None


def test_transfer_syntax_table() -> None:
    assert limits.transfer_syntax_refusal("1.2.840.10008.1.2.4.51", 8, opencv=False) is None  # JDK: 8-bit
    assert limits.transfer_syntax_refusal("1.2.840.10008.1.2.4.51", 12, opencv=False) is not None
    assert limits.transfer_syntax_refusal("1.2.840.10008.1.2.4.51", 12, opencv=True) is None
    assert limits.transfer_syntax_refusal(J2K_LOSSLESS, 16, opencv=True) is None
    assert limits.transfer_syntax_refusal(JPEG_LOSSLESS_SV1, 8, opencv=False) is not None
    assert limits.transfer_syntax_refusal("1.2.840.10008.1.2.4.201", 8, opencv=True) is not None  # HTJ2K: not declared
    assert limits.transfer_syntax_refusal(None, 8, opencv=True) is not None
    assert len(limits.decodable(False)) == 7 and len(limits.decodable(True)) == 13


def test_capabilities_declare_what_is_installed(without_codecs: Path) -> None:
    caps = Dcm4cheAdapter().capabilities()["to_image"]
    assert caps["transfer_syntaxes"] == sorted(limits.decodable(False))
    assert J2K_LOSSLESS not in caps["transfer_syntaxes"] and caps["codecs"] == "JDK and RLE only"


def test_capabilities_with_codecs(with_codecs: Path) -> None:
    caps = Dcm4cheAdapter().capabilities()["to_image"]
    assert J2K_LOSSLESS in caps["transfer_syntaxes"] and JPEG_LOSSLESS_SV1 in caps["transfer_syntaxes"]


# -- VOI dcm2jpg cannot be asked for --------------------------------------------------------------------------
@pytest.mark.parametrize("voi", ["minmax", "none"])
def test_functional_group_windows_cannot_be_bypassed(
    voi: str, synthetic: dict[str, Path], without_codecs: Path
) -> None:
    for path in (find("eCT_Supplemental.dcm"), synthetic["per_frame_voi"]):  # measured: max 218-251 / 177
        err = _check(path, voi=voi)
        assert err is not None and (err.code, err.field) == ("unsupported_option", "options.voi"), path
        assert "functional groups" in err.message
    assert _check(synthetic["per_frame_voi"]) is None  # auto: the frame's window, as the contract


def test_no_min_max_after_a_modality_lut(synthetic: dict[str, Path], without_codecs: Path) -> None:
    for path in (synthetic["modality_lut_none_range"], find("mlut_18.dcm")):
        for options in ({}, {"voi": "minmax"}):  # auto resolves to min-max on these files
            err = _check(path, **options)
            assert err is not None and (err.code, err.field) == ("unsupported_option", "options.voi")
            assert "Modality LUT" in err.message
        assert _check(path, voi="none") is None  # the LUT's whole output range: what dcm2jpg shows
        assert _check(path, window_center=100, window_width=200) is None


def test_functional_group_voi_reader() -> None:
    assert limits.functional_group_voi(inspect(str(find("eCT_Supplemental.dcm"))).dataset)
    assert not limits.functional_group_voi(inspect(str(find("CT_small.dcm"))).dataset)


# -- windows dcm2jpg's lookup table cannot hold ----------------------------------------------------------------
def test_a_stored_window_outside_the_stored_range_is_refused(synthetic: dict[str, Path], without_codecs: Path) -> None:
    """sigmoid_option_signed: signed 12-bit (-2048..2047) with the stored window 3000/10; dcm2jpg 5.35 failed
    with "-947" (a table of 10 - (9 - (2047 - 2995)) = -947 entries)."""
    for options in ({}, {"voi": "window"}, {"format": "jpeg"}):
        err = _check(synthetic["sigmoid_option_signed"], **options)
        assert err is not None and (err.code, err.field) == ("unsupported_option", "options.voi"), options
        assert "-947 entries" in err.message
    assert _check(synthetic["sigmoid_option_signed"], window_center=0, window_width=1024) is None


def test_an_explicit_window_outside_the_stored_range_is_refused(without_codecs: Path) -> None:
    err = _check(find("CT_small.dcm"), window_center=100000, window_width=10)  # far above any HU
    assert err is not None and (err.code, err.field) == ("unsupported_option", "options.window_center")
    assert _check(find("CT_small.dcm"), window_center=40, window_width=400) is None


@pytest.mark.parametrize(
    ("window", "rescale", "stored", "size"),
    [
        ((3000, 10), (1, 0), (-2048, 2047), -947),  # measured: "-947"
        ((261, 10), (1, 0), (0, 255), 0),  # one above the top: an empty table ("Index -1 out of bounds")
        ((260, 10), (1, 0), (0, 255), 1),  # its last entry still inside: rendered
        ((-100, 10), (1, 0), (0, 255), -95),  # wholly below
        ((100, 1), (1, 0), (0, 255), 2),  # w = 1: two entries from round(99.5) = 100
        ((10, 5), (0.5, 0), (0, 4095), 10),  # linear_half_borders
        ((40, 400), (1, -1024), (0, 4095), 400),  # a CT window
    ],
)
def test_window_table_size(
    window: tuple[float, float], rescale: tuple[float, float], stored: tuple[int, int], size: int
) -> None:
    assert limits.window_table_size(*window, *rescale, *stored) == size


# -- OpenCV detection from the folder layout ---------------------------------------------------------------------
def test_has_opencv_needs_both_jars_and_the_native_library() -> None:
    jars = ["dcm4che-imageio-opencv-5.35.0.jar", "weasis-core-img-4.12.2.jar", "dcm4che-core-5.35.0.jar"]
    assert install.has_opencv(jars, ["libopencv_java.so"])
    assert install.has_opencv(jars, ["libopencv_java4100.so"])
    assert not install.has_opencv(jars, [])
    assert not install.has_opencv(jars[1:], ["libopencv_java.so"])
    assert not install.has_opencv(jars[::2], ["libopencv_java.so"])
    assert not install.has_opencv(jars, ["opencv_java.dll"])


def test_home_is_dcm4che_home_or_the_scripts_parent(tmp_path: Path) -> None:
    home = _distribution(tmp_path / "d", codecs=False)
    tool = str(home / "bin" / "dcm2jpg")
    assert install.home_of(tool, {}) == home
    link = tmp_path / "path-bin"
    link.mkdir()
    (link / "dcm2jpg").symlink_to(home / "bin" / "dcm2jpg")
    assert install.home_of(str(link / "dcm2jpg"), {}) == home  # a symlink on PATH: the script's own folder
    assert install.home_of(tool, {"DCM4CHE_HOME": str(tmp_path)}) == tmp_path
    assert install.home_of(tool, {"DCM4CHE_HOME": tool}) == home  # the script itself: not a folder


@pytest.mark.parametrize("native_dir", ["linux-x86-64", "linux-x86_64"])
def test_opencv_installed_reads_lib_and_the_native_folder(tmp_path: Path, native_dir: str) -> None:
    home = _distribution(tmp_path / "d", codecs=True, native_dir=native_dir)
    tool = str(home / "bin" / "dcm2jpg")
    assert install.opencv_installed(tool, {}, "x86_64")
    assert not install.opencv_installed(tool, {}, "aarch64")  # no linux-aarch64 natives in this copy
    assert not install.opencv_installed(
        str(_distribution(tmp_path / "p", codecs=False) / "bin" / "dcm2jpg"), {}, "x86_64"
    )


def test_java_library_path_replaces_the_native_folder(tmp_path: Path) -> None:
    home = _distribution(tmp_path / "d", codecs=True)
    tool = str(home / "bin" / "dcm2jpg")
    elsewhere = tmp_path / "natives"
    elsewhere.mkdir()
    assert not install.opencv_installed(tool, {"JAVA_LIBRARY_PATH": str(elsewhere)}, "x86_64")
    (elsewhere / "libopencv_java.so").write_bytes(b"")
    assert install.opencv_installed(tool, {"JAVA_LIBRARY_PATH": f"/nowhere:{elsewhere}"}, "x86_64")


def test_info_fields_the_refusals_read() -> None:
    info: InputInfo = inspect(str(find("SC_rgb_16bit.dcm")))
    assert (info.bits_allocated, info.samples_per_pixel) == (16, 3)
