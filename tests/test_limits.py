"""The limits issue 18 found with fuzz seed 77123: JVM heap caps, the fuzzer's memory limit over a case's
whole process tree, and pydicom's warnings kept in the responses instead of the terminal."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from dcmharness.adapters import jvm, native_memory
from dcmharness.adapters.dcm4che.render import Dcm4cheAdapter
from dcmharness.adapters.pixelmed.adapter import PixelMedAdapter, build_to_image_argv
from dcmharness.adapters.runner import run_tool
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import inspect
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface import input_warnings
from dcmharness.interface.api import run
from dcmharness.interface.fuzz import memory
from dcmharness.interface.fuzz import runner as fuzz
from dcmharness.interface.fuzz.mutations import ITEM, walk
from dcmharness.interface.samples import find

MIB = 1024 * 1024


# -- JVM heap caps -------------------------------------------------------------------------------------------
def test_heap_follows_the_declared_size_within_the_cap() -> None:
    assert jvm.heap_mb(0, cap=2048) == 256
    assert jvm.heap_mb(32768, cap=2048) == 259  # CT_small: 128 x 128 x 16 bits
    assert jvm.heap_mb(100 * MIB, cap=4096) == 556
    assert jvm.heap_mb(4 * 1024 * MIB, cap=2048) == 2048
    assert jvm.heap_flag(32768, cap=2048) == "-Xmx259m"


def test_max_heap_from_the_environment() -> None:
    assert jvm.max_heap_mb({}) == 2048
    assert jvm.max_heap_mb({"DCMHARNESS_JVM_MAX_HEAP_MB": "512"}) == 512
    assert jvm.max_heap_mb({"DCMHARNESS_JVM_MAX_HEAP_MB": "lots"}) == 2048
    assert jvm.max_heap_mb({"DCMHARNESS_JVM_MAX_HEAP_MB": "0"}) == 2048
    assert jvm.heap_mb(4 * 1024 * MIB, cap=jvm.max_heap_mb({"DCMHARNESS_JVM_MAX_HEAP_MB": "512"})) == 512


def test_launcher_scripts_get_the_cap_in_java_tool_options() -> None:
    env = jvm.heap_env(32768, {"PATH": "/bin", "JAVA_TOOL_OPTIONS": "-Dfile.encoding=UTF-8"})
    assert env == {"PATH": "/bin", "JAVA_TOOL_OPTIONS": "-Dfile.encoding=UTF-8 -Xmx259m"}
    assert jvm.heap_env(0, {"DCMHARNESS_JVM_MAX_HEAP_MB": "200"})["JAVA_TOOL_OPTIONS"] == "-Xmx200m"


def test_decoded_bytes_of_real_headers() -> None:
    assert jvm.decoded_bytes(inspect(str(find("CT_small.dcm")))) == 128 * 128 * 2
    assert jvm.decoded_bytes(inspect(str(find("emri_small.dcm")))) == 64 * 64 * 2 * 10  # 10 frames
    assert jvm.decoded_bytes(None) == 0


def test_every_jvm_gets_a_heap_cap() -> None:
    info = inspect(str(find("CT_small.dcm")))
    request = ToImageRequest(op="to_image", input=str(info.path), output="/o/x.png")
    plan = OutputPlan(targets=[OutputTarget(Path("/o/x.png"), Path("/o/.x.tmp.png"), 0)])
    argv = build_to_image_argv(request, info, plan, "/usr/bin/java", "/usr/share/java/pixelmed.jar")
    assert argv[:3] == ["/usr/bin/java", "-Djava.awt.headless=true", "-Xmx259m"]
    env = Dcm4cheAdapter().tool_env(info)
    assert env is not None and env["JAVA_TOOL_OPTIONS"].endswith("-Xmx259m")
    assert Dcm4cheAdapter().tool_env(None)["JAVA_TOOL_OPTIONS"].endswith("-Xmx256m")  # type: ignore[index]


def _huge_fragment(tmp_path: Path) -> Path:
    """MR_small_RLE with its first fragment's length set to 0x7FFFFFF0 (fuzz seed 77123, case 101)."""
    data = find("MR_small_RLE.dcm").read_bytes()
    frag = [e for e in walk(data).elements if e.tag == ITEM][1]
    path = tmp_path / "huge_fragment.dcm"
    path.write_bytes(data[: frag.length_offset] + struct.pack("<I", 0x7FFFFFF0) + data[frag.length_offset + 4 :])
    return path


