"""The fuzzer: its mutations (pure, checked byte by byte) and a CI-sized run over every available backend.

The full run is ``.venv/bin/python -m dcmharness.interface.fuzz --cases 10000 --backends python_ref,dcmtk``.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dcmharness.contract.models import ErrorInfo, Response
from dcmharness.interface import registry
from dcmharness.interface.fuzz import memory
from dcmharness.interface.fuzz import runner as fuzz
from dcmharness.interface.fuzz.mutations import (
    ITEM,
    MUTATORS,
    PIXEL_DATA,
    SEQ_END,
    bit_flip,
    break_encapsulation,
    corrupt_length,
    corrupt_vr,
    set_element,
    swap_transfer_syntax,
    truncate,
    truncation_points,
    walk,
)
from dcmharness.interface.samples import find

CT = find("CT_small.dcm").read_bytes()  # explicit VR LE, 128 x 128 x 16 bits
J2K = find("JPEG2000.dcm").read_bytes()  # encapsulated, one fragment
IMPLICIT = find("MR_small_implicit.dcm").read_bytes()  # implicit VR LE, 64 x 64 x 16 bits


def _read(data: bytes) -> Any:
    import io

    return pydicom.dcmread(io.BytesIO(data), force=True)


# -- the layout walker ---------------------------------------------------------------------------------


def test_walk_finds_the_native_pixel_data_with_its_length() -> None:
    layout = walk(CT)
    assert layout.has_preamble and layout.explicit and layout.little_endian
    px = [e for e in layout.elements if e.tag == PIXEL_DATA]
    assert len(px) == 1
    assert (px[0].vr, px[0].length, px[0].length_size) == ("OW", 128 * 128 * 2, 4)
    assert px[0].value_offset + px[0].length <= len(CT)  # CT_small has trailing padding after it
    rows = next(e for e in layout.elements if e.tag == 0x00280010)
    assert struct.unpack_from("<H", CT, rows.value_offset)[0] == 128


def test_walk_reads_implicit_vr_without_vrs() -> None:
    layout = walk(IMPLICIT)
    assert not layout.explicit and layout.transfer_syntax == "1.2.840.10008.1.2"
    data_set = [e for e in layout.elements if not e.in_meta]
    assert data_set and all(e.vr is None for e in data_set)
    px = next(e for e in data_set if e.tag == PIXEL_DATA)
    assert px.length == 64 * 64 * 2


def test_walk_finds_the_items_of_encapsulated_pixel_data() -> None:
    layout = walk(J2K)
    px = next(e for e in layout.elements if e.tag == PIXEL_DATA)
    assert not px.defined
    after = [e for e in layout.elements if e.offset > px.offset]
    assert [e.tag for e in after][:1] == [ITEM]  # the basic offset table
    assert after[-1].tag == SEQ_END and after[-1].offset + 8 == len(J2K)
    assert sum(1 for e in after if e.tag == ITEM) >= 2  # offset table + at least one fragment


def test_truncation_points_cover_every_kind_of_boundary() -> None:
    native = truncation_points(CT, walk(CT))
    for kind in (
        "empty",
        "last_byte",
        "preamble",
        "prefix",
        "meta_value",
        "tag",
        "vr",
        "length",
        "value_start",
        "value_middle",
        "pixel_header",
        "pixel_middle",
    ):
        assert native.get(kind), kind
    encapsulated = truncation_points(J2K, walk(J2K))
    for kind in ("item", "delimiter", "fragment"):
        assert encapsulated.get(kind), kind
    assert all(0 <= p < len(CT) for points in native.values() for p in points)


# -- the mutators --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_truncate_is_a_strict_prefix(seed: int) -> None:
    m = truncate(J2K, random.Random(seed))
    assert len(m.data) < len(J2K) and J2K.startswith(m.data)


@pytest.mark.parametrize("seed", range(10))
def test_bit_flip_flips_one_to_eight_bits(seed: int) -> None:
    m = bit_flip(CT, random.Random(seed))
    assert len(m.data) == len(CT)
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(CT, m.data, strict=True))
    assert 1 <= flipped <= 8  # a bit flipped twice cancels out, so it can be fewer than listed
    assert flipped <= len(m.detail.split(","))


@pytest.mark.parametrize("seed", range(10))
def test_corrupt_length_touches_only_a_length_field(seed: int) -> None:
    layout = walk(CT)
    m = corrupt_length(CT, random.Random(seed))
    assert len(m.data) == len(CT)
    changed = [i for i, (a, b) in enumerate(zip(CT, m.data, strict=True)) if a != b]
    fields = [(e.length_offset, e.length_offset + e.length_size) for e in layout.elements]
    assert all(any(lo <= i < hi for lo, hi in fields) for i in changed)


@pytest.mark.parametrize("seed", range(10))
def test_corrupt_vr_rewrites_two_bytes_of_a_vr(seed: int) -> None:
    layout = walk(CT)
    m = corrupt_vr(CT, random.Random(seed))
    changed = [i for i, (a, b) in enumerate(zip(CT, m.data, strict=True)) if a != b]
    vr_starts = {e.offset + 4 for e in layout.elements if e.vr}
    assert (changed and min(changed) in vr_starts) or min(changed) - 1 in vr_starts
    assert max(changed) - min(changed) <= 1


def test_set_element_replaces_and_inserts_top_level_elements() -> None:
    data = set_element(CT, 0x00280010, "US", struct.pack("<H", 0xFFFF))  # replace Rows
    data = set_element(data, 0x00280008, "IS", b"2147483647")  # insert NumberOfFrames (absent in CT_small)
    ds = _read(data)
    assert (ds.Rows, ds.Columns, int(ds.NumberOfFrames)) == (0xFFFF, 128, 2147483647)
    assert len(ds.PixelData) == 128 * 128 * 2  # what follows is intact


def test_set_element_in_implicit_vr() -> None:
    ds = _read(set_element(IMPLICIT, 0x00280100, "US", struct.pack("<H", 7)))
    assert ds.BitsAllocated == 7 and ds.Rows == 64


def test_swap_transfer_syntax_is_read_back() -> None:
    for seed in range(10):
        m = swap_transfer_syntax(CT, random.Random(seed))
        uid = m.detail.split(" -> ")[1]
        meta = pydicom.filereader.read_file_meta_info(_tmp_file(m.data))
        assert str(meta.get("TransferSyntaxUID", "")) == ("" if uid == "(empty)" else uid)


def _tmp_file(data: bytes) -> Path:
    import tempfile

    f = tempfile.NamedTemporaryFile(suffix=".dcm", delete=False)  # noqa: SIM115
    f.write(data)
    f.close()
    return Path(f.name)


@pytest.mark.parametrize("seed", range(15))
def test_break_encapsulation_changes_the_pixel_data_items(seed: int) -> None:
    px = next(e for e in walk(J2K).elements if e.tag == PIXEL_DATA)
    m = break_encapsulation(J2K, random.Random(seed))
    assert m.kind == "encapsulation"
    assert m.data[: px.offset] == J2K[: px.offset]  # the header before the pixel data is untouched
    assert m.data != J2K


def test_cases_are_reproducible_from_their_seed_and_index() -> None:
    seeds = fuzz.load_seeds()
    assert len(seeds) >= 15
    a = fuzz.make_case(17, 3, seeds)
    b = fuzz.make_case(17, 3, seeds)
    assert a == b
    assert fuzz.make_case(18, 3, seeds) != a


# -- classifying answers ---------------------------------------------------------------------------------


def _error(code: str, message: str = "m") -> Response:
    return Response(ok=False, error=ErrorInfo(code=code, message=message))


def test_classify(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    out.write_bytes(b"x")
    assert fuzz.classify(Response(ok=True, outputs=[str(out)]), False)[0] == "ok"
    assert fuzz.classify(Response(ok=True, outputs=[str(tmp_path / "absent.png")]), False)[0] == "missing_output"
    assert fuzz.classify(Response(ok=True, outputs=[str(out)]), True)[0] == "input_modified"
    assert fuzz.classify(_error("decode_failed"), False)[:2] == ("error", "decode_failed")
    assert fuzz.classify(_error("internal_error"), False)[0] == "internal"
    assert fuzz.classify(_error("input_too_large", fuzz.OOM_MESSAGE), False)[0] == "memory"
    assert fuzz.classify(_error("no_such_code"), False)[0] == "unstructured"
    assert fuzz.classify(Response(ok=False), False)[0] == "unstructured"


def _hanging_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[fuzz.Answer]:
    time.sleep(60)
    return []


def _crashing_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[fuzz.Answer]:
    os._exit(3)


def test_a_hanging_worker_is_killed_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _hanging_case)  # inherited by the forked workers
    started = time.monotonic()
    report = fuzz.run_fuzz(2, ["python_ref"], jobs=2, deadline=1.0)
    assert time.monotonic() - started < 20
    assert [f["status"] for f in report.failures] == ["hang", "hang"]


def test_a_crashing_worker_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _crashing_case)
    report = fuzz.run_fuzz(1, ["python_ref"], jobs=1)
    assert [f["status"] for f in report.failures] == ["crash"]
    assert "exit 3" in report.failures[0]["message"]


@pytest.mark.parametrize(
    ("header", "size", "words"),
    [
        ((3, 64, 100, 250), 364, None),
        ((1, 64), 64, None),  # one empty segment: readable (its length is checked against the frame next)
        ((0,), 100, "declares 0 segments, not 1 to 15"),
        ((16, 64), 100, "declares 16 segments, not 1 to 15"),
        ((2, 60, 80), 100, "gives segment offsets 60, 80 in a frame of 100 bytes: the first must be 64"),
        ((2, 64, 40), 100, "gives segment offsets 64, 40 in a frame of 100 bytes"),
        ((2, 64, 120), 100, "gives segment offsets 64, 120 in a frame of 100 bytes"),
    ],
)
def test_rle_header_problem(header: tuple[int, ...], size: int, words: str | None) -> None:
    from dcmharness.backends.preflight import rle_header_problem

    fragment = struct.pack("<16I", *header, *([0] * (16 - len(header)))) + bytes(size - 64)
    problem = rle_header_problem(fragment)
    assert problem is None if words is None else (problem is not None and words in problem)
    assert rle_header_problem(b"short") == "the first frame has 5 bytes, less than the 64 of its RLE header (PS3.5 G.5)"


def test_rle_segment_lengths_from_the_header() -> None:
    from dcmharness.backends.preflight import rle_segment_lengths

    header = struct.pack("<16I", 3, 64, 100, 250, *([0] * 12))
    assert rle_segment_lengths(header + bytes(300)) == [36, 150, 114]
    assert rle_segment_lengths(struct.pack("<16I", 0, *([0] * 15)) + bytes(10)) is None  # no segment
    assert rle_segment_lengths(struct.pack("<16I", 2, 64, 40, *([0] * 13)) + bytes(10)) is None  # backwards
    assert rle_segment_lengths(b"short") is None


# -- single-case replay, the time budget, leftovers, temporary folders -------------------------------------
def test_a_replay_runs_exactly_the_named_cases() -> None:
    report = fuzz.run_fuzz(0, ["python_ref"], seed=3, jobs=2, only=[17, 18])
    seeds = fuzz.load_seeds()
    assert report.cases == 2 and report.requests == 2
    kinds = [fuzz.make_case(i, 3, seeds)[0].kind for i in (17, 18)]
    assert sum(report.kinds.values()) == 2 and set(report.kinds) == set(kinds)


@pytest.mark.parametrize("value", ["x", "-1", "3,y"])
def test_unusable_case_numbers_exit_2(value: str) -> None:
    assert fuzz.main(["--case", value, "--backends", "python_ref"]) == 2


def test_the_time_budget_stops_starting_cases() -> None:
    report = fuzz.run_fuzz(500, ["python_ref"], seed=3, jobs=1, max_seconds=1.0)
    assert report.budget_reached
    assert 1 <= report.cases < 500 and report.failures == []
    assert "the --max-seconds budget ended the run" in fuzz.format_report(report)


def _orphaning_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[fuzz.Answer]:
    """A backend that leaves its helper running (own session, never waited for): it outlives the worker."""
    subprocess.Popen(["sleep", "120"], start_new_session=True)  # noqa: S607
    return [fuzz.Answer(b, "ok") for b in backends]


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie waits for init to reap it: it holds no memory


def test_a_process_that_outlives_its_case_is_a_failure_and_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _orphaning_case)  # inherited by the forked workers
    report = fuzz.run_fuzz(1, ["python_ref"], jobs=1)
    assert [(f["backend"], f["status"]) for f in report.failures] == [("(case)", "leftover")]
    message = report.failures[0]["message"]
    assert message.startswith("1 process(es) outlived the case's worker by 2 s (killed): sleep ")
    pid = int(message.rsplit(" ", 1)[1])
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(pid)
    assert report.requests == 1 and report.codes["python_ref"] == {"ok": 1}


def _temp_folder_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[fuzz.Answer]:
    """Reports (as a failure, to get the message back) where a temporary folder of a backend would go."""
    folder = tempfile.mkdtemp(prefix="dcmharness-orthanc-")
    return [fuzz.Answer(b, "internal", None, f"{folder}|{os.environ.get('TMPDIR')}|{path.parent}") for b in backends]


def test_a_cases_temporary_folders_are_inside_its_own_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _temp_folder_case)
    report = fuzz.run_fuzz(1, ["python_ref"], jobs=1)
    folder, tmpdir, case = report.failures[0]["message"].split("|")
    assert Path(folder).parent == Path(tmpdir) == Path(case) / "tmp"
    assert not Path(case).exists()  # removed with the case, whatever the worker left


def test_the_parent_loads_the_decoders_before_forking() -> None:
    """Every case's worker is a fork: what the parent imported it does not import again (seconds per case)."""
    code = (
        "import sys; from dcmharness.interface.fuzz import runner as f; "
        "before = 'PIL.PngImagePlugin' in sys.modules; f.warm_imports(f.load_seeds()); "
        "print(before, 'PIL.PngImagePlugin' in sys.modules, 'pydicom.pixels.decoders.rle' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


# -- --reuse-workers: one worker per job runs case after case ----------------------------------------------
def _pid_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[fuzz.Answer]:
    """Reports (as a failure, to get it back) which worker process ran the case."""
    return [fuzz.Answer(b, "internal", None, str(os.getpid())) for b in backends]


@pytest.mark.parametrize(("reuse", "workers"), [(True, 1), (False, 3)])
def test_reused_workers_run_case_after_case(monkeypatch: pytest.MonkeyPatch, reuse: bool, workers: int) -> None:
    monkeypatch.setattr(fuzz, "run_case", _pid_case)
    report = fuzz.run_fuzz(3, ["python_ref"], jobs=1, reuse_workers=reuse)
    assert [f["index"] for f in report.failures] == [0, 1, 2]
    assert len({f["message"] for f in report.failures}) == workers


def test_reused_workers_answer_as_fresh_ones() -> None:
    fresh = fuzz.run_fuzz(40, ["python_ref"], seed=5, jobs=2)
    reused = fuzz.run_fuzz(40, ["python_ref"], seed=5, jobs=2, reuse_workers=True)
    assert reused.cases == fresh.cases == 40 and reused.failures == fresh.failures == []
    assert reused.codes == fresh.codes and reused.kinds == fresh.kinds
    assert sum(reused.codes["python_ref"].values()) == 40


def test_a_reused_worker_that_hangs_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _hanging_case)
    started = time.monotonic()
    report = fuzz.run_fuzz(2, ["python_ref"], jobs=1, deadline=1.0, reuse_workers=True)
    assert time.monotonic() - started < 20
    assert [(f["index"], f["status"]) for f in report.failures] == [(0, "hang"), (1, "hang")]


