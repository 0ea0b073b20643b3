# Two entry points (see README.md):
#   make demo   build and run the main example
#   make test   build and pass all tests
# The Vulkan backend is built and tested on Mesa's lavapipe (VULKAN=OFF to skip); the CUDA
# backend is compiled wherever nvcc exists (CUDA=OFF to skip) and its tests skip without a GPU.
BUILD ?= build
JOBS ?= $(shell nproc)
VULKAN ?= ON
NVCC := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA ?= $(if $(NVCC),ON,OFF)
CMAKE_FLAGS ?=

VULKAN_PKGS := $(if $(filter ON,$(VULKAN)),libvulkan-dev mesa-vulkan-drivers glslc vulkan-validationlayers)
CUDA_FLAGS := $(if $(filter ON,$(CUDA)),-DCMAKE_CUDA_COMPILER=$(NVCC))

.PHONY: all deps configure build demo test clean

all: build

deps:
	@bash tools/install-deps.sh $(VULKAN_PKGS)

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DGGML_VULKAN=$(VULKAN) \
	  -DGGML_CUDA=$(CUDA) $(CUDA_FLAGS) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The bundled Shakespeare model, greedy from a short prompt. One thread: the model is tiny and
# a second thread costs more in barriers than it gains.
DEMO_PROMPT ?= First Citizen:\nBefore we proceed any further, hear me speak.
demo: build
	@echo "== greedy =="
	./$(BUILD)/bin/ggml-llama -m models/shakespeare.gguf -p "$$(printf '$(DEMO_PROMPT)')" -n 100 -t 1
	@echo "== sampled (temperature 0.8, top-p 0.9) =="
	./$(BUILD)/bin/ggml-llama -m models/shakespeare.gguf -p "$$(printf '$(DEMO_PROMPT)')" -n 200 -t 1 \
	  --temp 0.8 --top-p 0.9 --seed 7

# GGML_VK_VALIDATE=1: Khronos validation layers on; any validation error fails the test.
test: build
	GGML_VK_VALIDATE=1 ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)

# Hardening (see docs/embedding.md):
#   make sanitize          build with ASan + UBSan and run every test
#   make fuzz [FUZZ_SECONDS=60]  fuzz the GGUF reader with libFuzzer
FUZZ_SECONDS ?= 60
.PHONY: sanitize fuzz

sanitize:
	bash tools/sanitize.sh

fuzz:
	bash tools/fuzz.sh $(FUZZ_SECONDS)

# The NEON instruction set on an x86-64 host: cross-compiled for AArch64 and run under
# qemu-user, with and without the dot-product extension (tools/test-neon.sh).
.PHONY: test-neon
test-neon:
	JOBS=$(JOBS) bash tools/test-neon.sh

# The AVX-512 instruction sets on a host without AVX-512: the real objects are checked for
# their instructions, and the kernels run on SIMDe's portable intrinsics (tools/test-avx512.sh).
.PHONY: test-avx512
test-avx512:
	JOBS=$(JOBS) bash tools/test-avx512.sh