@pytest.mark.live
def test_pixelmed_fails_fast_under_its_heap_cap(tmp_path: Path) -> None:
    """Without a cap PixelMed's JVM allocated the 2 GiB fragment (2.1 GB resident, 14 s, then a
    NullPointerException); under the cap the allocation fails at once."""
    adapter = PixelMedAdapter()
    tool = adapter.tool()
    if tool is None or adapter.jar is None:
        pytest.skip("pixelmed not available (java or /usr/share/java/pixelmed.jar)")
    path = _huge_fragment(tmp_path)
    info = inspect(str(find("MR_small_RLE.dcm")))  # the same header; the damaged file is refused by preflight
    info.path = path
    request = ToImageRequest(op="to_image", input=str(path), output=str(tmp_path / "o.png"))
    plan = OutputPlan(targets=[OutputTarget(tmp_path / "o.png", tmp_path / ".o.tmp.png", 0)])
    argv = build_to_image_argv(request, info, plan, tool.path, adapter.jar)
    assert "-Xmx259m" in argv  # 64 x 64 x 16 bits: 8 KiB, counted as 1 MiB
    started = time.monotonic()
    result = run_tool(argv, timeout=60)
    assert "java.lang.OutOfMemoryError: Java heap space" in result.stderr_text
    assert "EncapsulatedInputStream.read" in result.stderr_text
    assert time.monotonic() - started < 10


def test_the_dispatcher_refuses_it_before_any_backend_runs(tmp_path: Path) -> None:
    path = _huge_fragment(tmp_path)
    for backend in ("python_ref", "pixelmed"):
        resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": backend})
        if resp.error is not None and resp.error.code == "backend_unavailable":
            continue
        assert resp.error is not None and (resp.error.code, resp.error.field) == ("decode_failed", "input")
        assert "item 2 (fragment 1) declares 2147483632 bytes but 6108 bytes remain" in resp.error.message
        assert resp.command is None


# -- the fuzzer's memory limit covers a case's children ------------------------------------------------------
def test_descendants_of_a_process_tree() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1}
    assert sorted(memory.descendants(10, parents)) == [10, 11, 12, 13]
    assert memory.descendants(20, parents) == [20]


def test_tree_rss_counts_a_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (64 * 2**20); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        # wait on the proportional set size itself: the resident size passes 64 MiB (shared libraries included)
        # before the buffer is all resident (63.5 MiB of PSS once, in a fresh-clone run)
        while time.monotonic() < deadline and memory.pss_bytes(child.pid) < 64 * MIB:
            time.sleep(0.05)
        total, pids = memory.tree_rss(os.getpid())
        assert child.pid in pids and os.getpid() in pids
        # proportional set sizes: the child's 64 MiB are its own (a shared page would count in part)
        assert memory.pss_bytes(child.pid) >= 64 * MIB
        assert total >= memory.pss_bytes(child.pid) + memory.pss_bytes(os.getpid()) // 2
    finally:
        memory.kill_all([child.pid])
        child.wait(5)


def _greedy_child_case(path: Path, options: dict[str, Any], backends: list[str], timeout: float) -> list[Any]:
    """A backend whose tool grows to 400 MB (the worker itself stays small)."""
    subprocess.run([sys.executable, "-c", "import time; b = b'x' * (400 * 2**20); time.sleep(60)"], check=False)
    return []


