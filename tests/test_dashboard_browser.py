"""End to end in a real headless Chromium: `tuner start` a tiny study, serve it with `tuner dashboard`, look at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("TUNER_CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / "test-output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(cli, write_study, workdir: Path):
    """The base URL of `tuner dashboard` (a subprocess) serving a 3-trial study run by `tuner start`."""
    write_study("tiny")
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "dashboard", "--port", str(port)], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/meta", timeout=5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tuner dashboard did not start: {proc.stderr.read()}")
            time.sleep(0.3)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def test_dashboard_shows_study_trials_note_and_best_model(dashboard: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install it with `apt-get install -y chromium chromium-driver` "
                    f"(or point TUNER_CHROMIUM at a Chromium binary)")
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{dashboard}/dashboard")
            expect(page.get_by_role("heading", name="1. tiny")).to_be_visible(timeout=30_000)

            page.goto(f"{dashboard}/dashboard/studies/1")
            expect(page.get_by_text("Intermediate values")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("tiny-best-trial-")).to_be_visible()
            page.screenshot(path=SHOTS / "dashboard-study.png", full_page=True)

            page.goto(f"{dashboard}/dashboard/studies/1/trials")
            for number in range(3):
                expect(page.get_by_text(f"Trial {number}", exact=True).first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Trial 0: ").first).to_be_visible()  # the architecture note
            expect(page.get_by_role("cell", name="dense_0").first).to_be_visible()
            page.screenshot(path=SHOTS / "dashboard-trials.png", full_page=True)

            page.goto(f"{dashboard}/dashboard/studies/1/note")
            expect(page.get_by_text("Search space")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("sampler: random (seed 0)")).to_be_visible()
            page.screenshot(path=SHOTS / "dashboard-note.png", full_page=True)
        finally:
            browser.close()
