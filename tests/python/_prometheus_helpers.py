"""Starting and stopping a real Prometheus server (Debian package
``prometheus``) for the integration tests, and reading its query API.

Used by test_prometheus_server.py (text-format scrapes) and
test_prometheus_fleet.py (native-histogram scrapes of three replicas)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _find_prometheus() -> str | None:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.access("/usr/bin/prometheus", os.X_OK):
        return "/usr/bin/prometheus"
    return None


PROMETHEUS = _find_prometheus()
ABSENT_REASON = (
    "the Prometheus server binary is absent (Debian package 'prometheus'; "
    "`make test` installs it through scripts/install-system-deps.sh)"
)
TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def http_status(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except (urllib.error.URLError, OSError):
        return 0


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The result vector of an instant query through Prometheus's HTTP API."""
    full = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(full, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def start_prometheus(
    config: Path, data: Path, log: Path, extra_args: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """Starts Prometheus on a free port (retried if another process takes the
    port first) and waits until /-/ready answers 200."""
    assert PROMETHEUS is not None
    last = ""
    for _ in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as log_file:
            proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=info",
                    *extra_args,
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if http_status(f"{url}/-/ready") == 200:
                return proc, url
            time.sleep(0.2)
        last = log.read_text(errors="replace")[-3000:]
        stop(proc)
    raise AssertionError(f"Prometheus did not become ready; its log ends with:\n{last}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
