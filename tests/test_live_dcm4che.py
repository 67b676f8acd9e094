"""Live: dcm4che's dcm2jpg against python_ref on the real sample files, and its batch path.

dcm2jpg cannot be installed from the registries reachable here: these tests run wherever it is found
(``$DCM4CHE_HOME`` or PATH, see ``adapters/dcm4che/README.md``) and skip, saying so, elsewhere. Every
pair both render must agree within 1 gray level, or the difference must be named by an entry of
``interface/conform/divergences.toml``. ``python tests/test_live_dcm4che.py`` prints the table.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmharness.interface.api import run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.conform.compare import compare_files
from dcmharness.interface.samples import find
from tests.test_live_pixelmed import LIVE_PROFILES, agreement

pytestmark = [pytest.mark.live, pytest.mark.slow]


def dcm4che_missing() -> str | None:
    from dcmharness.adapters.dcm4che.render import Dcm4cheAdapter

    avail = Dcm4cheAdapter().availability()
    return None if avail.available else f"dcm2jpg not on PATH or $DCM4CHE_HOME: {avail.reason}"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    reason = dcm4che_missing()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="dcmharness-live-dcm4che-") as tmp:
        yield Path(tmp)


@pytest.mark.parametrize("profile", LIVE_PROFILES)
def test_dcm4che_agrees_with_python_ref(profile: str, folder: Path) -> None:
    counts, problems = agreement(profile, folder, backend="dcm4che")
    assert not problems, "\n".join(problems)
    assert counts["agree"] + sum(v for k, v in counts.items() if k.startswith("explained")) >= 20, counts


def test_batch_equals_single_calls(folder: Path) -> None:
    """The same three requests, one call each and batched in one call: identical pixels."""
    names = ["CT_small.dcm", "MR_small.dcm", "emri_small.dcm"]
    reqs = [
        {"op": "to_image", "backend": "dcm4che", "input": str(find(n)), "output": str(folder / f"s{k}.png")}
        for k, n in enumerate(names)
    ]
    singles = [run(r) for r in reqs]
    batched = run_batch([{**r, "output": str(folder / f"b{k}.png")} for k, r in enumerate(reqs)])
    assert all(r.ok for r in singles + batched), [r.error for r in singles + batched]
    assert batched[0].command == batched[1].command  # one dcm2jpg call for the three
    for one, many in zip(singles, batched, strict=True):
        assert compare_files(one.outputs[0], many.outputs[0]).max_abs_diff == 0


def test_failure_is_detected_though_it_exits_0(folder: Path) -> None:
    """MR_truncated.dcm ends inside its Pixel Data: dcm2jpg prints "Failed to convert" and exits 0."""
    resp = run(
        {
            "op": "to_image",
            "backend": "dcm4che",
            "input": str(find("MR_truncated.dcm")),
            "output": str(folder / "trunc.png"),
        }
    )
    assert not resp.ok and resp.error is not None
    assert resp.error.code == "backend_failed"
    assert "MR_truncated.dcm" in resp.error.message
    assert not (folder / "trunc.png").exists()


def test_single_call_writes_the_image(folder: Path) -> None:
    ct = str(find("CT_small.dcm"))
    options = {"window_center": 40, "window_width": 400}
    got = run(
        {"op": "to_image", "backend": "dcm4che", "input": ct, "output": str(folder / "ct.png"), "options": options}
    )
    assert got.ok, got.error
    assert got.result is not None and (got.result["width"], got.result["height"], got.result["mode"]) == (128, 128, "L")
    assert got.command is not None and got.command[1:5] == ["-F", "PNG", "--windowCenter=40", "--windowWidth=400"]


if __name__ == "__main__":
    reason = dcm4che_missing()
    if reason:
        print(reason)
        sys.exit(0)
    with tempfile.TemporaryDirectory() as tmp:
        for prof in LIVE_PROFILES:
            result, issues = agreement(prof, Path(tmp), backend="dcm4che")
            print(prof, dict(result))
            for issue in issues:
                print("   ", issue)