def test_a_reused_worker_that_crashes_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _crashing_case)
    report = fuzz.run_fuzz(2, ["python_ref"], jobs=1, reuse_workers=True)
    assert [(f["index"], f["status"]) for f in report.failures] == [(0, "crash"), (1, "crash")]
    assert all("exit 3" in f["message"] for f in report.failures)


def test_what_outlives_a_reused_worker_is_a_failure_of_its_last_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _orphaning_case)
    report = fuzz.run_fuzz(2, ["python_ref"], jobs=1, reuse_workers=True)
    assert [(f["index"], f["backend"], f["status"]) for f in report.failures] == [(1, "(case)", "leftover")]
    message = report.failures[0]["message"]
    assert message.startswith("2 process(es) outlived the case's worker by 2 s (killed): sleep ")
    pids = [int(part.rsplit(" ", 1)[1]) for part in message.split(": ", 1)[1].split(", ")]
    deadline = time.monotonic() + 5
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_pid_alive(p) for p in pids)
    assert report.codes["python_ref"] == {"ok": 2}


def test_keep_writes_the_input_of_the_case_a_reused_workers_leftover_is_reported_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fuzz, "run_case", _orphaning_case)
    report = fuzz.run_fuzz(2, ["python_ref"], seed=7, jobs=1, reuse_workers=True, keep=tmp_path)
    assert [(f["index"], f["status"]) for f in report.failures] == [(1, "leftover")]
    assert (tmp_path / "case_000001.dcm").read_bytes() == fuzz.make_case(1, 7, fuzz.load_seeds())[1]


