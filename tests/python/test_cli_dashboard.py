"""``ragperf dashboard FILE``: help, argument checks, bad files, missing
Streamlit, a busy port, the command it starts. (The real server and browser:
test_dashboard_browser.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _panel_helpers import known_monitor
from test_cli import run

import ragperf.panel.dashboard
from ragperf.panel._dashboard import APP_PATH
from ragperf.cli import EXIT_CORRUPT, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ragperf.panel.dashboard import dashboard_command


@pytest.fixture
def metrics_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.json"
    known_monitor().export_metrics_json(path)
    return path


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replaces the Streamlit process with a recorder that exits at once."""
    started: list[list[str]] = []

    class FakeServer:
        def __init__(self, command: list[str]) -> None:
            started.append(command)

        def wait(self, timeout: float | None = None) -> int:
            return 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(ragperf.panel.dashboard.subprocess, "Popen", FakeServer)
    return started


def test_help_lists_options_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dashboard", "--help")
    assert code == EXIT_OK
    for text in ("FILE", "--port", "--host", "--no-browser", "--refresh", "127.0.0.1", "8501", "exit codes:"):
        assert text in out
    assert "ragperf[streamlit]" in out


@pytest.mark.parametrize("command", ["report", "compare", "demo", "dashboard"])
def test_every_subcommand_has_help_with_exit_codes(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == EXIT_OK
    assert "exit codes:" in out and "3  corrupt metrics file" in out


def test_top_level_help_lists_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == EXIT_OK and "dashboard" in out and "ragperf dashboard /tmp/metrics.json" in out


def test_module_docstring_documents_dashboard() -> None:
    import ragperf.cli

    doc = ragperf.cli.__doc__ or ""
    assert "ragperf dashboard FILE" in doc and "Exit codes:" in doc


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, no_server: list[list[str]]) -> None:
    code, _, err = run(capsys, "dashboard", str(tmp_path / "nope.json"), "--no-browser")
    assert code == EXIT_USAGE
    assert err == f"ragperf: error: cannot read {tmp_path / 'nope.json'}: file not found\n"
    assert no_server == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"operations": {', "is not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"operations": {}}', "missing key(s) 'total_operations'"),
        ('{"operations": {"llm": 5}, "total_operations": 1}', "operation 'llm': expected an object, got int"),
    ],
)
def test_corrupt_file_exits_3(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    no_server: list[list[str]],
    content: str,
    message: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = run(capsys, "dashboard", str(path), "--no-browser")
    assert code == EXIT_CORRUPT
    assert err.startswith(f"ragperf: error: {path}") and message in err
    assert no_server == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "must be between 1 and 65535, got 0"),
        (["--port", "70000"], "must be between 1 and 65535, got 70000"),
        (["--port", "http"], "expected a port number, got 'http'"),
        (["--refresh", "-1"], "must be 0 (off) or between 0.5 and 86400, got -1"),
        (["--refresh", "nan"], "must be 0 (off) or between 0.5 and 86400, got nan"),
    ],
)
def test_bad_options_exit_2(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "dashboard", str(metrics_file), *args)
    assert code == EXIT_USAGE and message in err


def test_missing_streamlit_exits_1_with_install_hint(
    capsys: pytest.CaptureFixture[str],
    metrics_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_server: list[list[str]],
) -> None:
    real = ragperf.panel.dashboard.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "streamlit" else real(name, *args)

    monkeypatch.setattr(ragperf.panel.dashboard.importlib.util, "find_spec", find_spec)
    code, _, err = run(capsys, "dashboard", str(metrics_file), "--no-browser")
    assert code == EXIT_ERROR
    assert err == "ragperf: error: the dashboard needs streamlit: pip install 'ragperf[streamlit]'\n"
    assert no_server == []


def test_busy_port_exits_2(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, no_server: list[list[str]]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, "dashboard", str(metrics_file), "--port", str(port), "--no-browser")
    assert code == EXIT_USAGE
    assert err == (
        f"ragperf: error: cannot listen on 127.0.0.1:{port}: the port is in use (choose another with --port)\n"
    )
    assert no_server == []


def test_unknown_host_exits_2(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, no_server: list[list[str]]
) -> None:
    code, _, err = run(capsys, "dashboard", str(metrics_file), "--host", "no-such-host.invalid", "--no-browser")
    assert code == EXIT_USAGE
    assert "cannot listen on no-such-host.invalid:8501: unknown address" in err


def test_starts_streamlit_on_the_packaged_app(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, no_server: list[list[str]]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = run(capsys, "dashboard", str(metrics_file), "--port", str(port), "--no-browser", "--refresh", "5")
    assert code == EXIT_OK
    assert err == f"ragperf dashboard: {metrics_file} at http://127.0.0.1:{port}/ (Ctrl-C to stop)\n"
    (command,) = no_server
    assert command == dashboard_command(str(metrics_file.resolve()), port=port, refresh_s=5.0)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_PATH)]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[command.index("--") + 1 :] == [str(metrics_file.resolve()), "--refresh", "5.0"]
    assert APP_PATH.is_file()


def test_server_failure_exits_1(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class CrashingServer:
        def __init__(self, command: list[str]) -> None:
            pass

        def wait(self, timeout: float | None = None) -> int:
            return 3

        def poll(self) -> int:
            return 3

    monkeypatch.setattr(ragperf.panel.dashboard.subprocess, "Popen", CrashingServer)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = run(capsys, "dashboard", str(metrics_file), "--port", str(port), "--no-browser")
    assert code == EXIT_ERROR
    assert "the Streamlit server exited with status 3" in err


def test_console_script_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ragperf", "dashboard", "--help"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("usage: ragperf dashboard")
