#!/usr/bin/env bash
# Build llama.cpp's own benchmark tools (llama-bench, llama-batched-bench) from the very llama.cpp that the
# installed llama-cpp-python wheel vendors, so infercost's figures are compared with the same kernels.
# Usage: scripts/build_llama_tools.sh [PREFIX]   (default PREFIX: ~/.cache/infercost/llama-tools)
# Uses the same CMake flags as the Makefile (AVX-512 without AMX where the CPU lists AMX); ~6 min on 2 cores.
set -euo pipefail
PREFIX="${1:-$HOME/.cache/infercost/llama-tools}"
PY="${PY:-.venv/bin/python}"
VERSION="$("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)')"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK"
tar -xzf "$WORK"/llama_cpp_python-*.tar.gz -C "$WORK"
SRC="$(echo "$WORK"/llama_cpp_python-*/vendor/llama.cpp)"
ARGS=(-DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
      -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=Release)
if grep -qw amx_tile /proc/cpuinfo 2>/dev/null && [ -z "${LLAMA_CMAKE_ARGS+x}" ]; then
    ARGS+=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
           -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON)
fi
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$WORK/build" "${ARGS[@]}" ${LLAMA_CMAKE_ARGS:-} >/dev/null
cmake --build "$WORK/build" -j "$(nproc)" --target llama-bench llama-batched-bench >/dev/null
mkdir -p "$PREFIX/bin"
cp "$WORK/build/bin/llama-bench" "$WORK/build/bin/llama-batched-bench" "$PREFIX/bin/"
echo "llama.cpp tools of llama-cpp-python $VERSION in $PREFIX/bin"
