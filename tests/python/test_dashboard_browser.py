"""The real thing: ``ragperf dashboard FILE`` serves on 127.0.0.1 and
headless Chromium (Debian's ``chromium``) renders it. The DOM must show the
file's operations and numbers, and the screenshot must not be blank.

Chromium's ``--virtual-time-budget`` decides when the page is "loaded"
without waiting for Streamlit's websocket messages, so on a busy machine a
capture can show the page half drawn; each capture is retried a few times.
Skipped only when Chromium is missing or cannot start, and never in CI
(``CI`` set), where scripts/install-system-deps.sh installs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _panel_helpers import OPERATIONS, known_monitor

pytest.importorskip("streamlit", reason="streamlit is in the test extra: pip install '.[test]'")
Image = pytest.importorskip("PIL.Image", reason="Pillow comes with streamlit")

pytestmark = pytest.mark.slow

ATTEMPTS = 6
# A page with the tables and charts drawn has well over 1,000 colours (anti-
# aliased text, chart marks); the empty skeleton a few dozen.
MIN_COLOURS = 600
CAPTURE_TIMEOUT_S = 90


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the browser test (scripts/install-system-deps.sh installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
        raise AssertionError("unreachable")
    try:
        probe = subprocess.run(
            [
                path,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-probe')}",
                "--dump-dom",
                "about:blank",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        _unavailable(f"chromium cannot run: {e}")
    if probe.returncode != 0 or "<html" not in probe.stdout:
        _unavailable(f"chromium cannot run (exit {probe.returncode}): {probe.stderr[-500:]}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``ragperf dashboard metrics.json`` on a free port; stopped (SIGTERM,
    then the whole process group killed if need be) whatever happens."""
    tmp = tmp_path_factory.mktemp("dashboard")
    path = tmp / "metrics.json"
    known_monitor().export_metrics_json(path)
    report = json.loads(path.read_text())
    port = _free_port()
    log = open(tmp / "server.log", "w+b")
    server = subprocess.Popen(
        [sys.executable, "-m", "ragperf", "dashboard", str(path), "--port", str(port), "--no-browser"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: nothing it starts can outlive the test
    )
    url = f"http://127.0.0.1:{port}/"
    info: dict[str, Any] = {"url": url, "port": port, "server": server, "report": report, "dir": tmp}
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"ragperf dashboard exited with {server.returncode}: {log.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ragperf dashboard did not answer within 90 s")
            time.sleep(0.25)
        yield info
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                info["exit_code"] = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()
        log.close()


def _chromium(chromium: str, url: str, profile: Path, *args: str) -> str:
    """One headless capture; its stdout, or "" when it hung (a capture can
    stall on a busy machine: then its whole process group is killed)."""
    browser = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",  # not the user's profile, and no lock shared with others
            "--virtual-time-budget=30000",
            "--window-size=1400,2000",
            *args,
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = browser.communicate(timeout=CAPTURE_TIMEOUT_S)
        return out
    except subprocess.TimeoutExpired:
        return ""
    finally:
        try:
            os.killpg(browser.pid, signal.SIGKILL)  # its renderer/zygote children too
        except ProcessLookupError:
            pass
        browser.communicate()


def _expected_text(report: dict[str, Any]) -> list[str]:
    return [
        *OPERATIONS,
        f"{report['memory']['current_rss_mb']:.1f} MB",
        f">{report['total_operations']}<",
        "18.18%",  # 2 of 11 failed
        "$0.0020",
        "reranker timed out",
        "Recent errors",
    ]


def test_dom_shows_the_files_numbers(chromium: str, dashboard: dict[str, Any]) -> None:
    want = _expected_text(dashboard["report"])
    missing = want
    for _ in range(ATTEMPTS):
        dom = _chromium(chromium, dashboard["url"], dashboard["dir"] / "profile", "--dump-dom")
        missing = [text for text in want if text not in dom]
        if not missing:
            break
    assert not missing, f"not in the page after {ATTEMPTS} captures: {missing}"


def test_screenshot_is_not_blank(chromium: str, dashboard: dict[str, Any]) -> None:
    png = dashboard["dir"] / "panel.png"
    colours = 0
    for _ in range(ATTEMPTS):
        png.unlink(missing_ok=True)
        _chromium(chromium, dashboard["url"], dashboard["dir"] / "profile", f"--screenshot={png}")
        if not png.exists():
            continue
        with Image.open(png) as im:
            rgb = im.convert("RGB")
            assert rgb.size == (1400, 2000)
            colours = len(rgb.getcolors(maxcolors=1 << 24) or [])
        if colours >= MIN_COLOURS:
            break
    assert colours >= MIN_COLOURS, f"screenshot looks blank or half drawn: {colours} colours"


def test_sigterm_stops_the_server(dashboard: dict[str, Any]) -> None:
    # Runs last in this module (pytest keeps file order): stop it and check
    # that Streamlit went too.
    server = dashboard["server"]
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    deadline = time.monotonic() + 15
    while _port_open(dashboard["port"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _port_open(dashboard["port"]), "the Streamlit server outlived `ragperf dashboard`"