def test_a_case_whose_child_outgrows_the_limit_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz, "run_case", _greedy_child_case)  # inherited by the forked worker
    started = time.monotonic()
    report = fuzz.run_fuzz(1, ["python_ref"], jobs=1, rss_limit_mb=300, deadline=50)
    assert time.monotonic() - started < 30  # killed, not waited for (the child sleeps 60 s)
    assert [f["status"] for f in report.failures] == ["memory"]
    assert "processes reached" in report.failures[0]["message"]
    assert "> 300 MB (killed; largest: python" in report.failures[0]["message"]
    assert report.peak_tree_rss_mb > 300


# -- pydicom's warnings ------------------------------------------------------------------------------------
def test_pydicom_warnings_are_in_the_response(tmp_path: Path) -> None:
    data = find("JPEG2000.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:-100])  # cut inside the last fragment: no sequence delimiter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        input_warnings.quiet_terminal()
        resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png")})
    assert not resp.ok
    assert resp.warnings == [f"pydicom: End of file reached before delimiter (FFFE,E0DD) found in file {path}"]
    assert not [w for w in caught if "pydicom" in str(w.filename)]  # nothing for the terminal


def test_warnings_are_tidied_and_bounded() -> None:
    assert input_warnings.tidy("Invalid value for VR UI: '\x00\x13@'") == "Invalid value for VR UI: '\\x00\\x13@'"
    assert len(input_warnings.tidy("x" * 500)) == input_warnings.MAX_CHARS
    import logging

    log = logging.getLogger("pydicom")
    with input_warnings.collected() as seen:
        for k in range(30):
            log.warning("warning %d", k)
        log.warning("warning 0")
    assert seen == [f"pydicom: warning {k}" for k in range(input_warnings.MAX_WARNINGS)]
    log.warning("outside any request")  # no list to go to: dropped by the collector


# -- what fuzz seed 20261204 found -------------------------------------------------------------------------
def test_codestream_size_of_jpeg_jpegls_and_j2k_headers() -> None:
    from pydicom.encaps import generate_fragments

    from dcmharness.backends.preflight import codestream_size

    def first_fragment(name: str) -> bytes:
        fragments = list(generate_fragments(inspect(str(find(name))).dataset.PixelData))
        return fragments[1]

    assert codestream_size(first_fragment("JPEGLSNearLossless_16.dcm")) == (10, 50)  # SOF55
    assert codestream_size(first_fragment("SC_rgb_jpeg_dcmtk.dcm")) == (100, 100)  # SOF0
    assert codestream_size(first_fragment("JPEG2000.dcm")) == (256, 1024)  # SIZ (Columns 256, Rows 1024)
    assert codestream_size(b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x00\x00\x10\x01") is None  # height 0: DNL
    assert codestream_size(b"RLE") is None


def test_an_unreadable_uid_is_decode_failed_for_orthanc(tmp_path: Path) -> None:
    import pydicom

    from dcmharness.adapters.orthanc.client import uid_of
    from dcmharness.contract.errors import HarnessError

    data = find("CT_small.dcm").read_bytes()
    el = next(e for e in walk(data).elements if e.tag == 0x0020000E and not e.in_meta)
    path = tmp_path / "wi.dcm"
    path.write_bytes(data[: el.offset + 4] + b"WI" + data[el.offset + 6 :])  # seed 20261204 case 1061
    ds = pydicom.dcmread(path)
    with pytest.raises(HarnessError) as info:
        uid_of(ds, "SeriesInstanceUID")
    assert (info.value.code.value, info.value.field) == ("decode_failed", "input")
    expected = "SeriesInstanceUID is unreadable: NotImplementedError: Unknown Value Representation 'WI'"
    assert expected in info.value.message
    assert uid_of(ds, "SOPInstanceUID") == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"


def test_orthanc_memory_cap_from_the_environment() -> None:
    from dcmharness.adapters.orthanc.server import max_memory_mb

    assert max_memory_mb({}) == 1536
    assert max_memory_mb({"DCMHARNESS_ORTHANC_MAX_MEMORY_MB": "3000"}) == 3000
    assert max_memory_mb({"DCMHARNESS_ORTHANC_MAX_MEMORY_MB": "-5"}) == 1536


@pytest.mark.live
def test_orthanc_runs_out_of_its_own_memory_not_the_machines(tmp_path: Path) -> None:
    """Seed 77123 case 1737 (MR_small_implicit declared explicit VR): Orthanc's parser grew to 1.24 GB;
    under the server's address-space cap it answers 'running out of memory' and goes on serving."""
    from dcmharness.adapters.orthanc import server as orthanc_server
    from dcmharness.interface import registry

    if not registry.get("orthanc").availability().available:
        pytest.skip("orthanc not available")
    spec, data = fuzz.make_case(1737, 77123, fuzz.load_seeds())
    assert (spec.seed_file, spec.kind) == ("MR_small_implicit.dcm", "transfer_syntax")
    path = tmp_path / "case_1737.dcm"
    path.write_bytes(data)
    resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": "orthanc"})
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert "running out of memory" in resp.error.message
    peaks = []
    for server in orthanc_server.live_servers():
        status = Path(f"/proc/{server.pid}/status").read_text()
        peaks.append(int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]))
    assert peaks and max(peaks) < 600 * 1024  # kB resident at most, against 1.24 GB uncapped
    ok = run({"op": "to_image", "input": str(find("CT_small.dcm")), "output": str(tmp_path / "ct.png"),
              "backend": "orthanc"})  # fmt: skip
    assert ok.ok, ok.error


