#!/usr/bin/env bash
# bench/login: password logins per second over HTTP against the raw Argon2id verify
# rate with the same parameters, on the same machine, in one run.
#
#   bench/login/run.sh [--postgres URL] [--users N] [--connections "C ..."]
#                      [--duration S] [--raw-secs S] [--warmup S] [--wrk-threads T]
#                      [--no-build] [--no-wait-idle] [--keep] [--json-out FILE]
#                      [--raw-args "hash_rate flags, e.g. --reuse-memory"]
#
# Steps, all on 127.0.0.1 and bounded in time:
#   1. cargo build --release (the server and the hash_rate example);
#   2. raw verify rate, all cores (crates/sigillo-core/examples/hash_rate.rs), and on one
#      thread for reference;
#   3. `sigillo serve` in a temporary directory on a free port (SQLite by default; with
#      --postgres URL, in a fresh database created on that server and dropped at the end),
#      per-address rate limit raised out of the way;
#   4. N users created with `sigillo admin user create --json`;
#   5. for each connection count, a fresh server (see start_server) and wrk driving
#      POST /api/v1/login with the users' correct passwords, round-robin over the users
#      (an optional warm-up with --warmup S, default none, then the measured run);
#   6. the server is stopped and the raw rate is measured again (the reference is the
#      mean of before and after, so a drift of the machine shows as a spread);
#   7. a report: logins/s, latency, non-200 count, ratio HTTP/raw, and where the CPU went
#      (server, wrk, postgres, other processes) from /proc.
#
# Hashing parameters: the server's defaults, or SIGILLO_SECURITY__HASHING__MEMORY_KIB /
# __ITERATIONS / __PARALLELISM from the environment, which the server, the admin
# command and hash_rate all read. Exit status: 0, or 1 if any request failed or the
# server logged an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="python3 $HERE/bench.py"

PG_ADMIN_URL=""
USERS=300
CONNECTIONS="16"
DURATION=20
RAW_SECS=10
WARMUP=0
WRK_THREADS=1
BUILD=1
WAIT_IDLE=1
IDLE_MAX_WAIT=300
KEEP=0
JSON_OUT=""
RAW_ARGS=""

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) PG_ADMIN_URL="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --raw-secs) RAW_SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-wait-idle) WAIT_IDLE=0; shift ;;
    --idle-max-wait) IDLE_MAX_WAIT="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --raw-args) RAW_ARGS="$2"; shift 2 ;;
    --json-out) JSON_OUT="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