@pytest.mark.parametrize("reuse", [[], ["--reuse-workers"]])
def test_ctrl_c_prints_the_cases_done_and_exits_130(reuse: list[str]) -> None:
    argv = [sys.executable, "-m", "dcmharness.interface.fuzz", "--cases", "100000", "--backends", "python_ref"]
    proc = subprocess.Popen(
        [*argv, "--jobs", "1", *reuse], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    time.sleep(8)  # past the start-up (imports, the seed files rendered once): cases are running
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"Traceback" not in out
    assert b"(interrupted: the cases above are those done before Ctrl-C)" in out
    assert int(out.split(b" cases,", 1)[0].rsplit(b" ", 1)[1]) > 0


# -- the CI run --------------------------------------------------------------------------------------------

CI_BACKENDS = ["python_ref", "dcmtk", "rust_render"]


@pytest.mark.slow
def test_fuzz_ci_run_every_request_gets_a_structured_answer() -> None:
    names = [b for b in CI_BACKENDS if b in registry.names()]
    report = fuzz.run_fuzz(300, names, seed=20261122, jobs=os.cpu_count() or 2, timeout=20)
    assert report.cases == 300
    assert report.requests == 300 * len(report.backends)
    assert "python_ref" in report.backends
    assert set(report.kinds) == set(MUTATORS)
    assert report.failures == [], fuzz.format_report(report)


# -- the refusals the fuzzer led to (backends/preflight.py), each pinned with a deterministic mutation ------


def _us(value: int) -> bytes:
    return struct.pack("<H", value)


def _rows(data: bytes, rows: int, columns: int) -> bytes:
    return set_element(set_element(data, 0x00280010, "US", _us(rows)), 0x00280011, "US", _us(columns))


def _patch_vr(data: bytes, tag: int, vr: str) -> bytes:
    el = next(e for e in walk(data).elements if e.tag == tag and not e.in_meta)
    return data[: el.offset + 4] + vr.encode() + data[el.offset + 6 :]


@pytest.mark.parametrize(
    ("vr", "reserved", "reader"),
    [
        (b"ZZ", b"\0\0", "dcmtk and Orthanc"),  # a future VR: both read 2 reserved bytes and a 32-bit length
        (b"ZZ", b"\x04\0", "dcmtk"),  # Orthanc throws on reserved bytes that are not zero
        (b"\0\0", b"\0\0", "Orthanc"),  # dcmtk: EVR_UNKNOWN2B, a 16-bit length
        (b"??", b"\0\0", "Orthanc"),
        (b"zz", b"\x02\0", None),
        (b"CS", b"\0\0", None),  # a VR of PS3.5: its own length form
        (b"UN", b"\0\0", None),
    ],
)
def test_which_toolkit_reads_an_unknown_vr_with_a_32_bit_length(vr: bytes, reserved: bytes, reader: str | None) -> None:
    from dcmharness.backends.preflight import _reads_32_bit_length

    assert _reads_32_bit_length(vr, reserved) == reader


def _long_bot(data: bytes) -> bytes:
    px = next(e for e in walk(data).elements if e.tag == PIXEL_DATA)
    bot = next(e for e in walk(data).elements if e.tag == ITEM and e.offset > px.offset)
    return data[: bot.length_offset] + struct.pack("<I", bot.length + 0x1000) + data[bot.length_offset + 4 :]


def _length(data: bytes, tag: int, value: int, nth: int = 0) -> bytes:
    """``data`` with the length field of the ``nth`` element ``tag`` (items too) set to ``value``."""
    el = [e for e in walk(data).elements if e.tag == tag and not e.in_meta][nth]
    fmt = "<H" if el.length_size == 2 else "<I"
    return data[: el.length_offset] + struct.pack(fmt, value) + data[el.length_offset + el.length_size :]


MR_SMALL = find("MR_small.dcm").read_bytes()
MR_RLE = find("MR_small_RLE.dcm").read_bytes()  # 6128 bytes of encapsulated data: BOT (4 bytes), one fragment
REFUSALS: list[tuple[str, Any, str, str]] = [
    ("high-bit-as-text", lambda: _patch_vr(MR_SMALL, 0x00280102, "IS"), "decode_failed", "is not a number"),
    (
        "high-bit-twice",
        lambda: set_element(MR_SMALL, 0x00280102, "US", _us(15) + _us(15)),
        "decode_failed",
        "several values",
    ),
    (
        "planar-configuration-text",
        lambda: set_element(MR_SMALL, 0x00280006, "CS", b"MONOCHROME2 "),
        "decode_failed",
        "is not a number",
    ),
    (
        "unknown-vr-in-image-module",  # read as dcmtk reads an unknown VR: a 32-bit length past the end
        lambda: _patch_vr(CT, 0x00281052, "DW"),
        "decode_failed",
        "element (0028,1052) has the unknown VR 'DW'",
    ),
    (  # seed 995 case 31's kind: dcmtk reads these bytes with a 16-bit length, Orthanc's stream reader with a
        # 32-bit one (the next element's tag, (0008,0060): 0x00600008), and allocated it (1.09 GB on 3424 bytes)
        "non-letter-vr-read-by-orthanc",
        lambda: _patch_vr(CT, 0x00080050, "\x00\x00"),
        "decode_failed",
        "element (0008,0050) has the unknown VR '00 00': read with the 32-bit length of an unknown VR (as read by "
        "Orthanc) it declares 6291464 bytes at offset 662, past the end of the file (38544 bytes remain)",
    ),
    (  # seed 20261213 case 22: JPEG 2000 data relabelled RLE; Cornerstone's RLE decoder looped until the timeout
        "jpeg-2000-relabelled-rle",
        lambda: fuzz.make_case(22, 20261213, fuzz.load_seeds())[1],
        "decode_failed",
        "the RLE header of the first frame declares",
    ),
    ("frame-of-4-gigabytes", lambda: _rows(MR_SMALL, 0xFFFF, 0xFFFF), "input_too_large", "per frame"),
    ("native-data-shorter-than-a-frame", lambda: _rows(MR_SMALL, 4096, 4096), "decode_failed", "less than one frame"),
    ("pixel-data-beyond-the-file", lambda: find("MR_truncated.dcm").read_bytes(), "decode_failed", "the file ends"),
    ("offset-table-beyond-the-data", lambda: _long_bot(J2K), "decode_failed", "encapsulated pixel data is damaged"),
    (  # issue 18, seed 77123 case 101: PixelMed allocated the 2 GiB before reading (2.1 GB, then a NPE)
        "fragment-length-past-the-end",
        lambda: _length(MR_RLE, ITEM, 0x7FFFFFF0, nth=1),
        "decode_failed",
        "item 2 (fragment 1) declares 2147483632 bytes but 6108 bytes remain",
    ),
    (
        "element-length-past-the-end",
        lambda: _length(CT, 0x00080008, 0xFFFF),
        "decode_failed",
        "element (0008,0008) declares 65535 bytes at offset 362, past the end of the file (38844 bytes remain)",
    ),
    (  # seed 20261204 case 374: GDCM (behind python_ref) aborted the process (SIGABRT) on this
        "codestream-size-differs-from-the-header",
        lambda: set_element(find("JPEGLSNearLossless_16.dcm").read_bytes(), 0x00280011, "US", _us(32767)),
        "decode_failed",
        "the compressed frame is 10x50 but the data set says 32767x50 (Columns x Rows)",
    ),
    (  # seed 77123 case 904: pydicom's GDCM plugin aborted the worker (SIGABRT, gdcmJPEGCodec.cxx:149)
        "jpeg-with-64-bits-allocated",
        lambda: fuzz.make_case(904, 77123, fuzz.load_seeds())[1],
        "decode_failed",
        "Bits Stored 33 is more than a JPEG or JPEG-LS frame holds (its samples have at most 16 bits",
    ),
    (  # the same abort with a plausible Bits Stored
        "jpeg-with-32-bits-allocated",
        lambda: set_element(
            set_element(find("SC_rgb_jpeg_dcmtk.dcm").read_bytes(), 0x00280100, "US", _us(32)),
            0x00280101,
            "US",
            _us(8),
        ),
        "decode_failed",
        "Bits Allocated 32 is more than a JPEG or JPEG-LS frame holds",
    ),
    (  # seed 20261207 case 1528: Cornerstone's decoder, sized by the header, took Chromium to 2.65 GB (timeout)
        "rle-segment-too-short-for-the-declared-size",
        lambda: fuzz.make_case(1528, 20261207, fuzz.load_seeds())[1],
        "decode_failed",
        "RLE segment 1 of the first frame has 42768 bytes: it decodes to at most 2737152, not the 600x65535 bytes",
    ),
    (
        "palette-without-descriptors",
        lambda: set_element(MR_SMALL, 0x00280004, "CS", b"PALETTE COLOR "),
        "decode_failed",
        "Palette Color LUT Descriptors",
    ),
    (
        "empty-photometric-interpretation",
        lambda: set_element(MR_SMALL, 0x00280004, "CS", b""),
        "decode_failed",
        "Photometric Interpretation (0028,0004) is missing or empty",
    ),
]


@pytest.mark.parametrize(("make", "code", "words"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_preflight_refuses_what_the_fuzzer_found(tmp_path: Path, make: Any, code: str, words: str) -> None:
    from dcmharness.interface.api import run

    path = tmp_path / "damaged.dcm"
    path.write_bytes(make())
    for backend in [b for b in ("python_ref", "dcmtk", "rust_render") if b in registry.names()]:
        resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": backend})
        assert resp.error is not None, backend
        assert (resp.error.code, resp.error.field) == (code, "input"), resp.error
        assert words in resp.error.message
        assert resp.command is None  # refused before any tool ran


def test_a_reused_workers_case_peak_sees_a_kept_server_and_starts_again() -> None:
    """A kept process (as Orthanc between cases) that peaked and freed its memory: its peak counts for the case
    it happened in (``VmHWM``), not for the next one (the peaks are started again)."""
    code = "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); del b; print(1, flush=True); input()"
    kept = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert kept.stdout is not None and kept.stdout.readline() == b"1\n"  # it peaked, then freed it
        assert memory.peak_rss_bytes(kept.pid) > 300 * 1024 * 1024
        assert fuzz._case_peak_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) > 300
        assert memory.peak_rss_bytes(kept.pid) < 100 * 1024 * 1024  # started again from what it holds now
    finally:
        kept.kill()
        kept.wait()


def test_the_report_keeps_example_cases_of_each_answer() -> None:
    report = fuzz.run_fuzz(12, ["python_ref"], seed=5, jobs=1)
    examples = report.examples["python_ref"]
    assert set(examples) == set(report.codes["python_ref"])
    for code, count in report.codes["python_ref"].items():
        assert len(examples[code]) == min(count, fuzz.EXAMPLES)
    cases = [i for found in examples.values() for i in found]
    assert len(cases) == len(set(cases)) and set(cases) <= set(range(12))
    replay = fuzz.run_fuzz(0, ["python_ref"], seed=5, jobs=1, only=cases)  # each case gives that answer again
    assert replay.examples["python_ref"] == {code: found[: fuzz.EXAMPLES] for code, found in examples.items()}
