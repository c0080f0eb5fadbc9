#!/usr/bin/env bash
# Roofline and cost on a real NVIDIA GPU (issue "Device profiles and the cost model").
# Needs `.gpu/` prepared as in shared/gpu/README.md (CUDA llama-cpp-python source, vocab, model generator).
# On the GPU machine, from the project root: bash tests/benchmarks/gpu_cost_check.sh
# It builds llama-cpp-python with CUDA (sm_90), writes a 1.1B-parameter random-weight F16 llama, runs
# `infercost run --suite shapes` with the discrete-GPU profile's llama.cpp settings (all layers offloaded,
# flash attention) and the GPU's published memory bandwidth, and keeps the JSON summary (roofline, cost)
# and the break-even answer under $OUT.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 --version
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "GPU: $name"
python3 - <<'EOF'
import importlib
for m in ["pydantic", "rich", "pandas", "scipy", "psutil", "jsonschema", "httpx", "numpy", "pynvml"]:
    try:
        importlib.import_module(m); print(m, "ok")
    except Exception as exc:
        print(m, "MISSING", type(exc).__name__)
EOF
mkdir -p /tmp/site && python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH=/tmp/site:$PWD
t0=$(date +%s)
CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=16 \
  timeout 420 python3 -m pip install -q --no-build-isolation --no-deps --no-cache-dir --target /tmp/site ./.gpu/lcp \
  > "$OUT/build.log" 2>&1 || { echo "build failed after $(( $(date +%s)-t0 ))s"; tail -30 "$OUT/build.log"; exit 1; }
echo "llama-cpp-python CUDA build: $(( $(date +%s)-t0 ))s"
python3 .gpu/gen_random_llama.py /tmp/rl.gguf 2048 22 5632 32 4
# published HBM bandwidths (GB/s): H200 4800, H100 SXM 3350, H100 NVL 3900, H100 PCIe 2000
case "$name" in *H200*) bw=4800;; *NVL*) bw=3900;; *PCIe*) bw=2000;; *H100*) bw=3350;; *) bw=1000;; esac
cat > /tmp/gpu.toml <<EOF
name = "$name (GPU check)"
kind = "local"
backend = "llama_cpp"
lifetime_years = 4
utilization = 0.5
idle_w = 100.0
max_w = 700.0
kwh_usd = 0.16
kwh_as_of = 2026-11-26
kwh_source = "EIA, US residential average 2023-24"
power_sensor = "nvml"
[llama_cpp]
n_gpu_layers = -1
flash_attn = true
EOF
if python3 -c "import pydantic, rich, pandas, scipy, psutil, jsonschema" 2>/dev/null; then
  python3 -m bench run --device /tmp/gpu.toml --model /tmp/rl.gguf --suite shapes -r 3 -w 1 \
    --memory-bandwidth-gbs "$bw" --out /tmp/runs --json > "$OUT/summary.json" 2> "$OUT/run.err"; echo "run rc=$?"
  tail -3 "$OUT/run.err"
  python3 - "$OUT/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({"roofline": s["roofline"], "overall_cost": {k: v for k, v in s["overall"].items() if k.startswith("cost")},
                  "notes": s["cost"]["notes"], "shapes": s.get("shapes")}, indent=1))
EOF
  python3 -m bench breakeven /tmp/runs/* --cloud groq-llama-3.1-8b --cloud openai-gpt-4o-mini --tasks-per-day 10000 \
    > "$OUT/breakeven.txt" 2>&1; echo "breakeven rc=$?"; head -8 "$OUT/breakeven.txt"
else
  echo "harness dependencies missing: falling back to shared/gpu's bench (tg128 rate) and the bound from bench.cost.formulas"
  python3 .gpu/gpu_bench.py /tmp/rl.gguf | tee "$OUT/gpu_bench.txt"
  python3 -c "from bench.models.gguf import read_gguf_info; from bench.cost.formulas import decode_bound_tps; from pathlib import Path; \
b=read_gguf_info(Path('/tmp/rl.gguf')).tensor_bytes; print('tensor_bytes', b, 'bound tok/s', decode_bound_tps($bw, b))"
fi
