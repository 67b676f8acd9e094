"""A fake backend with known disagreements, for the conformance tests (and a check that it behaves).

``fake`` renders with python_ref, then, by the request's options:
- no option (profile ``default``): unchanged -> ``match``
- an explicit window (``explicit_window``): every pixel + 1 (clipped) -> ``within_tolerance``
- ``voi: minmax``: every pixel + 3 (clipped) -> ``mismatch``, or ``explained`` by a registry entry
- ``voi: none``: refused with ``unsupported_option`` -> ``unsupported``
- ``presentation: inverse``: fails with ``backend_failed`` -> ``error``
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcmharness.backends.base import Availability, Backend, Outcome, unsupported
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.interface import registry
from dcmharness.interface.samples import find

FAKE = "fake"
SHIFTS = {"explicit_window": 1, "minmax": 3}


class FakeBackend(Backend):
    name = FAKE
    kind = "in-process"
    description = "python_ref with known, deliberate disagreements (tests only)"

    def availability(self) -> Availability:
        return Availability(True, "fake 1.0", location="in-process")

    def check(self, request: Any, info: Any) -> list[str]:
        warnings = super().check(request, info)
        if request.options.voi == "none":
            raise unsupported("voi", "fake cannot do voi=none")
        return warnings

    def execute(self, request: Any, info: Any, plan: Any) -> Outcome:
        from PIL import Image

        from dcmharness.backends.python_ref import PythonRefBackend
        from dcmharness.interface.conform.compare import load_image

        opts = request.options
        if opts.presentation == "inverse":
            raise HarnessError(ErrorCode.BACKEND_FAILED, "fake crashed on purpose")
        outcome = PythonRefBackend().execute(request, info, plan)
        shift = 1 if opts.window_center is not None else 3 if opts.voi == "minmax" else 0
        if shift:
            for target in plan.targets:
                img = load_image(target.temp)
                shifted = np.clip(img.astype(np.int32) + shift, 0, 255).astype(np.uint8)
                Image.fromarray(shifted).save(target.temp, format="PNG")
        return outcome


@pytest.fixture
def fake_backend() -> Iterator[str]:
    """Register ``fake`` in this process (and in forked workers); removed afterwards."""
    registry.BACKENDS[FAKE] = "tests.test_conform_fake:FakeBackend"
    registry._instances.pop(FAKE, None)
    yield FAKE
    registry.BACKENDS.pop(FAKE, None)
    registry._instances.pop(FAKE, None)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two real files (CT_small, MR_small) in a folder of their own (symlinks: inputs are never copied)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (folder / name).symlink_to(find(name))
    return folder


#: the profiles the conformance tests use, and the status ``fake`` gets on each
PROFILE_STATUS = {
    "default": "match",
    "explicit_window": "within_tolerance",
    "minmax": "mismatch",
    "none": "unsupported",
    "inverse": "error",
}

REGISTRY_EXPLAINS_MINMAX = """
[[divergence]]
id = "fake-minmax-plus-three"
backends = ["fake"]
profiles = ["minmax"]
dataset = { Modality = ["CT", "MR"] }
options = { voi = "minmax" }
files = ["*_small.dcm"]
max_abs_diff = 3
cause = "fake adds 3 to every pixel of a min-max render."
source = "tests/test_conform_fake.py"

[[divergence]]
id = "fake-never-matches"
backends = ["fake"]
files = ["nothing-*.dcm"]
any_difference = true
cause = "matches no file: reported as unmatched (stale in a full run)."
source = "tests/test_conform_fake.py"

[[divergence]]
id = "other-backend-entry"
backends = ["some_other_tool"]
any_difference = true
cause = "concerns a backend that did not run."
source = "tests/test_conform_fake.py"
"""


def test_fake_backend_shifts_minmax_by_three(fake_backend: str, tmp_path: Path) -> None:
    from dcmharness.interface.api import run
    from dcmharness.interface.conform.compare import compare_files

    ct = str(find("CT_small.dcm"))
    ref = run({"op": "to_image", "input": ct, "output": str(tmp_path / "r.png"), "options": {"voi": "minmax"}})
    other = run(
        {
            "op": "to_image",
            "input": ct,
            "output": str(tmp_path / "f.png"),
            "backend": FAKE,
            "options": {"voi": "minmax"},
        }
    )
    assert ref.ok and other.ok
    assert compare_files(tmp_path / "r.png", tmp_path / "f.png").max_abs_diff == 3
