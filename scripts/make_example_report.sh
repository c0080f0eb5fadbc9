#!/usr/bin/env bash
# The published example (reports/example/): SmolLM2-135M vs Gemma 3 270M on the default suite, each run
# in-process (llama.cpp inside infercost) and through llama-cpp-python's OpenAI-compatible server on
# loopback, then one report over the four runs. One command, from the repository root:
#
#     scripts/make_example_report.sh                  # all four runs, then the report
#     scripts/make_example_report.sh --in-process-only  # only the two in-process runs (no HTTP backend)
#     scripts/make_example_report.sh --rerender       # no runs: the report again from reports/example/runs
#
# --rerender renders the published bundles with this infercost (after a change to how reports look or
# what they compute); give it the same KWH_USD/HARDWARE_USD the runs were reported with (the runs'
# own profiles carry their stated watts). The figures measured stay those of the original runs.
#
# Environment: PY (default .venv/bin/python, else python3), REPS (3), WARMUP (1), PORT (8765), SEED (42); KWH_USD
# and HARDWARE_USD, when set, price this machine in the report (passed as --kwh-usd / --hardware-usd:
# `auto` knows no price, so cost columns and charts are otherwise absent, and say so).
# STATED_IDLE_W and STATED_MAX_W (both, with WATTS_SOURCE saying where they come from), when set, give
# this machine stated watts: every run then uses the `estimate` power sensor (idle + (max - idle) x CPU
# utilization), so the report has energy figures, every one marked estimated, and (with HARDWARE_USD) its
# break-even chart draws this machine against the cloud profiles' prices (priced, not run). Without
# them there is no energy, and the report says so.
# The runs and reports are built in a temporary directory and moved into reports/example/ at the end, so
# the checkout stays clean while they are made: run it from a clean, committed tree and the provenance
# names a commit without -dirty.
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
FINAL=reports/example
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "warning: the checkout has uncommitted changes: the provenance will name a -dirty commit" >&2
fi
HTTP=1
if [ "${1:-}" = "--in-process-only" ]; then HTTP=0; fi
PRICES=()
if [ -n "${KWH_USD:-}" ]; then PRICES+=(--kwh-usd "$KWH_USD"); fi
if [ -n "${HARDWARE_USD:-}" ]; then PRICES+=(--hardware-usd "$HARDWARE_USD"); fi
TITLE="SmolLM2-135M vs Gemma 3 270M on this machine: in-process and over HTTP"
if [ "${1:-}" = "--rerender" ]; then
    RUNS=$FINAL/runs
    [ -d "$RUNS" ] || { echo "$RUNS: no recorded runs to re-render" >&2; exit 2; }
    "$PY" -m bench report "$RUNS" -o "$FINAL/report.md" --csv "$FINAL/report.csv" --title "$TITLE" \
        ${PRICES[@]+"${PRICES[@]}"}
    "$PY" -m bench report "$RUNS" -o "$FINAL/report.html" --title "$TITLE" ${PRICES[@]+"${PRICES[@]}"}
    echo "re-rendered $FINAL/report.md, $FINAL/report.html, $FINAL/report.csv from $RUNS" >&2
    exit 0
fi

if [ "$HTTP" = 1 ] && [ ! -f devices/local-server.toml ]; then
    echo "devices/local-server.toml is missing: this infercost has no HTTP backend yet." >&2
    echo "Run with --in-process-only, or update infercost." >&2
    exit 2
fi

THREADS=$("$PY" -c "import psutil; print(psutil.cpu_count(logical=False) or 1)")
SERVER_PID=""
TMP=$(mktemp -d)
OUT=$TMP/example
RUNS=$OUT/runs
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$TMP"' EXIT

mkdir -p "$RUNS"

# this machine, in-process: `auto`, or with stated watts a copy of auto's assumptions plus those watts
DEVICE=auto
WATTS=""
if [ -n "${STATED_IDLE_W:-}" ] || [ -n "${STATED_MAX_W:-}" ]; then
    if [ -z "${STATED_IDLE_W:-}" ] || [ -z "${STATED_MAX_W:-}" ] || [ -z "${WATTS_SOURCE:-}" ]; then
        echo "STATED_IDLE_W, STATED_MAX_W and WATTS_SOURCE go together" >&2
        exit 2
    fi
    WATTS="idle_w = $STATED_IDLE_W
max_w = $STATED_MAX_W
power_sensor = \"estimate\"
description = \"stated watts (not measured): $WATTS_SOURCE\""
    DEVICE=$TMP/this-machine.toml
    "$PY" - "$DEVICE" <<'PYEOF'
import sys
from bench.devices.profiles import auto_profile
a = auto_profile()
lines = [
    f'name = "this machine, stated watts ({a.hardware})"',
    'kind = "local"',
    'backend = "llama_cpp"',
    f'hardware = "{a.hardware}"',
    f"memory_gb = {a.memory_gb}",
    f"lifetime_years = {a.lifetime_years}",
    f"utilization = {a.utilization}",
    f"kwh_usd = {a.kwh_usd}",
    f'region = "{a.region}"',
    f"kwh_as_of = {a.kwh_as_of}",
    f'kwh_source = "{a.kwh_source}"',
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PYEOF
    echo "$WATTS" >>"$DEVICE"
fi

for MODEL in smollm2-135m gemma3-270m; do
    echo "== $MODEL, in-process" >&2
    "$PY" -m bench run --device "$DEVICE" --suite default --model "$MODEL" -r "$REPS" -w "$WARMUP" \
        -t "$THREADS" --cache-bust --seed "$SEED" --out "$RUNS"

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
    if [ -n "$WATTS" ]; then  # the same stated watts: top-level keys go before the [http] table
        { echo "$WATTS"; cat "$TMP/local-server-$MODEL.toml"; } >"$TMP/ls.toml"
        grep -v '^description = "a local server' "$TMP/ls.toml" >"$TMP/local-server-$MODEL.toml"
    fi
    "$PY" -m bench run --device "$TMP/local-server-$MODEL.toml" --cache-bust --seed "$SEED" --suite default \
        -r "$REPS" -w "$WARMUP" --out "$RUNS"
    stop_server
done

"$PY" -m bench report "$RUNS" -o "$OUT/report.md" --csv "$OUT/report.csv" --title "$TITLE" ${PRICES[@]+"${PRICES[@]}"}
"$PY" -m bench report "$RUNS" -o "$OUT/report.html" --title "$TITLE" ${PRICES[@]+"${PRICES[@]}"}
rm -rf "$FINAL"/runs "$FINAL"/report*
mkdir -p "$FINAL"
mv "$OUT"/runs "$OUT"/report* "$FINAL"/
echo "wrote $FINAL/report.md (charts in $FINAL/report-charts/), $FINAL/report.html, $FINAL/report.csv" >&2
