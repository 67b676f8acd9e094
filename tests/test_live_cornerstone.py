"""Live: the cornerstone backend in Debian's headless Chromium (skipped, saying why, without the page built).

- CT_small and MR_small render as python_ref renders them (default VOI and an explicit window);
- every frame of a multi-frame file is written;
- a render that outlives its timeout is answered ``timeout``, the page replaced, the session goes on;
- an exception the page throws outside the render fails it at once (``decode_failed``), not at the timeout;
- the browser and the driver stop by PID on close() and on SIGTERM of the harness; none is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dcmharness.adapters.cornerstone.adapter import CornerstoneAdapter
from dcmharness.backends.outputs import plan_outputs
from dcmharness.backends.preflight import inspect
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run

pytestmark = [pytest.mark.live]
REPO = Path(__file__).resolve().parents[1]


def _missing() -> str | None:
    avail = CornerstoneAdapter().availability()
    return None if avail.available else f"cornerstone not available: {avail.reason}"


live = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone for our purpose
        return fh.read().split(")")[-1].split()[0] != "Z"


def _render(backend: str, src: Path, out: Path, options: dict[str, Any]) -> np.ndarray:
    resp = run({"op": "to_image", "backend": backend, "input": str(src), "output": str(out), "options": options})
    assert resp.ok, resp.error
    return np.asarray(Image.open(resp.outputs[0])).astype(np.int64)


@live
@pytest.mark.parametrize(
    "options",
    [{}, {"window_center": 40, "window_width": 400}, {"window_preset": "brain"}, {"colormap": "hot_iron"},
     {"colormap": "1.2.840.10008.1.5.2", "window_center": 40, "window_width": 400}, {"colormap": "hot_metal_blue"},
     {"colormap": "pet_20_step"}],
)  # fmt: skip
def test_agrees_with_python_ref(tmp_path: Path, ct_small: Path, mr_small: Path, options: dict[str, Any]) -> None:
    try:
        for src in (ct_small, mr_small):
            ref = _render("python_ref", src, tmp_path / f"ref_{src.stem}.png", options)
            mine = _render("cornerstone", src, tmp_path / f"cs_{src.stem}.png", options)
            assert ref.shape == mine.shape
            assert int(np.abs(ref - mine).max()) <= 1, src.name
    finally:
        registry.close_all()


def _request(src: Path, out: Path, **kw: Any) -> tuple[ToImageRequest, Any, Any]:
    request = ToImageRequest.model_validate({"op": "to_image", "input": str(src), "output": str(out), **kw})
    info = inspect(str(src))
    return request, info, plan_outputs([(out, 0)], overwrite=True)


@live
def test_every_frame_is_written(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    src = Path(str(get_testdata_file("emri_small.dcm")))  # 10 frames of 64 x 64
    resp = run({"op": "to_image", "backend": "cornerstone", "input": str(src), "output": str(tmp_path / "e.png"),
                "options": {"frame": "all"}})  # fmt: skip
    registry.close_all()
    assert resp.ok, resp.error
    assert [Path(p).name for p in resp.outputs] == [f"e_{i:04d}.png" for i in range(10)]
    frames = [np.asarray(Image.open(p)) for p in resp.outputs]
    assert all(f.shape == (64, 64) for f in frames)
    assert not np.array_equal(frames[0], frames[9])


@live
def test_timeout_replaces_the_page_and_the_session_goes_on(tmp_path: Path, ct_small: Path) -> None:
    adapter = CornerstoneAdapter()
    try:
        request, info, plan = _request(ct_small, tmp_path / "warm.png")
        adapter.execute(request, info, plan)  # the page is up and warm
        session = adapter.session()
        pids = (session.browser.pid, session.driver.pid)  # type: ignore[union-attr]
        request, info, plan = _request(ct_small, tmp_path / "late.png", timeout=0.001)
        with pytest.raises(HarnessError) as err:
            adapter.execute(request, info, plan)
        assert err.value.code == ErrorCode.TIMEOUT
        assert not plan.targets[0].temp.exists() or plan.targets[0].temp.stat().st_size == 0
        request, info, plan = _request(ct_small, tmp_path / "after.png")
        outcome = adapter.execute(request, info, plan)
        assert outcome.result["width"] == 128
        assert (session.browser.pid, session.driver.pid) == pids  # type: ignore[union-attr]
    finally:
        adapter.close()
    assert not any(_alive(p) for p in pids)


@live
def test_an_exception_the_page_throws_outside_the_render_fails_it_at_once(tmp_path: Path, ct_small: Path) -> None:
    """Fuzz seed 20261213 case 53 (SC_rgb_jpeg_dcmtk.dcm relabelled JPEG 2000 lossless): Cornerstone throws in
    its canvas code ("IndexSizeError ... The source width is zero") outside the render's promise, which then
    never settles; the page sits idle. The driver answers decode_failed 2 s after the exception, with its
    message, instead of at the timeout, replaces the page, and the session goes on."""
    from dcmharness.interface.fuzz import runner as fuzz

    spec, data = fuzz.make_case(53, 20261213, fuzz.load_seeds())
    assert spec.detail == "1.2.840.10008.1.2.4.50 -> 1.2.840.10008.1.2.4.90"
    src = tmp_path / "case_53.dcm"
    src.write_bytes(data)
    adapter = CornerstoneAdapter()
    try:
        request, info, plan = _request(ct_small, tmp_path / "warm.png")
        adapter.execute(request, info, plan)
        session = adapter.session()
        pids = (session.browser.pid, session.driver.pid)  # type: ignore[union-attr]
        request, info, plan = _request(src, tmp_path / "thrown.png", timeout=60)
        started = time.monotonic()
        with pytest.raises(HarnessError) as err:
            adapter.execute(request, info, plan)
        assert time.monotonic() - started < 30  # not the 60 s timeout
        assert err.value.code == ErrorCode.DECODE_FAILED
        assert "Cornerstone threw and did not answer: IndexSizeError" in err.value.message
        request, info, plan = _request(ct_small, tmp_path / "after.png")
        assert adapter.execute(request, info, plan).result["width"] == 128
        assert (session.browser.pid, session.driver.pid) == pids  # type: ignore[union-attr]
    finally:
        adapter.close()


@live
def test_close_and_sigterm_stop_browser_and_driver(tmp_path: Path, ct_small: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from dcmharness.interface.api import run
        from dcmharness.interface import registry
        r = run({{"op": "to_image", "backend": "cornerstone", "input": {str(ct_small)!r},
                  "output": {str(tmp_path / "x.png")!r}}})
        s = registry.get("cornerstone")._session
        print(r.ok, s.browser.pid, s.driver.pid, flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        ok, browser, driver = proc.stdout.readline().split()
        assert ok == "True" and _alive(int(browser)) and _alive(int(driver))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_alive(int(browser)) or _alive(int(driver))):
        time.sleep(0.1)
    assert not _alive(int(browser)) and not _alive(int(driver))
