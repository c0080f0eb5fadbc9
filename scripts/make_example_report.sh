#!/usr/bin/env bash
# The published example (reports/example/): SmolLM2-135M vs Gemma 3 270M on the default suite, each run
# in-process (llama.cpp inside infercost) and through llama-cpp-python's OpenAI-compatible server on
# loopback, then one report over the four runs. One command, from the repository root:
#
#     scripts/make_example_report.sh                  # all four runs, then the report
#     scripts/make_example_report.sh --in-process-only  # only the two in-process runs (no HTTP backend)
#
# Environment: PY (default .venv/bin/python, else python3), REPS (3), WARMUP (1), PORT (8765), SEED (42); KWH_USD
# and HARDWARE_USD, when set, price this machine in the report (passed as --kwh-usd / --hardware-usd:
# `auto` knows no price, so cost columns and charts are otherwise absent, and say so).
# Takes about 10-15 minutes on a 2-core machine. Each server is started here with the model's GGUF, on
# 127.0.0.1 only, with the same thread count as the in-process runs and --interrupt_requests False, and is
# stopped when its run ends (or when this script exits for any reason). HTTP runs use --cache-bust:
# llama_cpp.server reuses the KV prefix across requests, which would fake the TTFT of repeated prompts.
# The in-process runs use --cache-bust too, with the same --seed (SEED, default 42), so both backends
# answer byte-identical prompts and their texts and pass rates can be compared task by task. The server
# gets --flash_attn True because llama.cpp's own default (auto, what in-process runs use) turns flash
# attention on for the CPU, while llama_cpp.server turns it off: left so, the two sides would compute
# different numbers, and greedy answers would diverge at near-ties (about a third of them did).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
PORT=${PORT:-8765}
SEED=${SEED:-42}
OUT=reports/example
RUNS=$OUT/runs
HTTP=1
if [ "${1:-}" = "--in-process-only" ]; then HTTP=0; fi

if [ "$HTTP" = 1 ] && [ ! -f devices/local-server.toml ]; then
    echo "devices/local-server.toml is missing: this infercost has no HTTP backend yet." >&2
    echo "Run with --in-process-only, or update infercost." >&2
    exit 2
fi

THREADS=$("$PY" -c "import psutil; print(psutil.cpu_count(logical=False) or 1)")
SERVER_PID=""
TMP=$(mktemp -d)
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$TMP"' EXIT

rm -rf "$RUNS" "$OUT"/report*
mkdir -p "$RUNS"

for MODEL in smollm2-135m gemma3-270m; do
    echo "== $MODEL, in-process" >&2
    "$PY" -m bench run --suite default --model "$MODEL" -r "$REPS" -w "$WARMUP" -t "$THREADS" \
        --cache-bust --seed "$SEED" --out "$RUNS"

    [ "$HTTP" = 1 ] || continue
    echo "== $MODEL, through python -m llama_cpp.server on 127.0.0.1:$PORT" >&2
    GGUF=$("$PY" -c "from bench.models.catalog import resolve_model; print(resolve_model('$MODEL').path)")
    "$PY" -m llama_cpp.server --model "$GGUF" --model_alias "$MODEL" --host 127.0.0.1 --port "$PORT" \
        --n_threads "$THREADS" --n_threads_batch "$THREADS" --n_ctx 4096 --flash_attn True --interrupt_requests False \
        >"$TMP/server-$MODEL.log" 2>&1 &
    SERVER_PID=$!
    READY=0
    for _ in $(seq 120); do
        if "$PY" -c "import httpx; httpx.get('http://127.0.0.1:$PORT/v1/models', timeout=1).raise_for_status()" \
            2>/dev/null; then READY=1; break; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 1
    done
    if [ "$READY" = 0 ]; then
        echo "the server for $MODEL did not come up on 127.0.0.1:$PORT; its log:" >&2
        cat "$TMP/server-$MODEL.log" >&2
        exit 4
    fi
    # the shipped profile, pointed at this server, named after the model it serves (so the two HTTP runs
    # differ in model identity, endpoint + model name, as the in-process ones do by file hash) and counting
    # tokens with that model's tokenizer (which also tells a base model, Gemma 3 270M, to use completions)
    sed -e "s|^model *=.*|model = \"$MODEL\"|" \
        -e "s|^base_url *=.*|base_url = \"http://127.0.0.1:$PORT/v1\"|" \
        -e "s|^tokenizer *=.*|tokenizer = \"$MODEL\"|" \
        devices/local-server.toml >"$TMP/local-server-$MODEL.toml"
    "$PY" -m bench run --device "$TMP/local-server-$MODEL.toml" --cache-bust --seed "$SEED" --suite default \
        -r "$REPS" -w "$WARMUP" --out "$RUNS"
    stop_server
done

PRICES=()
if [ -n "${KWH_USD:-}" ]; then PRICES+=(--kwh-usd "$KWH_USD"); fi
if [ -n "${HARDWARE_USD:-}" ]; then PRICES+=(--hardware-usd "$HARDWARE_USD"); fi
TITLE="SmolLM2-135M vs Gemma 3 270M on this machine: in-process and over HTTP"
"$PY" -m bench report "$RUNS" -o "$OUT/report.md" --csv "$OUT/report.csv" --title "$TITLE" ${PRICES[@]+"${PRICES[@]}"}
"$PY" -m bench report "$RUNS" -o "$OUT/report.html" --title "$TITLE" ${PRICES[@]+"${PRICES[@]}"}
echo "wrote $OUT/report.md (charts in $OUT/report-charts/), $OUT/report.html, $OUT/report.csv" >&2
