"""System resources: the background sampler, GPU status through NVML (a fake
NVML library built from tests/cpp/fake_nvml.c), and health thresholds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor, SamplerHandle, get_gpu_status

REPO = Path(__file__).resolve().parents[2]
FAKE_NVML_SOURCE = REPO / "tests" / "cpp" / "fake_nvml.c"
SERIES = [
    "rss_mb",
    "vms_mb",
    "cpu_percent",
    "system_used_percent",
    "load1",
    "gpu_memory_used_mb",
    "gpu_utilization_percent",
    "gpu_process_memory_mb",
]


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.stop_sampler()


@pytest.fixture(scope="module")
def fake_nvml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("a C compiler (cc) is needed to build the fake NVML library")
    out = tmp_path_factory.mktemp("nvml") / "libfake_nvml.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(out), str(FAKE_NVML_SOURCE)], check=True
    )
    return out


# ---------------------------------------------------------------- sampler


def test_sampler_is_off_by_default(monitor: PerformanceMonitor) -> None:
    stats = monitor.get_system_stats()
    assert stats["sampler_running"] is False
    assert monitor.get_resource_history() != []  # get_system_stats took one sample


def test_start_sampler_samples_in_the_background(monitor: PerformanceMonitor) -> None:
    handle = monitor.start_sampler(interval_s=0.05)
    assert isinstance(handle, SamplerHandle)
    assert handle.running and handle.interval_s == pytest.approx(0.05)
    deadline = time.monotonic() + 10
    while len(monitor.get_resource_history()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    handle.stop()
    assert not handle.running
    history = monitor.get_resource_history()
    assert len(history) >= 4
    stamps = [s["timestamp_s"] for s in history]
    assert stamps == sorted(stamps)
    sample = history[-1]
    assert sample["rss_mb"] > 0 and sample["vms_mb"] >= sample["rss_mb"]
    assert 0 <= sample["system_used_percent"] <= 100
    assert sample["system_total_mb"] > 0 and sample["load1"] >= 0
    assert sample["cpu_percent"] is None or sample["cpu_percent"] >= 0
    assert history[0]["cpu_percent"] is None  # first sample has no previous one
    stats = monitor.get_system_stats()
    for name in SERIES:
        assert set(stats[name]) == {"samples", "last", "min", "max", "avg"}
    rss = stats["rss_mb"]
    assert rss["min"] <= rss["avg"] <= rss["max"]
    assert stats["samples"] >= 4


def test_sampler_handle_is_a_context_manager(monitor: PerformanceMonitor) -> None:
    with monitor.start_sampler(0.05) as handle:
        assert handle.running
    assert not handle.running
    assert "stopped" in repr(handle)


def test_stop_is_prompt_even_with_long_interval(monitor: PerformanceMonitor) -> None:
    monitor.start_sampler(3600)
    started = time.monotonic()
    monitor.stop_sampler()
    assert time.monotonic() - started < 2.0
    monitor.stop_sampler()  # idempotent


def test_restart_changes_the_interval(monitor: PerformanceMonitor) -> None:
    monitor.start_sampler(1.0)
    handle = monitor.start_sampler(0.1)
    assert handle.interval_s == pytest.approx(0.1)
    assert monitor.get_system_stats()["interval_s"] == pytest.approx(0.1)


@pytest.mark.parametrize("bad", [0.01, 0, -1, 4000, float("nan")])
def test_bad_interval_names_the_value(monitor: PerformanceMonitor, bad: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        monitor.start_sampler(bad)


@pytest.mark.parametrize("bad", ["5", None, True])
def test_interval_type_error(monitor: PerformanceMonitor, bad: object) -> None:
    with pytest.raises(TypeError, match=repr(bad).replace("(", r"\(")):
        monitor.start_sampler(bad)  # type: ignore[arg-type]


def test_history_is_bounded() -> None:
    m = PerformanceMonitor(max_resource_samples=3)
    for _ in range(10):
        m.get_system_stats()  # takes a sample only when none exists
        m._core.sample_resources()
    assert len(m.get_resource_history()) == 3
    assert len(m.get_resource_history(limit=2)) == 2
    assert m.get_system_stats()["samples"] >= 10
    with pytest.raises(ValueError, match="limit"):
        m.get_resource_history(limit=0)


def test_busy_thread_shows_cpu(monitor: PerformanceMonitor) -> None:
    # Against the CPU time this process really got, not a fixed percentage:
    # on a shared machine (load 8-10 on 2 cores) a spinning thread gets ~20%.
    wall0, cpu0 = time.monotonic(), time.process_time()
    monitor._core.sample_resources()
    end = time.monotonic() + 0.3
    x = 0
    while time.monotonic() < end:
        x += 1
    sample = monitor._core.sample_resources()
    got = 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    assert sample["cpu_percent"] is not None and sample["cpu_percent"] > 0
    assert sample["cpu_percent"] >= 0.8 * got


def test_clear_metrics_forgets_samples(monitor: PerformanceMonitor) -> None:
    monitor._core.sample_resources()
    monitor.clear_metrics()
    assert monitor._core.resource_stats()["samples"] == 0


def test_report_carries_resources_and_gpu(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    monitor._core.sample_resources()
    report = monitor.generate_report()
    assert report["resources"]["samples"] >= 1
    assert report["resources"]["rss_mb"]["samples"] >= 1
    assert isinstance(report["gpu"]["available"], bool)
    path = tmp_path / "m.json"
    monitor.export_metrics_json(path)
    assert json.loads(path.read_text())["resources"]["samples"] >= 1


# ----------------------------------------------------------------- health


def test_cpu_threshold_needs_the_sampler_and_fires(monitor: PerformanceMonitor) -> None:
    monitor.cpu_percent_threshold = 0.0001
    monitor._core.sample_resources()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    monitor._core.sample_resources()
    health = monitor.get_health_status()
    assert health["status"] == "warning"
    assert any("CPU" in issue for issue in health["issues"])


def test_system_memory_threshold_fires(monitor: PerformanceMonitor) -> None:
    monitor.system_memory_percent_threshold = 0.0001
    issues = monitor.get_health_status()["issues"]
    assert any("system memory" in issue for issue in issues)
    monitor.system_memory_percent_threshold = 0  # off
    assert not any("system memory" in i for i in monitor.get_health_status()["issues"])


@pytest.mark.parametrize(
    "name", ["system_memory_percent_threshold", "gpu_memory_percent_threshold"]
)
@pytest.mark.parametrize("bad", [-1, 101, float("nan")])
def test_percent_thresholds_validated(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=name):
        PerformanceMonitor(**{name: bad})
    m = PerformanceMonitor()
    with pytest.raises(ValueError, match=name):
        setattr(m, name, bad)


def test_threshold_type_errors() -> None:
    m = PerformanceMonitor()
    with pytest.raises(TypeError, match="'90'"):
        m.gpu_memory_percent_threshold = "90"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="cpu_percent_threshold"):
        m.cpu_percent_threshold = -5
    with pytest.raises(TypeError, match="track_gpu_memory"):
        PerformanceMonitor(track_gpu_memory="yes")  # type: ignore[arg-type]


# -------------------------------------------------------------------- GPU


def test_gpu_unavailable_is_a_clean_answer(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_nvml.so"
    status = get_gpu_status(library=str(missing))
    assert status["available"] is False
    assert str(missing) in status["reason"]
    assert status["devices"] == []


def test_gpu_status_reads_the_fake_nvml(fake_nvml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NVML_DEVICES", "2")
    monkeypatch.setenv("FAKE_NVML_MEM_USED_MB", "1000,3000")
    monkeypatch.setenv("FAKE_NVML_MEM_TOTAL_MB", "8000,16000")
    monkeypatch.setenv("FAKE_NVML_UTIL", "10,50")
    monkeypatch.setenv("FAKE_NVML_PROCESS_MB", "100,200")
    status = get_gpu_status(library=str(fake_nvml))
    assert status["available"] is True, status["reason"]
    devices = status["devices"]
    assert [d["index"] for d in devices] == [0, 1]
    assert [d["memory_used_mb"] for d in devices] == [1000, 3000]
    assert [d["memory_total_mb"] for d in devices] == [8000, 16000]
    assert [d["utilization_percent"] for d in devices] == [10, 50]
    assert [d["process_memory_mb"] for d in devices] == [100, 200]
    assert all(d["name"] for d in devices)


def test_gpu_init_error_is_reported(fake_nvml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NVML_INIT_ERROR", "9")  # NVML_ERROR_DRIVER_NOT_LOADED
    status = get_gpu_status(library=str(fake_nvml))
    assert status["available"] is False
    assert status["reason"]


def test_gpu_library_type_error() -> None:
    with pytest.raises(TypeError, match="library"):
        get_gpu_status(library=3)  # type: ignore[arg-type]


def test_monitor_with_fake_gpu_end_to_end(fake_nvml: Path, tmp_path: Path) -> None:
    """In a fresh process (the process-wide NVML handle is chosen once):
    RAGPERF_NVML_LIBRARY points at the fake; GPU memory at 95% of a device
    fires the GPU health rule; the sampler records GPU series; per-operation
    GPU memory deltas are measured when track_gpu_memory is on."""
    script = textwrap.dedent(
        """
        import json
        from ragperf import PerformanceMonitor
        m = PerformanceMonitor(track_gpu_memory=True, enable_memory_tracking=False)
        with m.track_operation("embed") as op:
            pass
        m._core.sample_resources()
        out = {
            "delta": op.gpu_memory_delta_mb,
            "stats": m.get_operation_stats("embed").to_dict(),
            "health": m.get_health_status(),
            "system": m.get_system_stats(),
            "report": m.generate_report(),
        }
        print(json.dumps(out))
        """
    )
    env = dict(os.environ)
    env.update(
        RAGPERF_NVML_LIBRARY=str(fake_nvml),
        FAKE_NVML_DEVICES="1",
        FAKE_NVML_MEM_USED_MB="15200",
        FAKE_NVML_MEM_TOTAL_MB="16000",
        FAKE_NVML_UTIL="40",
        FAKE_NVML_PROCESS_MB="512",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["delta"] == 0.0  # the fake reports a constant 512 MB for us
    assert out["stats"]["total_gpu_memory_delta_mb"] == 0.0
    assert out["report"]["operations"]["embed"]["gpu_memory"]["samples"] == 1
    assert any("GPU memory" in issue for issue in out["health"]["issues"])
    gpu = out["report"]["gpu"]
    assert gpu["available"] is True and gpu["devices"][0]["memory_total_mb"] == 16000
    assert out["system"]["gpu_memory_used_mb"]["last"] == 15200
    assert out["system"]["gpu_utilization_percent"]["last"] == 40
    assert out["system"]["gpu_process_memory_mb"]["last"] == 512


def test_print_report_shows_resources(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    monitor._core.sample_resources()
    monitor._core.sample_resources()
    monitor.print_report()
    out = capsys.readouterr().out
    assert "Resources: 2 samples" in out
    assert "system memory" in out