# -- the newer to_image backends under the fuzzer: dicom_rs, dcmjs, cornerstone (and python_gdcm's decode) ----
def test_native_tool_cap_follows_the_input() -> None:
    assert native_memory.address_space_mb(0, 0, cap=4096) == 512
    assert native_memory.address_space_mb(5 * MIB, 32768, cap=4096) == 512 + 3 * 5 + 4 * 1
    assert native_memory.address_space_mb(2 * 10**9, 10**9, cap=4096) == 4096
    assert native_memory.capped_argv(["dicom-toimage", "-o", "x.png"], 600, "/usr/bin/prlimit") == [
        "/usr/bin/prlimit",
        f"--as={600 * MIB}",
        "--",
        "dicom-toimage",
        "-o",
        "x.png",
    ]
    assert native_memory.capped_argv(["dicom-toimage"], 600, None) == ["dicom-toimage"]


def test_native_cap_from_the_environment() -> None:
    assert native_memory.max_mb({"DCMHARNESS_NATIVE_MAX_MEMORY_MB": "1000"}) == 1000
    assert native_memory.max_mb({"DCMHARNESS_NATIVE_MAX_MEMORY_MB": "lots"}) == 4096
    assert native_memory.max_mb({}) == 4096


#: fuzz seed 4101: dicom-toimage reserved each damaged declared length (1.07-1.80 GB) before reading it; its
#: case 179 (a VR of two zero bytes, read with a 32-bit length) is now refused before any backend runs
DICOM_RS_CASES = [
    (44, "MR_small_implicit.dcm", "transfer_syntax", "(1230128452 bytes)"),
    (141, "CT_small.dcm", "bit_flip", "(1795168512 bytes)"),
]


