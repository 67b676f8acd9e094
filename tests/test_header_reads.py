"""How often a run reads each input: one header parse per file of a folder request (reused by the checks, the
backend and the response), the pixel data once more when it was deferred; never the whole folder twice."""

from __future__ import annotations

import builtins
import io
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dcmharness.interface.answers import run_folder
from dcmharness.interface.samples import find

#: CT_small's and MR_small's Pixel Data (32 kB, 8 kB) are read with the header; RG1_UNCR's (7 MB) and OBXXXX1A's
#: (480 kB) are deferred and read by the backend when it renders.
FILES = {"a.dcm": "CT_small.dcm", "b.dcm": "MR_small.dcm", "c.dcm": "RG1_UNCR.dcm", "d.dcm": "OBXXXX1A.dcm"}


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], Counter[str]]:
    """(header parses, opens) per path, counted while the test runs."""
    parses: Counter[str] = Counter()
    opens: Counter[str] = Counter()
    dcmread, open_ = pydicom.dcmread, builtins.open

    def counting_dcmread(fp: Any, *args: Any, **kwargs: Any) -> Any:
        parses[str(fp)] += 1
        return dcmread(fp, *args, **kwargs)

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opens[str(file)] += 1
        return open_(file, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting_dcmread)
    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    return parses, opens


def test_a_folder_request_parses_each_header_once(tmp_path: Path, reads: tuple[Counter[str], Counter[str]]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name, sample in FILES.items():
        shutil.copy(find(sample), src / name)
    parses, opens = reads
    opens.clear()  # the copies above
    answers = run_folder({"op": "to_image", "input": str(src), "output": str(tmp_path / "out")})
    assert [a.ok for a in answers] == [True] * (len(FILES) + 1)
    files = [str(src / name) for name in FILES]
    assert {f: parses[f] for f in files} == dict.fromkeys(files, 1)
    # the 132-byte DICOM sniff of the folder listing, the header read, and a deferred Pixel Data read (over 64 kB)
    assert {f: opens[f] for f in files} == dict(zip(files, (2, 2, 3, 3), strict=True))
