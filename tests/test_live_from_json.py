"""Live: from_json on PixelMed (its JSONRepresentationOfDicomObjectFactory, through the launcher) against the
original files, every request of the corpus in ONE JVM (``run_batch``).

Every file PixelMed rebuilds must equal the original element by element, or its differences must be the ones
registered for pixelmed and profile ``from_json`` in ``interface/conform/divergences.toml`` (checked here by
their kind: the registered causes are listed in ``EXPECTED``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest

from dcmharness.interface.api import run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.conform.ops.compare_datasets import compare_files
from dcmharness.interface.samples import find

pytestmark = [pytest.mark.live, pytest.mark.slow]

FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb.dcm", "OT-PAL-8-face.dcm", "waveform_ecg.dcm")


def pixelmed_missing() -> str | None:
    from dcmharness.adapters.pixelmed.adapter import PixelMedAdapter
    from dcmharness.adapters.pixelmed.from_json import JSONP_JAR

    adapter = PixelMedAdapter()
    if not adapter.availability().available:
        return "pixelmed not available"
    if adapter.launcher_classes() is None:
        return "the PixelMed launchers are not built: bash adapters/pixelmed/build.sh"
    if not Path(JSONP_JAR).is_file():
        return f"{JSONP_JAR} missing (libjsonp-java)"
    return None


def _dump(path: Path, out: Path) -> None:
    opts = {"bulk_data": "inline", "include_meta": True}
    assert run({"op": "dump", "input": str(path), "output": str(out), "options": opts}).ok


def _diffs(original: Path, output: str) -> set[tuple[str, str]]:
    return {(d.kind, d.path) for d in compare_files(original, Path(output))}


def test_pixelmed_rebuilds_the_sample_files(tmp_path: Path) -> None:
    missing = pixelmed_missing()
    if missing:
        pytest.skip(missing)
    requests: list[dict[str, Any]] = []
    for name in FILES:
        _dump(find(name), tmp_path / f"{name}.json")
        requests.append(
            {
                "op": "from_json",
                "input": str(tmp_path / f"{name}.json"),
                "output": str(tmp_path / name),
                "backend": "pixelmed",
            }
        )
    responses = run_batch(requests)
    assert all(r.ok for r in responses), [r.error for r in responses if not r.ok]
    assert {r.result["batch"]["jobs"] for r in responses if r.result} == {len(FILES)}  # one JVM for all
    got = {name: _diffs(find(name), r.outputs[0]) for name, r in zip(FILES, responses, strict=True)}
    # registered: pixelmed-json-drops-trailing-padding, pixelmed-json-charset-rewritten (ASCII-only text:
    # Specific Character Set removed by insertSuitableSpecificCharacterSetForAllStringValues)
    assert got["CT_small.dcm"] == {("missing", "00080005"), ("missing", "FFFCFFFC")}
    assert got["MR_small.dcm"] == {("missing", "FFFCFFFC")}
    assert got["rtplan.dcm"] == set()
    assert got["SC_rgb.dcm"] == {("missing", "00080005")}  # ISO_IR 192 declared, ASCII-only text
    assert got["OT-PAL-8-face.dcm"] == set()
    assert got["waveform_ecg.dcm"] == {("missing", "00080005")}
    rebuilt = pydicom.dcmread(tmp_path / "SC_rgb.dcm")
    assert rebuilt.pixel_array.tolist() == pydicom.dcmread(find("SC_rgb.dcm")).pixel_array.tolist()
    assert rebuilt.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_pixelmed_refuses_before_the_jvm(tmp_path: Path) -> None:
    missing = pixelmed_missing()
    if missing:
        pytest.skip(missing)
    _dump(find("JPEG2000.dcm"), tmp_path / "j.json")
    got = run(
        {"op": "from_json", "input": str(tmp_path / "j.json"), "output": str(tmp_path / "j.dcm"), "backend": "pixelmed"}
    )
    assert got.error is not None and (got.error.code, got.error.field) == ("unsupported_transfer_syntax", "input")
    assert got.command is None
    _dump(find("rtdose.dcm"), tmp_path / "d.json")
    at = run(
        {"op": "from_json", "input": str(tmp_path / "d.json"), "output": str(tmp_path / "d.dcm"), "backend": "pixelmed"}
    )
    assert at.error is not None and at.error.code == "unsupported_option"
    assert at.error.field == "input:00280009" and "(0xgggg,0xeeee)" in at.error.message


def dcmjs_missing() -> str | None:
    from dcmharness.interface import registry

    avail = registry.get("dcmjs").availability()
    return None if avail.available else f"dcmjs not available: {avail.reason}"


def test_dcmjs_rebuilds_the_sample_files(tmp_path: Path) -> None:
    missing = dcmjs_missing()
    if missing:
        pytest.skip(missing)
    names = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb.dcm", "chrFren.dcm")
    got: dict[str, set[tuple[str, str]]] = {}
    for name in names:
        path = find(name) if name != "chrFren.dcm" else Path(pydicom.data.get_charset_files("chrFren.dcm")[0])
        _dump(path, tmp_path / f"{name}.json")
        resp = run(
            {
                "op": "from_json",
                "input": str(tmp_path / f"{name}.json"),
                "output": str(tmp_path / name),
                "backend": "dcmjs",
            }
        )
        assert resp.ok, resp.error
        got[name] = _diffs(path, resp.outputs[0])
    assert got["CT_small.dcm"] == got["MR_small.dcm"] == got["rtplan.dcm"] == got["SC_rgb.dcm"] == set()
    # registered: dcmjs-from-json-utf8 (non-ASCII text: the Specific Character Set becomes ISO_IR 192)
    assert got["chrFren.dcm"] == {("value", "00080005")}
    rebuilt = pydicom.dcmread(tmp_path / "chrFren.dcm")
    assert rebuilt.SpecificCharacterSet == "ISO_IR 192" and str(rebuilt.PatientName) == "Buc^Jérôme"