@pytest.mark.live
@pytest.mark.parametrize(
    ("index", "seed_file", "kind", "words"), DICOM_RS_CASES, ids=[str(c[0]) for c in DICOM_RS_CASES]
)
def test_dicom_rs_fails_within_its_cap_on_a_damaged_length(
    tmp_path: Path, index: int, seed_file: str, kind: str, words: str
) -> None:
    from dcmharness.interface import registry

    if not registry.get("dicom_rs").availability().available:
        pytest.skip("dicom_rs not installed (make setup)")
    spec, data = fuzz.make_case(index, 4101, fuzz.load_seeds())
    assert (spec.seed_file, spec.kind) == (seed_file, kind)
    report = fuzz.run_fuzz(0, ["dicom_rs"], seed=4101, jobs=1, only=[index], rss_limit_mb=400)
    assert report.failures == [], fuzz.format_report(report)  # was: 1.0-1.7 GB, killed over the 1024 MB limit
    assert report.codes == {"dicom_rs": {"backend_failed": 1}}
    assert report.peak_tree_rss_mb < 400
    path = tmp_path / f"case_{index}.dcm"
    path.write_bytes(data)
    resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": "dicom_rs"})
    assert resp.error is not None and f"Could not reserve memory for data value {words}" in resp.error.message


@pytest.mark.live
def test_dicom_rs_says_it_could_not_reserve_the_memory(tmp_path: Path) -> None:
    from dcmharness.interface import registry

    if not registry.get("dicom_rs").availability().available:
        pytest.skip("dicom_rs not installed (make setup)")
    path = tmp_path / "case_44.dcm"
    path.write_bytes(fuzz.make_case(44, 4101, fuzz.load_seeds())[1])
    resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": "dicom_rs"})
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert "Could not reserve memory for data value (1230128452 bytes)" in resp.error.message
    assert not (tmp_path / "o.png").exists()


def test_chromium_gets_prlimit_only_under_a_soft_address_space_limit() -> None:
    from dcmharness.adapters.cornerstone.session import address_space_wrapper, chromium_argv
    from dcmharness.contract.errors import HarnessError

    infinity = resource.RLIM_INFINITY
    assert address_space_wrapper((infinity, infinity), "/usr/bin/prlimit") is None
    assert address_space_wrapper((16 * 1024 * MIB, infinity), "/usr/bin/prlimit") == "/usr/bin/prlimit"
    with pytest.raises(HarnessError, match=r"hard RLIMIT_AS \(16384 MiB\) cannot be lifted"):
        address_space_wrapper((16 * 1024 * MIB, 16 * 1024 * MIB), "/usr/bin/prlimit")
    with pytest.raises(HarnessError, match=r"prlimit \(util-linux\) is not on PATH"):
        address_space_wrapper((16 * 1024 * MIB, infinity), None)
    argv = chromium_argv("/usr/bin/chromium", Path("/t/p"), "/usr/bin/prlimit")
    assert argv[:4] == ["/usr/bin/prlimit", "--as=unlimited:", "--", "/usr/bin/chromium"]
    assert argv[-2:] == ["--user-data-dir=/t/p", "about:blank"]


def _cornerstone_available() -> bool:
    from dcmharness.interface import registry

    return registry.get("cornerstone").availability().available


@pytest.mark.live
def test_cornerstone_renders_in_a_fuzz_worker_and_its_browser_is_measured() -> None:
    """Seed 1 case 13: under the worker's RLIMIT_AS Chromium died at start ("chromium exited with status -5",
    backend_failed); the fuzzer then measured nothing of the browser."""
    if not _cornerstone_available():
        pytest.skip("cornerstone not built (make setup)")
    report = fuzz.run_fuzz(0, ["cornerstone"], seed=1, jobs=1, only=[13])
    assert report.failures == [], fuzz.format_report(report)
    assert report.codes == {"cornerstone": {"ok": 1}}
    assert report.peak_tree_rss_mb > 100  # Chromium's processes and the Node driver are in the sum


@pytest.mark.live
def test_cornerstone_gets_no_rle_frame_its_data_cannot_fill() -> None:
    """Seed 20261207 case 1528 (OBXXXX1A_rle, Columns 65535): the case's processes reached 1119 MB (Chromium
    791 MB) and were killed; with a higher limit Chromium's tree reached 2.65 GB and the render timed out."""
    if not _cornerstone_available():
        pytest.skip("cornerstone not built (make setup)")
    report = fuzz.run_fuzz(0, ["cornerstone"], seed=20261207, jobs=1, only=[1528])
    assert report.failures == [], fuzz.format_report(report)
    assert report.codes == {"cornerstone": {"decode_failed": 1}}


