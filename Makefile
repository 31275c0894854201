# Thin wrapper around CMake and the test runner; see README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_FUZZ_LONG ?= build-fuzz-long
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc)
HS_WERROR  ?= ON
VAR        ?= $(CURDIR)/var

# bash: the test target stops its background build by process group (`set -m`, which dash lacks).
SHELL := /bin/bash

# ccache hits across fresh clones in different directories.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

.PHONY: all deps build build-asan build-fuzz build-tsan clients run test unit interop test-postgres-suite fuzz fuzz-long package bench bench-derp bench-scale bench-policy bench-multi clean

all: build

deps:
	@bash .ci/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DHS_WERROR=$(HS_WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The three sanitizer and fuzz trees are unity builds (HS_UNITY, CMakeLists.txt): make test
# builds them from scratch on a fresh machine, and parsing the same headers once per eight files
# instead of once per file is most of their compile time at -O0.
build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DHS_WERROR=$(HS_WERROR) -DHS_SANITIZE=address,undefined -DHS_INTEROP=OFF -DHS_UNITY=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

# The fuzz targets at -O0 for make test's short runs; `make fuzz-long` builds its own tree at -O1.
build-fuzz: deps
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DHS_FUZZ=ON -DHS_FUZZ_OPT=-O0 -DHS_UNITY=ON -DHS_WERROR=$(HS_WERROR) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

# hs-derper under ThreadSanitizer, and the load tools its test drives: nothing else is built in
# this tree (tests/bench/derp_tsan.sh).
build-tsan: deps
	@cmake -S . -B $(BUILD_TSAN) -DHS_WERROR=$(HS_WERROR) -DHS_SANITIZE=thread -DHS_UNITY=ON >/dev/null
	@cmake --build $(BUILD_TSAN) -j$(JOBS) --target hs-derper hs-bench-derp hs-bench-stun

# The Go programs the tests run, built once and cached: every pinned official client version in
# parallel (tests/interop/tailscale.sh), Tailscale's derper, and the load generator's build cache.
clients:
	@bash tests/interop/tailscale.sh install
	@bash tests/interop/tailscale.sh derper >/dev/null
	@mkdir -p $(BUILD) && bash tests/bench/loadgen.sh build $(BUILD)/.hs-loadgen

run: build
	@bash tools/run-local.sh "$(BUILD)/bin" "$(VAR)"

# Three things start at once: the Go clients (minutes of CPU each on a fresh machine; a client
# that failed to build here is built again, or its failure reported, by the first test that
# needs it), the main tree, and at nice 19 the three sanitizer trees, which take the cores
# whenever the others leave them idle and go on while the main tree's suites run
# (tests/run-all.sh waits for them before their own suites). `set -m` gives the sanitizer build
# a process group of its own to stop it by, in the same session: a new session (setsid) is a new
# scheduler autogroup on Linux, which would share the CPU half and half whatever its nice value.
test: deps
	@mkdir -p $(BUILD); rm -f $(BUILD)/sanitizer-trees.rc; \
	  bash -c '$(MAKE) --no-print-directory clients >$(BUILD)/clients.log 2>&1' & clients=$$!; \
	  set -m; nice -n 19 bash -c '$(MAKE) --no-print-directory build-asan build-fuzz build-tsan >$(BUILD)/sanitizer-trees.log 2>&1; \
	    echo $$? >$(BUILD)/sanitizer-trees.rc' & trees=$$!; set +m; \
	  trap 'kill -- -$$trees 2>/dev/null; exit 130' INT TERM; \
	  $(MAKE) --no-print-directory build || { kill $$clients 2>/dev/null; kill -- -$$trees 2>/dev/null; exit 1; }; \
	  wait $$clients || echo "make test: building the Go clients failed (see $(BUILD)/clients.log); the tests that need them will say so" >&2; \
	  HS_SANITIZER_TREES_RC=$(CURDIR)/$(BUILD)/sanitizer-trees.rc bash tests/run-all.sh $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN); \
	  rc=$$?; wait $$trees; exit $$rc

unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure

interop: build
	@cd $(BUILD) && ctest -L interop --output-on-failure

# The real-client suite with hs-control on PostgreSQL (a throwaway cluster per test,
# tests/interop/control.sh); not part of make test.
test-postgres-suite: build
	@cd $(BUILD) && HS_TEST_DATABASE=postgres ctest -L interop --output-on-failure

fuzz: build-fuzz
	@cd $(BUILD_FUZZ) && ctest --output-on-failure

# Every fuzz target for FUZZ_SECONDS (600) each; corpora kept in ~/.cache/hs/fuzz/<target>.
fuzz-long: deps
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ_LONG) -DHS_FUZZ=ON -DHS_FUZZ_OPT=-O1 -DHS_WERROR=$(HS_WERROR) >/dev/null
	@cmake --build $(BUILD_FUZZ_LONG) -j$(JOBS)
	@bash tests/fuzz/long.sh $(BUILD_FUZZ_LONG) $(CURDIR)

# A Debian package of the main build's binaries, stripped (packaging/package.cmake), in $(BUILD).
package: build
	@cd $(BUILD) && cpack -G DEB

# Control-plane benchmarks against headscale (docs/benchmarks.md), then the policy scenario
# (bench-policy) and several instances on PostgreSQL (bench-multi); the DERP/STUN ones too when
# their target exists.
bench: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/run.sh
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/policy.sh
	@$(MAKE) --no-print-directory bench-multi
	@if grep -q '^bench-derp:' $(firstword $(MAKEFILE_LIST)); then $(MAKE) --no-print-directory bench-derp; fi

# A tailnet growing to 10,000 nodes, hs-control and headscale (tests/bench/scale.sh); its own
# section of docs/benchmarks.md. Long: about half an hour when headscale is included.
bench-scale: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/scale.sh

# A company-shaped ACL policy (tests/bench/policy.sh): N = 2,000 against headscale, 10,000 for
# hs-control alone, and the engine alone (hs-policy-bench); its own section of docs/benchmarks.md.
bench-policy: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/policy.sh

# hs-control at 2,000 nodes: 1 instance on SQLite, 1 and 3 on PostgreSQL, all behind HAProxy
# (tests/bench/multi_bench.sh; needs root, haproxy and postgresql); its own section of
# docs/benchmarks.md.
bench-multi: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/multi_bench.sh

# DERP relay and STUN against Tailscale's derper (tests/bench/derp_bench.sh; needs Go for derper).
bench-derp: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/derp_bench.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_FUZZ_LONG) $(BUILD_TSAN)
