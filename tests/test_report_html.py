"""report.html: self-contained, and what headless Chromium shows once its script ran (matrix, counts, filters)."""

# ruff: noqa: F811  (the fixtures imported from test_conform_fake are redefined as test arguments)
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dcmharness.interface.conform.runner import ConformConfig, run_conformance
from dcmharness.interface.conform.thumbs import block_max, colormap, heatmap, scale_factor, thumbnail
from tests.test_conform_fake import (  # noqa: F401 (fixtures)
    FAKE,
    PROFILE_STATUS,
    REGISTRY_EXPLAINS_MINMAX,
    fake_backend,
    small_corpus,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report_dir(fake_backend: str, small_corpus: Path, tmp_path: Path) -> Path:
    reg = tmp_path / "divergences.toml"
    reg.write_text(REGISTRY_EXPLAINS_MINMAX)
    out = tmp_path / "out"
    config = ConformConfig(
        out=out,
        corpus=[small_corpus],
        backends=[FAKE],
        profiles=list(PROFILE_STATUS),
        registry_path=reg,
        progress=False,
    )
    run_conformance(config)
    return out


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("chromium not on PATH: the Debian package chromium is installed by make setup")
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _dom(tmp_path: Path, url: str) -> str:
    proc = _chromium(tmp_path, "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-ready="yes"' in proc.stdout, "the page's script did not finish"
    return proc.stdout


def test_html_is_self_contained(report_dir: Path) -> None:
    text = (report_dir / "report.html").read_text()
    assert "default-src 'none'" in text  # CSP: nothing may be fetched
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", text)
    assert "data:image/" in text
    assert len(text) < 2_000_000


def test_chromium_shows_matrix_counts_and_details(report_dir: Path, tmp_path: Path) -> None:
    dom = _dom(tmp_path, (report_dir / "report.html").as_uri())
    cells = re.findall(r'<td class="cell status-(\w+)"', dom)
    assert sorted(cells) == sorted(["match", "within_tolerance", "explained", "unsupported", "error"] * 2)
    assert dom.count('<section class="profile"') == 5
    assert "match: 2" in dom and "explained: 2" in dom and "mismatch: 0" in dom
    assert "Showing 10 of 10 results" in dom
    # minmax (explained) and inverse (error) on both files need attention, shown with renders and heatmaps
    assert "Cases needing attention: mismatch, error or explained (4)" in dom
    assert dom.count('alt="diff fake vs reference"') == 2
    assert "fake-minmax-plus-three: fake adds 3 to every pixel" in dom
    assert "backend_failed: fake crashed on purpose" in dom
    assert "Backends: fake (fake 1.0)" in dom


def test_chromium_filters_from_the_link(report_dir: Path, tmp_path: Path) -> None:
    url = (report_dir / "report.html").as_uri() + "#status=error,unsupported&profile=none,inverse,minmax"
    dom = _dom(tmp_path, url)
    assert "Showing 4 of 10 results" in dom
    hidden_sections = re.findall(r'<section class="profile hidden" data-profile="(\w+)"', dom)
    assert sorted(hidden_sections) == ["default", "explicit_window", "minmax"]
    # the attention list follows the filters too: the explained minmax cases hide, the inverse errors stay
    assert len(re.findall(r'<div class="detail hidden" data-case="[^"]+/minmax"', dom)) == 2
    assert len(re.findall(r'<div class="detail" data-case="[^"]+/inverse"', dom)) == 2


def test_screenshot_renders(report_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, "--window-size=1280,900", f"--screenshot={shot}", (report_dir / "report.html").as_uri())
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 900)
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # not a blank page
    keep = Path("/tmp/dcmharness-report-screenshot.png")
    shutil.copy(shot, keep)  # for a human look


def test_thumbnail_and_heatmap_pure_parts() -> None:
    assert scale_factor(512, 512) == 4 and scale_factor(100, 20) == 1 and scale_factor(161, 10) == 2
    a = np.zeros((5, 5))
    a[4, 4] = 7.0
    assert block_max(a, 2).tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 7]]  # the lone pixel survives
    rgb = colormap(np.array([0.0, 1.0, 0.5]))
    assert rgb[0].tolist() == [0, 0, 0] and rgb[1].tolist() == [255, 255, 64]
    mime, data = thumbnail(np.full((400, 200), 65535, dtype=np.uint16))
    assert mime == "image/jpeg" and data[:2] == b"\xff\xd8"
    ref = np.zeros((8, 8), dtype=np.uint8)
    other = ref.copy()
    other[1, 1] = 9
    mime, data = heatmap(ref, other)
    assert mime == "image/png" and data[:4] == b"\x89PNG"
