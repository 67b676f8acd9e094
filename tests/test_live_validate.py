"""Live: dciodvfy (dicom3tools) and PixelMed's DicomInstanceValidator on the planted-defect files, and the
validate conformance over them with 0 unexplained differences. Skipped, saying why, where a tool is absent."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.synth.validate_cases import generate

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::UserWarning")]

#: What PixelMed does not report, each named by a registry entry (pixelmed-no-file-meta-checks), or refuses.
PIXELMED_NOT_FOUND = {"bad_file_meta", "unknown_sop_class"}


def missing(name: str) -> str | None:
    avail = registry.get(name).availability()
    return None if avail.available else f"{name} unavailable: {avail.reason}"


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return generate(tmp_path_factory.mktemp("validate_live"))


def errors_of(path: Path, backend: str) -> tuple[bool, set[tuple[str, str | None, str | None]]]:
    resp = run({"op": "validate", "input": str(path), "backend": backend})
    assert resp.ok, (path.name, resp.error)
    assert resp.result is not None
    found = {(f["kind"], f["tag"], f["path"]) for f in resp.result["findings"] if f["severity"] == "error"}
    return resp.result["valid"], found


def test_dicom3tools_finds_every_planted_defect(cases: list[Any]) -> None:
    if why := missing("dicom3tools"):
        pytest.skip(why)
    for case in cases:
        valid, errors = errors_of(case.path, "dicom3tools")
        if case.expected is None:
            assert valid and not errors, (case.name, errors)
        else:
            assert (case.expected.kind, case.expected.tag, case.expected.path) in errors, (case.name, errors)


def test_pixelmed_on_the_enhanced_ct_cases(cases: list[Any]) -> None:
    if why := missing("pixelmed"):
        pytest.skip(why)
    if registry.get("pixelmed").launcher_classes() is None:  # type: ignore[attr-defined]
        pytest.skip("the PixelMed launcher is not built (bash adapters/pixelmed/build.sh)")
    for case in (c for c in cases if c.base == "enhanced_ct" and c.defect not in PIXELMED_NOT_FOUND):
        valid, errors = errors_of(case.path, "pixelmed")
        if case.expected is None:
            assert valid and not errors, (case.name, errors)
        else:
            assert (case.expected.kind, case.expected.tag, case.expected.path) in errors, (case.name, errors)
    meta = next(c for c in cases if c.name == "enhanced_ct__bad_file_meta")
    assert errors_of(meta.path, "pixelmed") == (True, set())  # it does not read the File Meta Information


def test_pixelmed_refuses_an_iod_it_does_not_know(cases: list[Any]) -> None:
    if why := missing("pixelmed"):
        pytest.skip(why)
    resp = run({"op": "validate", "input": str(cases[0].path), "backend": "pixelmed"})  # ct__clean: CT Image
    assert not resp.ok and resp.error is not None
    assert (resp.error.code, resp.error.field) == ("unsupported_option", "input")
    assert "1.2.840.10008.5.1.4.1.1.2" in resp.error.message


def test_pixelmed_known_iods_are_the_jars() -> None:
    if why := missing("pixelmed"):
        pytest.skip(why)
    from dcmharness.adapters.pixelmed.validate import KNOWN_SOP_CLASSES

    jar = registry.get("pixelmed").jar  # type: ignore[attr-defined]
    with zipfile.ZipFile(jar) as zf:
        xsl = zf.read("com/pixelmed/validate/DicomIODDescriptionsCompiled.xsl").decode("utf-8", "replace")
    in_jar = set(re.findall(r"SOPClassUID/value = '([0-9.]+)'", xsl))
    assert in_jar == set(KNOWN_SOP_CLASSES)


def test_conformance_over_the_planted_defects_is_explained(cases: list[Any], tmp_path: Path) -> None:
    backends = [b for b in ("dicom3tools", "pixelmed") if missing(b) is None]
    if not backends:
        pytest.skip("neither dicom3tools nor pixelmed is available")
    from dcmharness.interface.conform.ops.runner import OpsConfig, run_ops_conformance
    from dcmharness.interface.samples import find

    corpus = [c.path for c in cases] + [find("rtdose.dcm")]
    config = OpsConfig(op="validate", out=tmp_path / "c", corpus=corpus, backends=backends, html=False)
    report = run_ops_conformance(config)
    failing = [r for r in report["results"] if r["status"] in ("mismatch", "error")]
    if "dicom3tools" in backends:  # dciodvfy aborts on the 32-bit dose grid: an error, named by its entry
        abort = next(r for r in failing if r["file"] == "rtdose.dcm" and r["backend"] == "dicom3tools")
        assert (abort["status"], abort["divergence"]["id"]) == ("error", "dicom3tools-32bit-pixel-assertion")
        failing.remove(abort)
    assert not failing, [(r["file"], r["backend"], r["profile"]) for r in failing]
    explained = {
        (r["file"], r["backend"], r["divergence"]["id"]) for r in report["results"] if r["status"] == "explained"
    }
    if "pixelmed" in backends:
        assert ("enhanced_ct__bad_file_meta.dcm", "pixelmed", "pixelmed-no-file-meta-checks") in explained
    if "dicom3tools" in backends:
        assert ("ct__missing_type1.dcm", "dicom3tools", "dicom3tools-ct-image-type-value3") in explained
