#!/usr/bin/env bash
# Installs the Debian packages ragperf builds against, only those missing.
# Usage: scripts/install-system-deps.sh [extra-package ...]
set -euo pipefail

# prometheus: the real server (and promtool) for the Prometheus export
# integration test, tests/python/test_prometheus_server.py.
# chromium: the headless browser that screenshots the Streamlit dashboard in
# tests/python/test_dashboard_browser.py.
# apache2-utils: ApacheBench, the load generator of benchmarks/bench_asgi.py.
packages=(libabsl-dev libproc2-dev libgtest-dev pkg-config g++ make prometheus chromium apache2-utils "$@")
# A system Python without ensurepip needs python3-venv for `python3 -m venv`.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ragperf: installing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "ragperf: missing packages ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