log() { printf '[bench/login %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- tools -------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y wrk >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
if [[ -n "$PG_ADMIN_URL" ]]; then
  command -v psql >/dev/null || { echo "--postgres needs psql" >&2; exit 2; }
fi

# --- build -------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $BUILD -eq 1 ]]; then
  log "building release (cargo waits if another build holds the lock)"
  (cd "$ROOT" && cargo build --release -p sigillo-server --bin sigillo && \
                 cargo build --release -p sigillo-core --example hash_rate)
fi
for bin in "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/hash_rate"; do
  [[ -x "$bin" ]] || { echo "missing $bin (build first)" >&2; exit 2; }
done

# --- workspace and cleanup ---------------------------------------------------------
WORK="$(mktemp -d -t sigillo-bench-login.XXXXXX)"
# Private copies: another build replacing target/release/ mid-run must not change what
# is measured.
mkdir -p "$WORK/bin"
cp "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/hash_rate" "$WORK/bin/"
SIGILLO="$WORK/bin/sigillo"
HASH_RATE="$WORK/bin/hash_rate"
GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo '+dirty')"
SERVER_PID=""
PG_DB=""
cleanup() {
  set +e
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
  fi
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null \
      && log "dropped database $PG_DB"
  fi
  if [[ $KEEP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_idle() {
  if [[ $WAIT_IDLE -eq 1 ]]; then $PY idle "$IDLE_MAX_WAIT" 10 >&2; fi
}

# Share of the machine (%) that other processes may take during a measurement before it
# is repeated (at most MAX_TRIES times; the least disturbed attempt is kept).
OTHER_MAX=5
MAX_TRIES=3
other_pct() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["other_pct_of_machine"])' "$1"; }
too_busy() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$OTHER_MAX"; }

# Runs hash_rate under CPU accounting: raw_<name>.json and cpu_raw_<name>.json.
raw_rate() {
  local name="$1"; shift
  local best="" try
  for try in $(seq 1 $MAX_TRIES); do
    wait_idle
    $PY snap "$WORK/snap_a"
    ( "$HASH_RATE" --json "$@" > "$WORK/raw_$name.$try.json"; times > "$WORK/times_raw_$name.$try" )
    $PY snap "$WORK/snap_b"
    $PY cpu "$WORK/snap_a" "$WORK/snap_b" "hash_rate=times:$WORK/times_raw_$name.$try" > "$WORK/cpu_raw_$name.$try.json"
    log "raw ($name, try $try): $(cat "$WORK/raw_$name.$try.json"), other processes $(other_pct "$WORK/cpu_raw_$name.$try.json")%"
    if [[ -z "$best" ]] || python3 -c 'import json,sys; a,b=(json.load(open(f))["other_pct_of_machine"] for f in sys.argv[1:]); sys.exit(0 if a < b else 1)' \
        "$WORK/cpu_raw_$name.$try.json" "$WORK/cpu_raw_$name.$best.json"; then
      best=$try
    fi
    too_busy "$(other_pct "$WORK/cpu_raw_$name.$try.json")" || break
  done
  cp "$WORK/raw_$name.$best.json" "$WORK/raw_$name.json"
  cp "$WORK/cpu_raw_$name.$best.json" "$WORK/cpu_raw_$name.json"
}

# --- 1. raw rate before --------------------------------------------------------------
log "raw verify rate, all cores, ${RAW_SECS} s"
raw_rate before --secs "$RAW_SECS" $RAW_ARGS
log "raw verify rate, 1 thread, 5 s (reference)"
raw_rate 1t --secs 5 --threads 1 $RAW_ARGS

# --- 2. server ---------------------------------------------------------------------
PORT="$($PY free-port)"
if [[ -n "$PG_ADMIN_URL" ]]; then
  PG_DB="sigillo_bench_$$_$(date +%s)"
  psql "$PG_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
  DB_URL="$($PY pgurl "$PG_ADMIN_URL" "$PG_DB")"
  BACKEND="PostgreSQL ($(psql "$PG_ADMIN_URL" -qXAt -c 'SHOW server_version'))"
  log "created database $PG_DB"
else
  DB_URL="sqlite:$WORK/sigillo.db"
  BACKEND="SQLite"
fi
export SIGILLO_DATABASE_URL="$DB_URL"
export SIGILLO_LISTEN="127.0.0.1:$PORT"
export SIGILLO_DATA_DIR="$WORK"
export SIGILLO_RATE_LIMIT__PER_IP_PER_SECOND=100000
export SIGILLO_RATE_LIMIT__BURST=100000
cd "$WORK"
# One server per measurement: a request cut off when a wrk run ends can leave a pooled
# SQLite connection inside its transaction (bench/RESULTS.md, "cancellation"), which would
# spoil the next run. Each server logs to server.N.err; all are checked at the end.
SERVER_N=0
start_server() {
  SERVER_N=$((SERVER_N + 1))
  "$SIGILLO" serve > "$WORK/server.$SERVER_N.out" 2> "$WORK/server.$SERVER_N.err" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.$SERVER_N.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not come up" >&2; exit 1
}
stop_server() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
log "starting sigillo serve on 127.0.0.1:$PORT ($BACKEND)"
start_server

# --- 3. users ----------------------------------------------------------------------
log "creating $USERS users"
for i in $(seq 1 "$USERS"); do printf '+39333%07d\n' "$i"; done \
  | xargs -P 2 -I{} "$SIGILLO" --database-url "$DB_URL" admin --operator bench user create --phone {} --json \
  > "$WORK/envelopes.jsonl" 2> "$WORK/admin.err"
CREATED="$($PY users "$WORK/envelopes.jsonl" "$WORK/users.txt")"
[[ "$CREATED" -eq "$USERS" ]] || { echo "created $CREATED of $USERS users" >&2; tail "$WORK/admin.err" >&2; exit 1; }
# Check one login by hand before loading.
read -r U P < "$WORK/users.txt"
curl -fsS -H 'content-type: application/json' -d "{\"username\":\"$U\",\"password\":\"$P\"}" \
  "http://127.0.0.1:$PORT/api/v1/login" > /dev/null
stop_server

# --- 4. load -----------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STATUS=0
RESULTS=()
for C in $CONNECTIONS; do
  for try in $(seq 1 $MAX_TRIES); do
    start_server
    wait_idle
    if [[ "$WARMUP" != 0 ]]; then
      log "warm-up: ${WARMUP} s at $C connections"
      timeout $((WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$C" -d"${WARMUP}s" --timeout 10s -s "$HERE/login.lua" \
        "http://127.0.0.1:$PORT" -- "$WORK/users.txt" > "$WORK/wrk_warm_$C.txt" 2>&1 || true
    fi
    log "measuring: ${DURATION} s at $C connections (try $try)"
    $PY snap "$WORK/snap_a"
    ( timeout $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$C" -d"${DURATION}s" --timeout 10s --latency \
        -s "$HERE/login.lua" "http://127.0.0.1:$PORT" -- "$WORK/users.txt" > "$WORK/wrk_$C.txt" 2> "$WORK/wrk_$C.err"
      times > "$WORK/times_wrk_$C" )
    $PY snap "$WORK/snap_b"
    $PY cpu "$WORK/snap_a" "$WORK/snap_b" "server=$SERVER_PID" "wrk=times:$WORK/times_wrk_$C" > "$WORK/cpu_http_$C.json"
    log "  $(grep -E '^BENCH (ok|non200) ' "$WORK/wrk_$C.txt" | tr '\n' ' ')other processes $(other_pct "$WORK/cpu_http_$C.json")%"
    stop_server
    too_busy "$(other_pct "$WORK/cpu_http_$C.json")" || break
  done
  RESULTS+=("$C")
done

# --- 5. raw rate after -------------------------------------------------------------
log "raw verify rate again, all cores, ${RAW_SECS} s"
raw_rate after --secs "$RAW_SECS" $RAW_ARGS

# --- 6. report ---------------------------------------------------------------------
echo
echo "## bench/login: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $BACKEND"
ALL_JSON="["
for C in "${RESULTS[@]}"; do
  echo
  $PY summarize "$WORK/summary_$C.json" \
    backend="$BACKEND" date="$DATE" rev="$GIT_REV" users="$USERS" connections="$C" duration="$DURATION" warmup="$WARMUP" \
    wrk_threads="$WRK_THREADS" \
    raw_before="$WORK/raw_before.json" raw_after="$WORK/raw_after.json" raw_1t="$WORK/raw_1t.json" \
    wrk="$WORK/wrk_$C.txt" cpu_http="$WORK/cpu_http_$C.json" \
    cpu_raw_before="$WORK/cpu_raw_before.json" cpu_raw_after="$WORK/cpu_raw_after.json"
  if [[ -s "$WORK/wrk_$C.err" ]]; then echo "wrk stderr:"; head -5 "$WORK/wrk_$C.err"; fi
  NON200="$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["http"]; print(h["non200"]+h["socket_errors"])' "$WORK/summary_$C.json")"
  [[ "$NON200" -eq 0 ]] || STATUS=1
  ALL_JSON+="$(cat "$WORK/summary_$C.json"),"
done
if [[ -n "$JSON_OUT" ]]; then
  printf '%s]\n' "${ALL_JSON%,}" > "$JSON_OUT"
  log "wrote $JSON_OUT"
fi
if cat "$WORK"/server.*.err "$WORK"/server.*.out 2>/dev/null | grep -qE 'panicked|ERROR'; then
  echo; echo "server errors:"; grep -hE 'panicked|ERROR' "$WORK"/server.*.err "$WORK"/server.*.out | head -5
  STATUS=1
fi
exit $STATUS
