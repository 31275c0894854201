# Thin wrapper around CMake and the test runner; see README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
HS_WERROR  ?= ON
VAR        ?= $(CURDIR)/var

# ccache hits across fresh clones in different directories.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

.PHONY: all deps build build-asan build-fuzz run test unit interop fuzz fuzz-long package bench bench-derp bench-scale bench-policy clean

all: build

deps:
	@bash .ci/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DHS_WERROR=$(HS_WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DHS_WERROR=$(HS_WERROR) -DHS_SANITIZE=address,undefined -DHS_INTEROP=OFF >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

build-fuzz: deps
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DHS_FUZZ=ON -DHS_WERROR=$(HS_WERROR) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

run: build
	@bash tools/run-local.sh "$(BUILD)/bin" "$(VAR)"

test: build build-asan build-fuzz
	@bash tests/run-all.sh $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure

interop: build
	@cd $(BUILD) && ctest -L interop --output-on-failure

fuzz: build-fuzz
	@cd $(BUILD_FUZZ) && ctest --output-on-failure

# Every fuzz target for FUZZ_SECONDS (600) each; corpora kept in ~/.cache/hs/fuzz/<target>.
fuzz-long: build-fuzz
	@bash tests/fuzz/long.sh $(BUILD_FUZZ) $(CURDIR)

# A Debian package of the main build's binaries, stripped (packaging/package.cmake), in $(BUILD).
package: build
	@cd $(BUILD) && cpack -G DEB

# Control-plane benchmarks against headscale (docs/benchmarks.md), then the policy scenario
# (bench-policy); the DERP/STUN ones too when their target exists.
bench: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/run.sh
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/policy.sh
	@if grep -q '^bench-derp:' $(firstword $(MAKEFILE_LIST)); then $(MAKE) --no-print-directory bench-derp; fi

# A tailnet growing to 10,000 nodes, hs-control and headscale (tests/bench/scale.sh); its own
# section of docs/benchmarks.md. Long: about half an hour when headscale is included.
bench-scale: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/scale.sh

# A company-shaped ACL policy (tests/bench/policy.sh): N = 2,000 against headscale, 10,000 for
# hs-control alone, and the engine alone (hs-policy-bench); its own section of docs/benchmarks.md.
bench-policy: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/policy.sh

# DERP relay and STUN against Tailscale's derper (tests/bench/derp_bench.sh; needs Go for derper).
bench-derp: build
	@HS_BIN=$(CURDIR)/$(BUILD)/bin bash tests/bench/derp_bench.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
