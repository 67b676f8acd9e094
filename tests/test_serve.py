"""``dcmharness serve``: the HTTP app through the framework's test client, and a live server in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

fastapi = pytest.importorskip("fastapi", reason="dcmharness serve needs fastapi (the dev extra)")
from fastapi.testclient import TestClient  # noqa: E402

from dcmharness.interface import registry  # noqa: E402
from dcmharness.interface.api import RunContext, run  # noqa: E402
from dcmharness.interface.conform.compare import compare_files, load_image  # noqa: E402
from dcmharness.interface.server.app import Settings, create_app  # noqa: E402

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[1]
WINDOW = {"window_center": 40, "window_width": 400}


@pytest.fixture()
def root(tmp_path: Path, ct_small: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    shutil.copy(ct_small, r / "CT_small.dcm")
    (r / "sub").mkdir()
    return r


@pytest.fixture()
def client(root: Path, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(root=root, token=TOKEN, max_upload=64 * 1024, out_dir=tmp_path / "private"))
    with TestClient(app) as c:
        yield c


def available(name: str) -> bool:
    return bool(registry.get(name).availability().available)


# --- security ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/backends"),
        ("get", "/schema"),
        ("get", "/openapi.json"),
        ("get", "/"),
        ("post", "/run"),
        ("post", "/compare"),
    ],
)
def test_every_endpoint_needs_the_token(client: TestClient, method: str, path: str) -> None:
    resp = client.request(method, path, json={"op": "info", "input": "CT_small.dcm"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    wrong = client.request(method, path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "how",
    [
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"headers": {"X-Dcmharness-Token": TOKEN}},
        {"params": {"token": TOKEN}},
    ],
)
def test_the_token_is_taken_from_a_header_or_the_query(client: TestClient, how: dict[str, Any]) -> None:
    resp = client.get("/schema", **how)
    assert resp.status_code == 200
    assert "oneOf" in resp.text or "anyOf" in resp.text


def test_dotdot_escape_is_path_outside_root(client: TestClient, root: Path, ct_small: Path) -> None:
    resp = client.post("/run", headers=AUTH, json={"op": "info", "input": "../" * 8 + str(ct_small)[1:]})
    body = resp.json()
    assert resp.status_code == 200 and body["ok"] is False
    assert body["error"]["code"] == "path_outside_root" and body["error"]["field"] == "input"
    out = client.post("/run", headers=AUTH, json={"op": "to_image", "input": "CT_small.dcm", "output": "../x.png"})
    assert out.json()["error"]["code"] == "path_outside_root"
    assert not (root.parent / "x.png").exists()


def test_symlink_escape_is_path_outside_root(client: TestClient, root: Path, tmp_path: Path, ct_small: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    fifo = outside / "never_read.dcm"
    os.mkfifo(fifo)  # opening it for reading would block: the answer proves nothing was read
    (root / "link.dcm").symlink_to(fifo)
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    for name in ("link.dcm", "linkdir/never_read.dcm"):
        body = client.post("/run", headers=AUTH, json={"op": "info", "input": name}).json()
        assert body["error"]["code"] == "path_outside_root", body
    cmp = client.post("/compare", headers=AUTH, json={"input": "link.dcm", "backends": ["rust_render"]})
    assert cmp.status_code == 400 and cmp.json()["error"]["code"] == "path_outside_root"
    listing = client.get("/files", headers=AUTH).json()
    assert {e["name"] for e in listing["entries"]} == {"CT_small.dcm", "sub"}  # links out of the root not listed
    assert client.get("/files", headers=AUTH, params={"dir": "linkdir"}).json()["error"]["code"] == "path_outside_root"
    served = client.get("/outputs", headers=AUTH, params={"path": str(ct_small)})
    assert served.status_code == 403 and served.json()["error"]["code"] == "path_outside_root"


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    big = b"\0" * (64 * 1024 + 1)
    resp = client.post("/upload", headers=AUTH, params={"name": "big.dcm"}, content=big)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "input_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(65):
            yield b"\0" * 1024

    streamed = client.post("/upload", headers=AUTH, content=chunks())
    assert streamed.status_code == 413
    ok = client.post("/upload", headers=AUTH, params={"name": "../small.bin"}, content=b"abc")
    assert ok.status_code == 200 and ok.json()["size"] == 3 and Path(ok.json()["path"]).name == "small.bin"


def test_an_uploaded_file_can_be_run(client: TestClient, root: Path, ct_small: Path) -> None:
    up = client.post("/upload", headers=AUTH, params={"name": "ct.dcm"}, content=ct_small.read_bytes())
    assert up.status_code == 200 and up.json()["size"] == ct_small.stat().st_size
    path = up.json()["path"]
    info = client.post("/run", headers=AUTH, json={"op": "info", "input": path}).json()
    assert info["ok"] and info["result"]["rows"] == 128
    named = client.post("/run", headers=AUTH, json={"op": "to_image", "input": path, "output": "sub/up.png"}).json()
    assert named["ok"] and Path(named["outputs"][0]) == root / "sub" / "up.png"
    away = client.post("/run", headers=AUTH, json={"op": "to_image", "input": path, "output": "/tmp/up.png"}).json()
    assert away["error"]["code"] == "path_outside_root"


def test_no_cors_unless_asked(client: TestClient, root: Path, tmp_path: Path) -> None:
    plain = client.get("/schema", headers={**AUTH, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in plain.headers
    app = create_app(Settings(root=root, token=TOKEN, cors_origin="http://localhost:3000", out_dir=tmp_path / "p2"))
    with TestClient(app) as c:
        asked = c.get("/schema", headers={**AUTH, "Origin": "http://localhost:3000"})
        assert asked.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = c.get("/schema", headers={**AUTH, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# --- the contract over HTTP -------------------------------------------------------------------------------


def test_run_one_request(client: TestClient) -> None:
    body = client.post("/run", headers=AUTH, json={"id": 7, "op": "info", "input": "CT_small.dcm"}).json()
    assert body["ok"] is True and body["id"] == 7
    assert body["result"]["rows"] == 128 and body["result"]["columns"] == 128
    assert body["result"]["patient_id"] == "1CT1"


def test_run_a_list_writes_to_the_private_folder_unless_named(client: TestClient, root: Path, tmp_path: Path) -> None:
    reqs: list[dict[str, Any]] = [
        {"id": "a", "op": "to_image", "input": "CT_small.dcm", "options": WINDOW},
        {"id": "b", "op": "to_image", "input": "CT_small.dcm", "output": "sub/ct.png", "options": WINDOW},
        {"id": "c", "op": "stats", "input": "CT_small.dcm"},
        {"id": "d", "op": "to_image", "input": "missing.dcm"},
    ]
    body = client.post("/run", headers=AUTH, json=reqs).json()
    assert [r["id"] for r in body] == ["a", "b", "c", "d"]
    a, b, c, d = body
    private = (tmp_path / "private").resolve()
    assert a["ok"] and Path(a["outputs"][0]).parent.parent.parent == private  # private/runs/<uuid>/CT_small.png
    assert Path(a["outputs"][0]).name == "CT_small.png"
    assert b["ok"] and Path(b["outputs"][0]) == root / "sub" / "ct.png"
    assert c["ok"] and d["error"]["code"] == "input_not_found"
    # the same request through the in-process API writes the same pixels
    direct = run({**reqs[1], "output": "direct.png"}, RunContext(root=root))
    assert direct.ok
    assert compare_files(direct.outputs[0], a["outputs"][0]).max_abs_diff == 0
    served = client.get("/outputs", headers=AUTH, params={"path": a["outputs"][0]})
    assert served.status_code == 200 and served.content == Path(a["outputs"][0]).read_bytes()
    rel = Path(a["outputs"][0]).relative_to(private).as_posix()
    assert client.get(f"/outputs/{rel}", headers=AUTH).content == served.content
    assert served.headers["content-security-policy"] == "sandbox allow-scripts"  # an HTML upload runs nothing here
    assert client.get("/outputs/sub/ct.png", headers=AUTH).status_code == 404  # relative = the private folder


def test_invalid_json_and_invalid_requests(client: TestClient) -> None:
    bad = client.post("/run", headers=AUTH, content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    wrong = client.post("/run", headers=AUTH, json={"op": "to_image", "input": "CT_small.dcm", "options": {"x": 1}})
    assert wrong.status_code == 200 and wrong.json()["error"]["code"] == "invalid_request"
    cmp = client.post("/compare", headers=AUTH, json={"input": "CT_small.dcm", "backends": ["nope"]})
    assert cmp.status_code == 400 and cmp.json()["error"]["field"] == "backends"
    extra = client.post("/compare", headers=AUTH, json={"input": "CT_small.dcm", "colour": True})
    assert extra.status_code == 400 and extra.json()["error"]["code"] == "invalid_request"
    bad_opt = client.post("/compare", headers=AUTH, json={"input": "CT_small.dcm", "options": {"voi": "nope"}})
    assert bad_opt.status_code == 400 and bad_opt.json()["error"]["field"] == "options.voi"


def test_compare_all_means_every_backend_that_renders() -> None:
    from dcmharness.interface.server.compare import CompareRequest, chosen_backends

    chosen = chosen_backends(CompareRequest(input="x.dcm"))
    assert "python_ref" not in chosen and "dcmtk" in chosen and "rust_render" in chosen
    assert all("to_image" in registry.get(n).ops for n in chosen)
    assert [n for n in registry.names() if "to_image" not in registry.get(n).ops and n in chosen] == []


def test_backends_schema_and_openapi(client: TestClient) -> None:
    rows = client.get("/backends", headers=AUTH).json()
    assert {r["name"] for r in rows} == set(registry.names())
    assert next(r for r in rows if r["name"] == "python_ref")["available"] is True
    openapi = client.get("/openapi.json", headers=AUTH).json()
    assert {"/run", "/compare", "/backends", "/schema"} <= set(openapi["paths"])
    resp_schema = client.get("/schema", headers=AUTH, params={"response": "true"}).json()
    assert "ok" in resp_schema.get("properties", {})


def test_compare_matches_what_compare_computes(client: TestClient, root: Path, tmp_path: Path) -> None:
    backends = [b for b in ("dcmtk", "rust_render") if available(b)]
    if not backends:
        pytest.skip("neither dcmtk nor rust_render is available")
    body = client.post(
        "/compare", headers=AUTH, json={"input": "CT_small.dcm", "options": WINDOW, "backends": backends}
    ).json()
    assert body["reference"]["ok"] and body["reference"]["backend"] == "python_ref"
    assert [r["backend"] for r in body["results"]] == backends
    ref_out = tmp_path / "ref.png"
    assert run({"op": "to_image", "input": str(root / "CT_small.dcm"), "output": str(ref_out), "options": WINDOW}).ok
    for r in body["results"]:
        own = tmp_path / f"{r['backend']}.png"
        direct = run(
            {
                "op": "to_image",
                "input": str(root / "CT_small.dcm"),
                "output": str(own),
                "backend": r["backend"],
                "options": WINDOW,
            }
        )
        assert direct.ok and r["ok"]
        expected = compare_files(ref_out, own)
        assert r["metrics"]["max_abs_diff"] == expected.max_abs_diff
        assert r["metrics"]["rmse"] == pytest.approx(expected.rmse, abs=1e-12)
        assert r["status"] in ("match", "within_tolerance", "explained")
        assert (r["status"] == "match") == (expected.max_abs_diff == 0)
        assert (r["diff_image"] is not None) == (expected.max_abs_diff > 0)
        png = client.get(r["output_url"], headers=AUTH)
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    ref_png = client.get(body["reference"]["output_url"], headers=AUTH)
    assert ref_png.content == ref_out.read_bytes()


def test_a_backend_timeout_is_a_status_and_the_server_carries_on(client: TestClient) -> None:
    if not available("dcmtk"):
        pytest.skip("dcmtk is not available")
    body = client.post(
        "/compare",
        headers=AUTH,
        json={"input": "CT_small.dcm", "options": WINDOW, "backends": ["dcmtk"], "timeout": 0.001},
    ).json()
    # the reference is in-process (no timeout applies); dcmj2pnm is killed at the deadline
    assert body["reference"]["ok"] is True
    (only,) = body["results"]
    assert only["status"] == "error" and only["error"]["code"] == "timeout"
    timed = client.post(
        "/run", headers=AUTH, json={"op": "info", "backend": "dcmtk", "input": "CT_small.dcm", "timeout": 0.001}
    ).json()
    assert timed["error"]["code"] == "timeout"
    again = client.post("/run", headers=AUTH, json={"op": "info", "backend": "dcmtk", "input": "CT_small.dcm"}).json()
    assert again["ok"] is True and again["result"]["rows"] == 128


# --- live: the real command ---------------------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def live_server(root: Path, tmpdir: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """``dcmharness serve --port 0`` in a subprocess: (process, base URL, token); killed if still running."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "serve", "--root", str(root), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=root,
    )
    try:
        url = ""
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline and not url:
            line = proc.stderr.readline().decode()
            if "open http://" in line:
                url = line.split("open ", 1)[1].strip()
            elif not line and proc.poll() is not None:
                break
        assert url.startswith("http://127.0.0.1:"), url
        base, _, token = url.partition("/?token=")
        yield proc, base, token
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.live
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_live_server_binds_loopback_and_stops_every_child(root: Path, tmp_path: Path, signum: int, status: int) -> None:
    import httpx

    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    with live_server(root, tmpdir) as (proc, base, token):
        assert len(token) >= 32
        port = int(base.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, no IPv6 or wildcard socket
        assert httpx.get(base + "/backends").status_code == 401
        backends = [b for b in ("dcmtk", "rust_render", "orthanc") if available(b)]
        body = httpx.post(
            base + "/compare",
            headers={"X-Dcmharness-Token": token},
            timeout=180,
            json={"input": "CT_small.dcm", "options": WINDOW, "backends": backends},
        ).json()
        assert [r["backend"] for r in body["results"]] == backends
        assert all(r["ok"] for r in body["results"]), body
        children = _descendants(proc.pid)
        if "orthanc" in backends:
            assert children, "the private Orthanc should be running under the server"
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == status
        time.sleep(0.5)
        assert not [pid for pid in children if _alive(pid)]
    private = [p.name for p in tmpdir.iterdir() if p.name.startswith("dcmharness-serve-")]
    assert private == []  # the private output folder went with the server


CHROMIUM = Path("/usr/bin/chromium")


def _headless(argv: list[str], timeout: float = 120) -> str:
    """Run headless chromium (its own process group, killed on timeout) and return its stdout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return out


@pytest.mark.live
def test_live_page_in_headless_chromium_shows_the_comparison(root: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-packages.txt installs it)")
    backends = [b for b in ("dcmtk", "rust_render", "orthanc") if available(b)]
    if len(backends) < 2:
        pytest.skip(f"needs two backends besides the reference, found {backends}")
    ref_out, dcmtk_out = tmp_path / "ref.png", tmp_path / "b.png"
    src = str(root / "CT_small.dcm")
    assert run({"op": "to_image", "input": src, "output": str(ref_out), "options": WINDOW}).ok
    assert run({"op": "to_image", "input": src, "output": str(dcmtk_out), "backend": backends[0], "options": WINDOW}).ok
    expected = compare_files(ref_out, dcmtk_out)
    with live_server(root) as (proc, base, token):
        query = urlencode(
            {
                "token": token,
                "input": "CT_small.dcm",
                "backends": ",".join(backends),
                "options": json.dumps(WINDOW),
                "run": "1",
                "probe": "50,0",  # ref 105, dcmtk 104 there
            }
        )
        argv = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'prof'}",
            "--virtual-time-budget=120000",
        ]
        dom = _headless([*argv, "--dump-dom", f"{base}/?{query}"])
        no_token = _headless([*argv, "--dump-dom", f"{base}/"])
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert 'data-state="done"' in dom
    cards = dict(re.findall(r'data-backend="([a-z_]+)" data-status="([a-z_]+)"', dom))
    assert cards["python_ref"] == "reference"
    assert set(cards) == {"python_ref", *backends}
    assert all(cards[b] in ("match", "within_tolerance", "explained") for b in backends), cards
    rendered = re.findall(
        r'<img class="render" alt="([a-z_]+)" src="/outputs/compare/[0-9a-f]+/[a-z_]+\.png\?token=', dom
    )
    assert sorted(rendered) == sorted(["python_ref", *backends])
    assert dom.count('data-loaded="128x128"') == len(backends) + 1  # every render fetched and decoded by the browser
    first = dom.index(f'data-backend="{backends[0]}"')
    shown = re.search(r'data-metric="max_abs_diff">([^<]*)<', dom[first:])
    assert shown is not None and float(shown.group(1)) == expected.max_abs_diff
    assert "401" in no_token or "unauthorized" in no_token  # the page itself needs the token
    assert re.search(r'id="file-info">128 x 128, 1 frame, CT, MONOCHROME2<', dom)
    # the pixel probe reads the decoded renders in the browser: the PNGs' own values at (50, 0)
    for backend, png in (("python_ref", ref_out), (backends[0], dcmtk_out)):
        start = dom.index(f'data-backend="{backend}"')
        end = dom.find('class="card"', start)
        value = re.search(r'class="probe" data-value="(\d+)"', dom[start : end if end > 0 else None])
        assert value is not None and int(value.group(1)) == int(load_image(png)[0, 50]), backend
    assert 'id="ab-fade"' in dom and '<div id="ab" class="card">' in dom  # the A/B view, shown
    assert re.search(r'<p id="frame-row" hidden="">', dom)  # one frame: no frame slider


@pytest.mark.live
def test_live_page_offers_a_frame_slider_for_a_multiframe_file(root: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-packages.txt installs it)")
    from dcmharness.interface.samples import find

    shutil.copy(find("emri_small.dcm"), root / "emri_small.dcm")  # 10 frames, 64x64 MR
    with live_server(root) as (proc, base, token):
        query = urlencode({"token": token, "input": "emri_small.dcm"})
        dom = _headless(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'prof'}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                f"{base}/?{query}",
            ]
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert re.search(r'id="file-info">64 x 64, 10 frames, MR, MONOCHROME2<', dom), dom[:3000]
    assert '<p id="frame-row">' in dom and re.search(r'id="frame" type="range" min="0" value="0" max="9"', dom)
    assert 'name="window_center"' in dom and 'name="voi_function"' in dom  # the form built from the schema


def test_only_loopback_addresses_count_as_local() -> None:
    from dcmharness.interface.cli.serve import _loopback

    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("127.0.0.2")
    assert not _loopback("0.0.0.0") and not _loopback("::") and not _loopback("192.168.1.10")
    assert not _loopback("localhost")  # a name is not trusted to resolve to loopback: warned about


def _tag_count(dataset: dict[str, Any]) -> int:
    """Elements of a DICOM JSON dataset, sequence items' elements included (what the page's tree shows)."""
    n = 0
    for item in dataset.values():
        n += 1
        if item.get("vr") == "SQ":
            n += sum(_tag_count(ds) for ds in item.get("Value", []) if ds)
    return n


@pytest.mark.live
def test_live_page_shows_the_other_ops(root: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-packages.txt installs it)")
    src = str(root / "CT_small.dcm")
    stats = run({"op": "stats", "input": src}).result
    hist = run({"op": "histogram", "input": src}).result
    dumped = run({"op": "dump", "input": src, "output": str(tmp_path / "d.json")})
    assert stats and hist and dumped.ok
    tags = _tag_count(json.loads((tmp_path / "d.json").read_text()))
    with live_server(root) as (proc, base, token):
        query = urlencode({"token": token, "input": "CT_small.dcm", "ops": "info,stats,histogram,dump"})
        dom = _headless(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'prof'}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                f"{base}/?{query}",
            ]
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    shown = re.findall(r'class="op-out" data-op="([a-z_]+)" data-ok="(true|false)"', dom)
    assert shown == [("info", "true"), ("stats", "true"), ("histogram", "true"), ("dump", "true")]
    assert "<tr><td>rows</td><td>128</td></tr>" in dom
    mean = round(stats["frames"][0]["mean"], 4)  # the page shows 4 decimals
    assert f"<td>{mean}</td>" in dom and f"<td>{stats['frames'][0]['count']}</td>" in dom
    counts = [int(c) for c in re.findall(r'<rect [^>]*data-count="(\d+)"', dom)]
    assert counts == hist["frames"][0]["counts"] and 'data-bins="256"' in dom
    assert dom.count("data-tag=") == tags  # every element of the dump in the tree


@pytest.mark.live
def test_live_page_lists_the_findings_of_validate(root: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-packages.txt installs it)")
    import pydicom

    ds = pydicom.dcmread(root / "CT_small.dcm")
    del ds.PatientName  # Type 2 in the Patient module: missing_type2
    ds.PatientSex = "X"  # not M, F or O: bad_enumerated_value
    ds.save_as(root / "bad.dcm")
    answer = run({"op": "validate", "input": str(root / "bad.dcm")})
    assert answer.ok and answer.result is not None and answer.result["valid"] is False
    findings = answer.result["findings"]
    assert {"missing_type2", "bad_enumerated_value"} <= {f["kind"] for f in findings}
    with live_server(root) as (proc, base, token):
        query = urlencode({"token": token, "input": "bad.dcm", "ops": "validate"})
        dom = _headless(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'prof'}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                f"{base}/?{query}",
            ]
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert 'class="op-out" data-op="validate" data-ok="true"' in dom
    assert 'data-valid="false"' in dom
    table = dom[dom.index('class="findings"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == len(findings) + 1  # a row per finding under the header
    assert "<td>missing_type2</td>" in table and "<td>bad_enumerated_value</td>" in table


def test_the_query_token_becomes_a_cookie_good_for_reading_only(client: TestClient, root: Path) -> None:
    (root / "sub" / "report.html").write_text("<!doctype html><title>r</title><p>conformance</p>")
    page = client.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and 'id="options"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("dcmharness-token-80=" + TOKEN) and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/backends").status_code == 200  # the test client sends the cookie back
    report = client.get("/root/sub/report.html")
    assert report.status_code == 200 and "<p>conformance</p>" in report.text
    assert report.headers["content-security-policy"] == "sandbox allow-scripts"
    assert report.headers["x-content-type-options"] == "nosniff"
    posted = client.post("/run", json={"op": "info", "input": "CT_small.dcm"})  # the cookie alone cannot POST
    assert posted.status_code == 401
    assert client.get("/root/../outside.txt").status_code in (403, 404)
    (root / "out_link").symlink_to(root.parent, target_is_directory=True)
    (root.parent / "secret.txt").write_text("not yours")
    escaped = client.get("/root/out_link/secret.txt")
    assert escaped.status_code == 403 and escaped.json()["error"]["code"] == "path_outside_root"
    client.cookies.clear()
    assert client.get("/root/sub/report.html").status_code == 401


@pytest.mark.live
def test_live_page_opens_a_conformance_report_under_the_root(root: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-packages.txt installs it)")
    if not available("rust_render"):
        pytest.skip("rust_render is not built")
    out = root / "conf"
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcmharness",
            "conform",
            "--corpus",
            str(root / "CT_small.dcm"),
            "--backends",
            "rust_render",
            "--profiles",
            "default",
            "--quiet",
            "--out",
            str(out),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=300,
    ).returncode
    assert status == 0 and (out / "report.html").is_file()
    with live_server(root) as (proc, base, token):
        query = urlencode({"token": token, "dir": "conf", "open": "report"})
        dom = _headless(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'prof'}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                f"{base}/?{query}",
            ]
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert 'id="options"' not in dom  # the page navigated away: this is the report
    assert "rust_render" in dom and "CT_small.dcm" in dom


@pytest.mark.live
def test_live_concurrent_requests_share_one_instance_of_each_backend(root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    backends = [b for b in ("orthanc", "pixelmed", "dcmtk", "rust_render") if available(b)]
    if len(backends) < 2:
        pytest.skip(f"needs two external backends, found {backends}")
    with live_server(root) as (proc, base, token):

        def one(k: int) -> tuple[str, bool, bool]:
            backend = backends[k % len(backends)]
            body = httpx.post(
                base + "/run",
                headers={"X-Dcmharness-Token": token},
                timeout=300,
                json={"id": k, "op": "to_image", "backend": backend, "input": "CT_small.dcm", "options": WINDOW},
            ).json()
            return backend, body["ok"], body["id"] == k

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(4 * len(backends))))
        assert all(ok and echoed for _, ok, echoed in answers), answers
        comms = []
        for pid in _descendants(proc.pid):
            with contextlib.suppress(OSError):
                comms.append(Path(f"/proc/{pid}/comm").read_text().strip())
        if "orthanc" in backends:
            assert comms.count("Orthanc") == 1, comms  # the private Orthanc started once, shared by every request
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
