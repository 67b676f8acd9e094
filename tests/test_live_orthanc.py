"""Live: the Orthanc backend against a real Orthanc 1.10 + DICOMweb plugin (skipped, saying why, without one).

- single requests write the expected image (values computed here from the standard's formulas);
- the facts the adapter relies on are re-checked on the server (core route truncates, native linear-exact
  is offset, min-max without a window);
- instances are deleted after each request, a stale instance with the same UIDs is replaced;
- the server stops on close(), SIGTERM, Ctrl-C and even SIGKILL of the harness; none is left running;
- agreement with python_ref on the real sample files, explicit_window and stored_window profiles: within
  1 level or explained by the divergence registry. ``python tests/test_live_orthanc.py`` prints the table.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

from dcmharness.adapters.orthanc.adapter import OrthancAdapter
from dcmharness.adapters.orthanc.server import URL_ENV, OrthancServer, find_plugins, orthanc_pids, pid_alive
from dcmharness.backends.outputs import plan_outputs
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import Response, ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.compare import compare_files, load_image
from dcmharness.interface.conform.profiles import PROFILES
from dcmharness.interface.samples import find, image_files

pytestmark = [pytest.mark.live]

REPO = Path(__file__).resolve().parents[1]
LIVE_PROFILES = ("explicit_window", "stored_window")
TOLERANCE = 1.0


def orthanc_missing() -> str | None:
    avail = OrthancAdapter().availability()
    return None if avail.available else f"orthanc not available: {avail.reason}"


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancAdapter]:
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    adapter = registry.get("orthanc")
    assert isinstance(adapter, OrthancAdapter)
    yield adapter
    adapter.close()
    assert orthanc_pids(parent=os.getpid()) == [], "an Orthanc started by this test process is still running"


def render(backend: str, name: str, out: Path, output: str = "x.png", **options: Any) -> Response:
    return run(
        {
            "op": "to_image",
            "input": str(find(name)),
            "output": str(out / f"{backend}.{output}"),
            "backend": backend,
            "overwrite": True,
            "options": options,
        }
    )


def get(adapter: OrthancAdapter, path: str, accept: str | None = None) -> bytes:
    headers = {"Accept": accept} if accept else {}
    req = urllib.request.Request(adapter.server().base_url + path, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        body: bytes = resp.read()
        return body


def stored_instances(adapter: OrthancAdapter) -> list[str]:
    ids: list[str] = json.loads(get(adapter, "/instances"))
    return ids


def modality_values(name: str, frame: int = 0) -> np.ndarray:
    ds = pydicom.dcmread(find(name))
    pixels = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[frame]
    return pixels.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def round_half_up(y: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(y + 0.5), 0, 255)


# -- single requests -------------------------------------------------------------------------------------------
def test_explicit_window_writes_the_hand_computed_image(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    resp = render("orthanc", "CT_small.dcm", tmp_path, window_center=40.0, window_width=400.0)
    assert resp.ok, resp.error
    assert resp.backend_version and resp.backend_version.startswith("1.")
    assert resp.result is not None and (resp.result["width"], resp.result["height"], resp.result["mode"]) == (
        128,
        128,
        "L",
    )
    assert resp.command is not None and resp.command[0].startswith("POST http://127.0.0.1:")
    assert "/frames/1/rendered?window=40,400,linear [Accept: image/png]" in resp.command[1]
    assert resp.command[-1].startswith("DELETE ")
    # PS3.3 C.11.2.1.2.1, c = 40, w = 400, on the rescaled CT values
    x = modality_values("CT_small.dcm")
    lo, hi = 40 - 0.5 - 399 / 2, 40 - 0.5 + 399 / 2
    expected = np.where(x <= lo, 0, np.where(x > hi, 255, ((x - 39.5) / 399 + 0.5) * 255))
    got = load_image(resp.outputs[0])
    assert np.array_equal(got, round_half_up(expected).astype(np.uint8))
    assert stored_instances(orthanc) == []


def test_jpeg_output_honours_quality(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    png = render("orthanc", "CT_small.dcm", tmp_path, "w.png", window_center=40.0, window_width=400.0)
    sizes = {}
    for q in (10, 95):
        resp = render(
            "orthanc", "CT_small.dcm", tmp_path, f"q{q}.jpg", window_center=40.0, window_width=400.0, quality=q
        )
        assert resp.ok, resp.error
        assert resp.command is not None and f"&quality={q} [Accept: image/jpeg]" in resp.command[1]
        with Image.open(resp.outputs[0]) as img:
            assert img.format == "JPEG"
        sizes[q] = Path(resp.outputs[0]).stat().st_size
    assert sizes[10] < sizes[95]
    diff = compare_files(png.outputs[0], str(tmp_path / "orthanc.q95.jpg"))
    assert diff.mean_abs_diff < 1.5


@pytest.mark.parametrize(
    "options",
    [
        {"window_center": 40.0, "window_width": 400.0, "voi_function": "linear_exact"},
        {"window_center": 40.0, "window_width": 400.0, "voi_function": "sigmoid"},
        {"voi": "minmax"},
        {"voi": "none"},
    ],
    ids=["linear_exact", "sigmoid", "minmax", "none"],
)
def test_ct_agrees_with_the_reference(orthanc: OrthancAdapter, tmp_path: Path, options: dict[str, Any]) -> None:
    ours, ref = (
        render("orthanc", "CT_small.dcm", tmp_path, **options),
        render("python_ref", "CT_small.dcm", tmp_path, **options),
    )
    assert ours.ok and ref.ok, (ours.error, ref.error)
    assert compare_files(ref.outputs[0], ours.outputs[0]).max_abs_diff <= 1


def test_stored_window_and_monochrome1(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    for name in ("MR_small.dcm", "RG1_UNCI.dcm"):
        ours = render("orthanc", name, tmp_path, voi="window", voi_index=0)
        ref = render("python_ref", name, tmp_path, voi="window", voi_index=0)
        assert ours.ok and ref.ok, (ours.error, ref.error)
        assert ours.result is not None and ours.result["voi"]["source"] == "window"
        assert compare_files(ref.outputs[0], ours.outputs[0]).max_abs_diff <= 1, name


def test_frames_are_one_based_on_the_wire(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    one = render("orthanc", "emri_small.dcm", tmp_path, "f7.png", frame=7, voi="minmax")
    ref = render("python_ref", "emri_small.dcm", tmp_path, "f7.png", frame=7, voi="minmax")
    assert one.ok and ref.ok and one.command is not None
    assert "/frames/8/rendered" in one.command[1]
    assert compare_files(ref.outputs[0], one.outputs[0]).max_abs_diff <= 1
    every = render("orthanc", "emri_small.dcm", tmp_path, "all.png", frame="all", voi="minmax")
    assert every.ok, every.error
    assert [Path(p).name for p in every.outputs] == [f"orthanc.all_{i:04d}.png" for i in range(10)]
    assert sum(1 for c in every.command or [] if c.startswith("POST ")) == 1  # one upload for all frames
    assert np.array_equal(load_image(every.outputs[7]), load_image(one.outputs[0]))


def test_colour_image(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    ours, ref = render("orthanc", "SC_rgb_2frame.dcm", tmp_path), render("python_ref", "SC_rgb_2frame.dcm", tmp_path)
    assert ours.ok and ref.ok, (ours.error, ref.error)
    assert ours.result is not None and ours.result["mode"] == "RGB"
    assert compare_files(ref.outputs[0], ours.outputs[0]).max_abs_diff <= 1


def test_refused_before_anything_runs(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    resp = render("orthanc", "CT_small.dcm", tmp_path, "x.tiff")
    assert not resp.ok and resp.error is not None
    assert (resp.error.code, resp.error.field) == ("unsupported_option", "options.format")
    assert resp.command is None
    assert not (tmp_path / "orthanc.x.tiff").exists()


# -- instances ---------------------------------------------------------------------------------------------------
def test_a_stale_instance_with_the_same_uids_is_replaced(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    ds = pydicom.dcmread(find("CT_small.dcm"))
    arr = ds.pixel_array
    ds.PixelData = (arr.max() - arr + arr.min()).astype(arr.dtype).tobytes()  # same UIDs, other pixels
    buf = io.BytesIO()
    ds.save_as(buf)
    req = urllib.request.Request(orthanc.server().base_url + "/instances", data=buf.getvalue(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read())["Status"] in ("Success", "AlreadyStored")
    ours = render("orthanc", "CT_small.dcm", tmp_path, voi="minmax")
    ref = render("python_ref", "CT_small.dcm", tmp_path, voi="minmax")
    assert ours.ok, ours.error
    assert ours.command is not None and sum(1 for c in ours.command if c.startswith("POST ")) == 2
    assert compare_files(ref.outputs[0], ours.outputs[0]).max_abs_diff <= 1
    assert stored_instances(orthanc) == []


def test_a_crash_is_reported_and_the_next_request_restarts_the_server(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    """rtdose_1frame.dcm aborts Orthanc 1.10.1 + GDCM 1.5 (an assertion on (0028,0008)); check() refuses it,
    so execute() is called directly here to see that a dying server is reported and replaced."""
    path = find("rtdose_1frame.dcm")
    info = inspect(str(path))
    request = ToImageRequest.model_validate({"op": "to_image", "input": str(path), "output": str(tmp_path / "d.png")})
    plan = plan_outputs([(tmp_path / "d.png", 0)], overwrite=True)
    first = orthanc.server()
    try:
        orthanc.execute(request, info, plan)
    except HarnessError as exc:
        if first.running:
            pytest.skip(f"this Orthanc no longer crashes on rtdose_1frame.dcm ({exc.message})")
        assert exc.code.value == "backend_failed"
        assert exc.message.startswith("orthanc crashed: exit status")
    else:
        pytest.skip("this Orthanc renders rtdose_1frame.dcm")
    finally:
        plan.discard()
    assert first.pid is not None and not pid_alive(first.pid)
    resp = render("orthanc", "CT_small.dcm", tmp_path, window_center=40.0, window_width=400.0)
    assert resp.ok, resp.error
    assert orthanc.server() is not first


# -- facts about the server the adapter relies on ------------------------------------------------------------------
def _upload(orthanc: OrthancAdapter, name: str) -> str:
    req = urllib.request.Request(orthanc.server().base_url + "/instances", data=find(name).read_bytes(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        instance: str = json.loads(r.read())["ID"]
        return instance


def _delete(orthanc: OrthancAdapter, instance: str) -> None:
    req = urllib.request.Request(orthanc.server().base_url + f"/instances/{instance}", method="DELETE")
    urllib.request.urlopen(req, timeout=30).close()


def _png(body: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(body)) as img:
        return np.asarray(img).astype(np.float64)


def test_fact_native_linear_exact_omits_the_half(orthanc: OrthancAdapter) -> None:
    """DICOMweb ``window=c,w,linear-exact`` computes (x-c)/w*255: 127.5 levels below C.11.2.1.3.2."""
    ds = pydicom.dcmread(find("CT_small.dcm"))
    instance = _upload(orthanc, "CT_small.dcm")
    try:
        path = (
            f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
            "/frames/1/rendered?window=40,400,linear-exact"
        )
        got = _png(get(orthanc, path, "image/png"))
    finally:
        _delete(orthanc, instance)
    x = modality_values("CT_small.dcm")
    native = np.where(x <= -160, 0, np.where(x > 240, 255, (x - 40) / 400 * 255))
    assert np.abs(got - round_half_up(native)).max() <= 1
    standard = np.where(x <= -160, 0, np.where(x > 240, 255, ((x - 40) / 400 + 0.5) * 255))
    assert np.abs(got - round_half_up(standard)).max() >= 127


def test_fact_core_route_is_a_truncated_linear_exact(orthanc: OrthancAdapter) -> None:
    """The core ``/instances/{id}/frames/0/rendered?window-center=&window-width=`` computes
    floor(((x-c)/w+0.5)*255): LINEAR_EXACT truncated, not the LINEAR of C.11.2.1.2.1 the contract means by a
    window (one level low on most pixels), which is why the adapter uses the DICOMweb route."""
    instance = _upload(orthanc, "CT_small.dcm")
    try:
        got = _png(
            get(orthanc, f"/instances/{instance}/frames/0/rendered?window-center=40&window-width=400", "image/png")
        )
    finally:
        _delete(orthanc, instance)
    x = modality_values("CT_small.dcm")
    assert np.array_equal(got, np.clip(np.floor(((x - 40) / 400 + 0.5) * 255), 0, 255))
    linear = round_half_up(np.where(x <= -160, 0, np.where(x > 239, 255, ((x - 39.5) / 399 + 0.5) * 255)))
    assert float(np.mean(got != linear)) > 0.5


# -- the server's life cycle ---------------------------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys, time
    from dcmharness.interface import registry
    server = registry.get("orthanc").server()
    print(server.pid, flush=True)
    time.sleep(120)
    """
)


