"""Starts the Streamlit server behind ``ragperf dashboard FILE``.

``run_dashboard`` runs ``python -m streamlit run <ragperf/_dashboard/app.py>
-- FILE`` (the same interpreter, so the same environment), headless, on
127.0.0.1 by default, opens the browser once the server answers (unless told
not to) and waits. Ctrl-C or SIGTERM stop the server too: it never outlives
the command.

Example:
    >>> from ragperf.panel.dashboard import run_dashboard      # doctest: +SKIP
    >>> run_dashboard("metrics.json", port=8502)         # doctest: +SKIP
    0
"""

from __future__ import annotations

import errno
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.request
import webbrowser

from ._dashboard import APP_PATH

__all__ = ["dashboard_command", "check_port_free", "run_dashboard", "INSTALL_HINT"]

#: What to install when Streamlit is missing (also ``ragperf.streamlit.INSTALL_HINT``).
INSTALL_HINT = "pip install 'ragperf[streamlit]'"

# Streamlit needs longer than this to exit only when it is stuck.
_STOP_TIMEOUT_S = 10.0


def dashboard_command(
    file: str, *, port: int = 8501, host: str = "127.0.0.1", refresh_s: float = 2.0
) -> list[str]:
    """The ``streamlit run`` command line: the packaged app script, headless
    (ragperf opens the browser itself, and Streamlit asks no questions), no
    usage statistics, no source-file watcher.

    Example:
        >>> dashboard_command("m.json", port=8600)[1:4]
        ['-m', 'streamlit', 'run']
    """
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--",
        file,
        "--refresh",
        repr(float(refresh_s)),
    ]


def check_port_free(host: str, port: int) -> None:
    """Raises OSError naming ``host:port`` when a server could not listen
    there (in use, an unknown address, no permission), so that the command
    fails with one clear line instead of Streamlit's log.

    Example:
        >>> check_port_free("127.0.0.1", 8501)  # doctest: +SKIP
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise OSError(f"cannot listen on {host}:{port}: unknown address ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As Streamlit's server does: a port left in TIME_WAIT is usable.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            reason = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise OSError(f"cannot listen on {host}:{port}: {reason} (choose another with --port)") from None


def _open_when_up(url: str, server: subprocess.Popen[bytes]) -> None:
    """Opens ``url`` in a browser once the server answers its health check."""
    deadline = time.monotonic() + 60
    while server.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.25)


def _stop(server: subprocess.Popen[bytes], how: int) -> None:
    if server.poll() is None:
        server.send_signal(how)
        try:
            server.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_dashboard(
    file: str | os.PathLike[str],
    *,
    port: int = 8501,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    refresh_s: float = 2.0,
) -> int:
    """Serves the panel for the metrics JSON ``file`` until Ctrl-C or
    SIGTERM and returns 0, or Streamlit's exit status if it failed. Raises
    ImportError (saying what to install) without Streamlit and OSError when
    ``host:port`` cannot be listened on.

    Example:
        >>> run_dashboard("metrics.json", port=8502, open_browser=False)  # doctest: +SKIP
        0
    """
    if importlib.util.find_spec("streamlit") is None:
        raise ImportError(f"the dashboard needs streamlit: {INSTALL_HINT}")
    check_port_free(host, port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{port}/"
    name = os.fspath(file)
    print(f"ragperf dashboard: {name} at {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    server = subprocess.Popen(dashboard_command(os.path.abspath(name), port=port, host=host, refresh_s=refresh_s))
    stopping = False

    def on_sigterm(signum: int, frame: types.FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)

    # Signal handlers can only be set from the main thread.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main else None
    try:
        if open_browser:
            threading.Thread(target=_open_when_up, args=(url, server), daemon=True).start()
        code = server.wait()
    except KeyboardInterrupt:
        stopping = True
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        _stop(server, signal.SIGINT)
    return 0 if stopping else code