@pytest.mark.live
def test_the_memory_limit_covers_chromium() -> None:
    if not _cornerstone_available():
        pytest.skip("cornerstone not built (make setup)")
    report = fuzz.run_fuzz(0, ["cornerstone"], seed=1, jobs=1, only=[13], rss_limit_mb=120)
    assert [f["status"] for f in report.failures] == ["memory"]
    message = report.failures[0]["message"]
    assert "> 120 MB (killed; largest: " in message
    # the processes counted: Chromium's among them (which one is largest depends on how big the forked worker is)
    assert "chromium" in message.split("; ", 1)[1], message


@pytest.mark.live
def test_the_memory_limit_covers_node() -> None:
    """The dcmjs worker (Node) is one of the case's processes (its worker pool lives in the case's worker)."""
    from dcmharness.interface import registry

    if not registry.get("dcmjs").availability().available:
        pytest.skip("dcmjs not installed (make setup)")
    ok = run(
        {
            "op": "to_image",
            "input": str(find("CT_small.dcm")),
            "output": str(Path(tempfile.mkdtemp()) / "ct.png"),
            "backend": "dcmjs",
        }
    )
    assert ok.ok, ok.error
    try:
        total, pids = memory.tree_rss(os.getpid())
        names = {memory.command_name(p) for p in pids}
        assert "node" in names
        node = [p for p in pids if memory.command_name(p) == "node"]
        assert total >= sum(memory.pss_bytes(p) for p in node) > 10 * MIB
    finally:
        registry.get("dcmjs").close()


def test_marked_finds_a_process_by_its_environment() -> None:
    env = {**os.environ, "DCMHARNESS_FUZZ_CASE": "test-1"}
    child = subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)  # noqa: S607
    try:
        pids = list(memory.parent_map())
        assert memory.marked(b"DCMHARNESS_FUZZ_CASE=test-1", pids) == [child.pid]
        assert memory.marked(b"DCMHARNESS_FUZZ_CASE=test-2", pids) == []
        assert 0 < memory.pss_bytes(os.getpid()) <= memory.rss_bytes(os.getpid())
    finally:
        memory.kill_all([child.pid])
        child.wait(5)


