"""End to end in a real headless Chromium: `tuner start` a tiny study, serve it with `tuner dashboard`, look at it."""

from __future__ import annotations

import os
import re
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


def serve(workdir: Path):
    """The base URL of `tuner dashboard` (a subprocess) serving the studies in `workdir`, and its process."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "dashboard", "--port", str(port)], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/meta", timeout=5).close()
            return base, proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"tuner dashboard did not start: {proc.stderr.read()}")
            time.sleep(0.3)


@pytest.fixture
def dashboard(cli, write_study, workdir: Path):
    """The dashboard serving a 3-trial study run by `tuner start`."""
    write_study("tiny")
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    base, proc = serve(workdir)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def browse():
    """A headless Chromium page (a context manager)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install it with `apt-get install -y chromium chromium-driver` "
                    f"(or point TUNER_CHROMIUM at a Chromium binary)")
    from contextlib import contextmanager

    from playwright.sync_api import sync_playwright

    @contextmanager
    def page():
        SHOTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                yield browser.new_page(viewport={"width": 1400, "height": 1000})
            finally:
                browser.close()

    return page()


def test_dashboard_shows_study_trials_note_and_best_model(dashboard: str) -> None:
    from playwright.sync_api import expect

    with browse() as page:
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


def test_dashboard_shows_one_shot_estimates_apart_from_the_retrained_trials(cli, write_study, workdir: Path) -> None:
    from playwright.sync_api import expect

    from tests.test_oneshot import ONE_SHOT

    write_study("oneshot", {**ONE_SHOT, "budget": {"trials": 2},
                            "one_shot": {"estimates": 12, "top": 2, "epochs": 2}})
    result = cli("start", "oneshot", "--refit", "no")
    assert result.exit_code == 0, result.output
    base, proc = serve(workdir)
    try:
        with browse() as page:
            def attr(key: str):
                return page.get_by_role("paragraph").filter(has_text=re.compile(rf"^{key} "))

            page.goto(f"{base}/dashboard/studies/1/note")
            expect(page.get_by_text("One-shot stage")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("12 width vectors", exact=False).first).to_be_visible()
            page.goto(f"{base}/dashboard/studies/1/trials")
            page.get_by_text("Trial 12", exact=True).first.click(timeout=30_000)  # the first retrained trial
            expect(attr("one_shot_estimate")).to_be_visible(timeout=30_000)  # a user attribute: "key value"
            expect(attr("epochs_run")).to_be_visible()
            page.screenshot(path=SHOTS / "dashboard-one-shot-retrained.png", full_page=True)
            page.get_by_text("Trial 0", exact=True).first.click()  # an estimate: marked, never trained
            expect(page.get_by_text(re.compile(r"^one_shot (true|True)$"))).to_be_visible(timeout=30_000)
            expect(attr("one_shot_estimate")).to_have_count(0)
            expect(attr("epochs_run")).to_have_count(0)
            page.screenshot(path=SHOTS / "dashboard-one-shot-estimate.png", full_page=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