def _wait_gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "Ctrl-C", "SIGKILL"])
def test_the_server_dies_with_the_harness(orthanc: OrthancAdapter, sig: signal.Signals, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"  # the server's folder: a SIGKILLed harness cannot remove it, so not in /tmp
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        pid = int(child.stdout.readline())
        assert pid_alive(pid)
        assert len(list(scratch.glob("dcmharness-orthanc-*"))) == 1
        child.send_signal(sig)
        child.wait(timeout=30)
        assert _wait_gone(pid), f"Orthanc {pid} survived {sig.name} of the harness"
        if sig != signal.SIGKILL:  # a harness that can still act removes the server's folder
            assert list(scratch.glob("dcmharness-orthanc-*")) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_close_stops_the_server_and_removes_its_folder(orthanc: OrthancAdapter) -> None:
    adapter = OrthancAdapter()
    server = adapter.server()
    pid, folder = server.pid, server.folder
    assert pid is not None and folder is not None and folder.is_dir()
    adapter.close()
    assert not pid_alive(pid)
    assert not folder.exists()
    adapter.close()  # idempotent


def test_a_server_given_by_url_is_used_and_left_alone(
    orthanc: OrthancAdapter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = orthanc.tool()
    assert tool is not None
    theirs = OrthancServer(binary=tool.path, plugins=list(find_plugins().values()))
    theirs.start()
    try:
        monkeypatch.setenv(URL_ENV, theirs.base_url)
        adapter = OrthancAdapter()
        assert adapter.availability().location == theirs.base_url
        ct = find("CT_small.dcm")
        request = ToImageRequest.model_validate(
            {"op": "to_image", "input": str(ct), "options": {"window_center": 40.0, "window_width": 400.0}}
        )
        plan = plan_outputs([(tmp_path / "u.png", 0)], overwrite=True)
        outcome = adapter.execute(request, inspect(str(ct)), plan)
        assert outcome.command is not None and outcome.command[0] == f"POST {theirs.base_url}/instances"
        assert outcome.warnings == []
        # an instance of theirs with the same UIDs is rendered as stored and never deleted
        req = urllib.request.Request(theirs.base_url + "/instances", data=ct.read_bytes(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            kept = json.loads(r.read())["ID"]
        plan = plan_outputs([(tmp_path / "v.png", 0)], overwrite=True)
        outcome = adapter.execute(request, inspect(str(ct)), plan)
        assert len(outcome.warnings) == 1 and "left in place" in outcome.warnings[0]
        assert not any(c.startswith("DELETE") for c in outcome.command or [])
        with urllib.request.urlopen(theirs.base_url + "/instances", timeout=30) as r:
            assert json.loads(r.read()) == [kept]
        adapter.close()
        assert theirs.running  # not ours to stop
    finally:
        theirs.stop()


def test_a_cli_run_leaves_no_server_behind(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "op": "to_image",
                "input": str(find(name)),
                "output": str(tmp_path / f"{name}.png"),
                "backend": "orthanc",
                "options": {"voi": "minmax"},
            }
        )
        for name in ("CT_small.dcm", "MR_small.dcm")
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run"],
        input="\n".join(lines).encode(),
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    assert proc.returncode == 0 and all(a["ok"] for a in answers), answers
    port = answers[0]["command"][0].split("/")[2]
    assert answers[1]["command"][0].split("/")[2] == port  # one server for the whole run
    still = [p for p in orthanc_pids() if _config_port(p) == port.split(":")[1]]
    assert still == []


def _config_port(pid: int) -> str | None:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return str(json.loads(Path(args[1].decode()).read_text())["HttpPort"])
    except (OSError, IndexError, ValueError, KeyError):
        return None


# -- agreement on the corpus ---------------------------------------------------------------------------------------
def compare_pair(path: Path, profile: str, options: dict[str, Any], info: InputInfo, out: Path) -> tuple[str, str]:
    """(status, detail): agree / explained / unsupported / reference_error / mismatch / failed."""
    tag = f"{path.name}.{profile}"
    resp = {
        b: run(
            {
                "op": "to_image",
                "input": str(path),
                "output": str(out / f"{tag}.{b}.png"),
                "backend": b,
                "overwrite": True,
                "timeout": 60,
                "options": options,
            }
        )
        for b in ("python_ref", "orthanc")
    }
    ref, ours = resp["python_ref"], resp["orthanc"]
    entries = divergence.load()
    if not ours.ok and ours.error and ours.error.code.startswith("unsupported"):
        return "unsupported", f"{ours.error.code}: {ours.error.message}"
    if not ref.ok:
        assert ref.error is not None
        return "reference_error", f"python_ref {ref.error.code}: {ref.error.message}"
    if not ours.ok:
        assert ours.error is not None
        why = explain(entries, path, profile, options, info, None)
        return ("explained", f"{why}") if why else ("failed", f"{ours.error.code}: {ours.error.message}")
    metrics = compare_files(ref.outputs[0], ours.outputs[0])
    if metrics.shape_match and metrics.max_abs_diff <= TOLERANCE:
        return "agree", ""
    why = explain(entries, path, profile, options, info, metrics.max_abs_diff if metrics.shape_match else None)
    detail = f"max |diff| {metrics.max_abs_diff:g}, {metrics.frac_diff_gt1:.1%} > 1"
    return ("explained", f"{why}: {detail}") if why else ("mismatch", detail)


def explain(
    entries: list[divergence.Divergence],
    path: Path,
    profile: str,
    options: dict[str, Any],
    info: InputInfo,
    diff: float | None,
) -> str | None:
    """The id of the registry entry explaining this result (``diff`` None: no comparable image)."""
    case = divergence.Case("orthanc", profile, str(path), options, info.dataset, info.transfer_syntax)
    found = divergence.find_explanation(entries, case, math.inf if diff is None else diff, diff is not None)
    return None if found.entry is None else str(found.entry.id)


def run_corpus() -> list[tuple[str, str, str, str]]:
    out = Path(tempfile.mkdtemp(prefix="dcmharness-live-orthanc-"))
    rows = []
    try:
        for path in image_files():
            try:
                info = inspect(str(path))
            except HarnessError:
                continue
            for profile in LIVE_PROFILES:
                options = PROFILES[profile].options_for(info)
                if options is not None:
                    status, detail = compare_pair(path, profile, options, info, out)
                    rows.append((path.name, profile, status, detail))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return rows


@pytest.fixture(scope="module")
def corpus(orthanc: OrthancAdapter) -> list[tuple[str, str, str, str]]:
    return run_corpus()


@pytest.mark.slow
def test_every_pair_agrees_or_is_explained(corpus: list[tuple[str, str, str, str]]) -> None:
    bad = [f"{n} [{p}] {s}: {d}" for n, p, s, d in corpus if s in ("mismatch", "failed")]
    assert not bad, "unexplained differences between orthanc and python_ref:\n" + "\n".join(bad)


@pytest.mark.slow
def test_most_pairs_agree_outright(corpus: list[tuple[str, str, str, str]]) -> None:
    table = Counter((p, s) for _, p, s, _ in corpus)
    for profile in LIVE_PROFILES:
        compared = table[profile, "agree"] + table[profile, "explained"]
        assert compared >= 20, f"{profile}: {compared} compared"
        assert table[profile, "agree"] >= 0.9 * compared, f"{profile}: {table}"


def main() -> int:
    reason = orthanc_missing()
    if reason:
        print(reason)
        return 0
    try:
        rows = run_corpus()
    finally:
        registry.close_all()
    for name, profile, status, detail in rows:
        if status != "agree":
            print(f"{status:<15} {profile:<16} {name:<45} {detail[:160]}")
    table = Counter((p, s) for _, p, s, _ in rows)
    statuses = ("agree", "explained", "unsupported", "reference_error", "mismatch", "failed")
    print(f"\n{'profile':<16} " + " ".join(statuses))
    for profile in LIVE_PROFILES:
        print(f"{profile:<16} " + " ".join(f"{table[profile, s]:>{len(s)}}" for s in statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