@pytest.mark.live
def test_python_gdcm_decode_of_case_904_is_a_structured_error(tmp_path: Path) -> None:
    """Seed 77123 case 904 (SC_rgb_jpeg_dcmtk with Bits Allocated 64, Bits Stored 33): pydicom's gdcm plugin
    threw out of GDCM's JPEG codec and the whole process aborted (exit status 134, SIGABRT). Run as a CLI
    process, so that an abort would fail this test instead of ending pytest."""
    from dcmharness.interface import registry

    if not registry.get("python_gdcm").availability().available:
        pytest.skip("python-gdcm not installed")
    path = tmp_path / "case_904.dcm"
    path.write_bytes(fuzz.make_case(904, 77123, fuzz.load_seeds())[1])
    argv = [sys.executable, "-m", "dcmharness", "run", "--op", "decode", "--input", str(path)]
    argv += ["--output", str(tmp_path / "o.npy"), "--backend", "python_gdcm"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr[-500:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["error"]["code"] == "decode_failed"
    assert answer["error"]["message"].startswith("Bits Stored 33 is more than a JPEG or JPEG-LS frame holds")
    assert not (tmp_path / "o.npy").exists()


# -- a tool that exists but cannot be started ---------------------------------------------------------------
def _unstartable(tmp_path: Path) -> list[tuple[Path, str]]:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a program")
    garbage.chmod(0o755)
    return [(loop, "Too many levels of symbolic links"), (garbage, "Exec format error")]


def test_a_tool_that_cannot_be_started_is_backend_unavailable(tmp_path: Path) -> None:
    from dcmharness.adapters.runner import ToolError

    for path, words in _unstartable(tmp_path):
        with pytest.raises(ToolError) as caught:
            run_tool([str(path), "--version"], timeout=5)
        assert caught.value.code.value == "backend_unavailable"
        assert caught.value.message == f"tool cannot be started: {path}: {words}"


@pytest.mark.parametrize("requests", [1, 2], ids=["one-shot", "batch"])
def test_rust_render_with_an_unstartable_binary_answers_backend_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requests: int
) -> None:
    """Fuzz seed 20261207 cases 1712-2081: the shared rust_render build was replaced while the run used it
    ('Too many levels of symbolic links' for target/release/dicom-render): 99 ``internal_error`` answers."""
    from dcmharness.adapters.base import ToolInfo
    from dcmharness.adapters.rust_render import RustRenderAdapter
    from dcmharness.interface import registry

    for path, words in _unstartable(tmp_path):
        adapter = RustRenderAdapter()
        adapter._tool, adapter._searched = ToolInfo(str(path), "0.1.0"), True
        monkeypatch.setitem(registry._instances, "rust_render", adapter)
        for k in range(requests):  # the second request of a process goes to a --batch worker
            out = tmp_path / f"o{k}.png"
            resp = run(
                {"op": "to_image", "input": str(find("CT_small.dcm")), "output": str(out), "backend": "rust_render"}
            )
            assert resp.error is not None and resp.error.code == "backend_unavailable", resp.error
            assert words in resp.error.message
            assert not out.exists()


def test_seed_20261209_case_9743_unknown_vr_read_as_dcmtk_reads_it() -> None:
    """JPEG-lossy.dcm with Additional Patient History's VR turned into 'ZZ': pydicom reads a 16-bit length (0),
    dcmtk (and Orthanc) the 32-bit length of an unknown VR, 1073741840 bytes, which took Orthanc past 1 GB.
    The shared preflight now refuses it, naming the element, before any backend runs."""
    report = fuzz.run_fuzz(0, ["python_ref"], seed=20261209, jobs=1, only=[9743])
    assert report.failures == [], fuzz.format_report(report)
    assert report.codes == {"python_ref": {"decode_failed": 1}}


def test_seed_995_case_31_a_non_letter_vr_read_as_orthanc_reads_it(tmp_path: Path) -> None:
    """SC_rgb_jpeg_dcmtk.dcm with Laterality (0020,0060)'s VR turned into two zero bytes: pydicom reads it as an
    implicit VR element and dcmtk with a 16-bit length (both: 0 bytes), Orthanc's stream reader with a 32-bit
    length, the next element's tag (0x40000020), which it allocated on upload: 1,089,956 kB peak on 3424 bytes.
    The shared preflight refuses it, naming the element and Orthanc, before any backend runs."""
    report = fuzz.run_fuzz(0, ["python_ref"], seed=995, jobs=1, only=[31])
    assert report.failures == [], fuzz.format_report(report)
    assert report.codes == {"python_ref": {"decode_failed": 1}}
    assert report.kinds == {"vr": 1}
    # seed 4101 case 179, the same mutation of SC_rgb_small_odd.dcm, on which dicom-toimage said "Could not
    # reserve memory for data value (1073741856 bytes)": it reads those bytes with a 32-bit length too
    spec, data = fuzz.make_case(179, 4101, fuzz.load_seeds())
    assert spec.detail == "(0020,0060) CS -> '\\x00\\x00'"
    path = tmp_path / "case_179.dcm"
    path.write_bytes(data)
    resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "o.png"), "backend": "python_ref"})
    assert resp.error is not None and resp.error.code == "decode_failed"
    assert resp.error.message.startswith("element (0020,0060) has the unknown VR '00 00': read with the 32-bit")
    assert "(as read by Orthanc) it declares 1073741856 bytes at offset 1002" in resp.error.message
