#!/usr/bin/env bash
# bench/approvals: complete payment approvals per second (payment → browser waiting on
# SSE → phone signs possession + PIN → browser woken), wake-up latency, transaction-OTP
# verifications per second, 10,000 browsers waiting on SSE (server RSS), and the raw
# ECDSA P-256 verify rate for reference, in one run (issue 4).
#
#   bench/approvals/run.sh [--postgres URL] [--users N] [--pipelines "16,64"] [--secs S]
#                          [--otp-ops K] [--otp-conns C] [--wrong-ops W] [--sse N]
#                          [--sse-ops M] [--sse-hold S] [--phases approvals,otp,wrong,sse]
#                          [--loadgen-threads T] [--server-wrapper CMD] [--no-build]
#                          [--no-wait-idle] [--keep] [--json-out FILE]
#
# Steps, all on 127.0.0.1 and bounded in time:
#   1. cargo build --release of the server, the load generator
#      (crates/sigillo-device/examples/approve_load.rs) and bench/sigverify's sig_rate,
#      then private copies of the three binaries;
#   2. the raw ring ECDSA P-256 verify rate (sig_rate --mode raw), 1 thread and every
#      core, 5 s each;
#   3. `sigillo serve` (dev mode: SMS in GET /dev/outbox) in a temporary directory on a
#      free port, SQLite by default (with --postgres URL, a fresh database on that server,
#      dropped at the end), per-address rate limit raised out of the way, `ulimit -n`
#      raised for the SSE phase, near-free password hashing (setup only: no measured
#      request hashes a password);
#   4. N users (default 256) from `sigillo admin user create --json`; the load generator
#      walks each through first access and binds a phone (not measured), then runs the
#      phases (see approve_load.rs), each after waiting for an idle machine;
#   5. the raw verify rate again, and a Markdown report (bench/approvals/report.py).
#
# --server-wrapper CMD runs the server under CMD, e.g. "eatmydata" (installed with apt if
# missing): fsync becomes a no-op, the what-if of RESULTS.md (never a production setting).
#
# Exit status: 0, or 1 if a measured request failed or the server logged an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="python3 $ROOT/bench/login/bench.py"

PG_ADMIN_URL=""
USERS=256
PIPELINES="16,64"
SECS=10
OTP_OPS=4000
OTP_CONNS=16
WRONG_OPS=1000
SSE=10000
SSE_OPS=10000
SSE_HOLD=20
PHASES="approvals,otp,wrong,sse"
LOADGEN_THREADS=2
SERVER_WRAPPER=""
BUILD=1
WAIT_IDLE=1
IDLE_MAX_WAIT=120
KEEP=0
JSON_OUT=""

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) PG_ADMIN_URL="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --pipelines) PIPELINES="${2// /,}"; shift 2 ;;
    --secs) SECS="$2"; shift 2 ;;
    --otp-ops) OTP_OPS="$2"; shift 2 ;;
    --otp-conns) OTP_CONNS="$2"; shift 2 ;;
    --wrong-ops) WRONG_OPS="$2"; shift 2 ;;
    --sse) SSE="$2"; shift 2 ;;
    --sse-ops) SSE_OPS="$2"; shift 2 ;;
    --sse-hold) SSE_HOLD="$2"; shift 2 ;;
    --phases) PHASES="$2"; shift 2 ;;
    --loadgen-threads) LOADGEN_THREADS="$2"; shift 2 ;;
    --server-wrapper) SERVER_WRAPPER="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-wait-idle) WAIT_IDLE=0; shift ;;
    --idle-max-wait) IDLE_MAX_WAIT="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --json-out) JSON_OUT="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

log() { printf '[bench/approvals %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
if [[ -n "$PG_ADMIN_URL" ]]; then
  command -v psql >/dev/null || { echo "--postgres needs psql" >&2; exit 2; }
fi
if [[ "$SERVER_WRAPPER" == eatmydata* ]] && ! command -v eatmydata >/dev/null; then
  log "installing eatmydata"
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y eatmydata >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y eatmydata >/dev/null; }
fi

# 10,000 SSE streams: one descriptor each in the server and in the load generator.
NOFILE_WANT=65536
if [[ "$(ulimit -Hn)" != unlimited && "$(ulimit -Hn)" -lt $NOFILE_WANT ]]; then
  ulimit -Hn $NOFILE_WANT 2>/dev/null || NOFILE_WANT="$(ulimit -Hn)"
fi
ulimit -n "$NOFILE_WANT"
log "ulimit -n $(ulimit -n)"

# --- build -------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $BUILD -eq 1 ]]; then
  log "building release (cargo waits if another build holds the lock)"
  (cd "$ROOT" && cargo build --release -p sigillo-server --bin sigillo && \
                 cargo build --release -p sigillo-device --example approve_load && \
                 cargo build --release -p sigillo-core --example sig_rate)
fi
for bin in "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/approve_load" "$TARGET_DIR/release/examples/sig_rate"; do
  [[ -x "$bin" ]] || { echo "missing $bin (build first)" >&2; exit 2; }
done

WORK="$(mktemp -d -t sigillo-bench-approvals.XXXXXX)"
mkdir -p "$WORK/bin"
cp "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/approve_load" "$TARGET_DIR/release/examples/sig_rate" "$WORK/bin/"
SIGILLO="$WORK/bin/sigillo"
GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- crates 2>/dev/null)" ]]; then GIT_REV+="+dirty"; fi
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

IDLE_CMD="true"
if [[ $WAIT_IDLE -eq 1 ]]; then IDLE_CMD="$PY idle $IDLE_MAX_WAIT 10 >&2"; fi

raw_rate() {
  local name="$1" threads="$2"
  sh -c "$IDLE_CMD"
  $PY snap "$WORK/snap_a"
  ( "$WORK/bin/sig_rate" --json --mode raw --threads "$threads" --secs 5 > "$WORK/raw_$name.json"; times > "$WORK/times_raw_$name" )
  $PY snap "$WORK/snap_b"
  $PY cpu "$WORK/snap_a" "$WORK/snap_b" "sig_rate=times:$WORK/times_raw_$name" > "$WORK/cpu_raw_$name.json"
  log "raw ECDSA ($name): $(head -1 "$WORK/raw_$name.json"), other processes $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["other_pct_of_machine"])' "$WORK/cpu_raw_$name.json")%"
}

DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average at start: $LOAD_START"

# --- 1. raw ECDSA before ---------------------------------------------------------------
raw_rate before_1t 1
raw_rate before "$(nproc)"

# --- 2. server -------------------------------------------------------------------------
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
export SIGILLO_PUBLIC_URL="http://127.0.0.1:$PORT"
export SIGILLO_DATA_DIR="$WORK"
export SIGILLO_DEV_MODE=true
export SIGILLO_RATE_LIMIT__PER_IP_PER_SECOND=1000000
export SIGILLO_RATE_LIMIT__BURST=1000000
# Setup logs every user in with a password; nothing measured hashes one.
export SIGILLO_SECURITY__HASHING__MEMORY_KIB="${SIGILLO_SECURITY__HASHING__MEMORY_KIB:-64}"
export SIGILLO_SECURITY__HASHING__ITERATIONS="${SIGILLO_SECURITY__HASHING__ITERATIONS:-1}"
cd "$WORK"
log "starting ${SERVER_WRAPPER:+$SERVER_WRAPPER }sigillo serve on 127.0.0.1:$PORT ($BACKEND)"
# exec: with a wrapper too, $! is the server's own pid (its CPU and memory are read from /proc).
sh -c 'exec '"$SERVER_WRAPPER"' "$0" serve' "$SIGILLO" > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/dev/outbox" || { echo "no /dev/outbox: is dev mode on?" >&2; exit 1; }

# --- 3. users --------------------------------------------------------------------------
log "creating $USERS users"
for i in $(seq 1 "$USERS"); do printf '+39334%07d\n' "$i"; done \
  | xargs -P 2 -I{} sh -c 'env=$("$0" --database-url "$1" admin --operator bench user create --phone "$2" --json) && printf "%s %s\n" "$2" "$env"' \
      "$SIGILLO" "$DB_URL" {} > "$WORK/users.txt" 2> "$WORK/admin.err"
CREATED="$(grep -c '{' "$WORK/users.txt" || true)"
[[ "$CREATED" -eq "$USERS" ]] || { echo "created $CREATED of $USERS users" >&2; tail "$WORK/admin.err" >&2; exit 1; }

# --- 4. load ---------------------------------------------------------------------------
log "load generator: setup, then phases $PHASES"
STATUS=0
"$WORK/bin/approve_load" --server "http://127.0.0.1:$PORT" --users "$WORK/users.txt" --server-pid "$SERVER_PID" \
  --phases "$PHASES" --pipelines "$PIPELINES" --secs "$SECS" --otp-ops "$OTP_OPS" --otp-conns "$OTP_CONNS" \
  --wrong-ops "$WRONG_OPS" --sse "$SSE" --sse-ops "$SSE_OPS" --sse-hold "$SSE_HOLD" --threads "$LOADGEN_THREADS" \
  --idle-cmd "$IDLE_CMD" > "$WORK/load.json" || STATUS=1
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# --- 5. raw ECDSA after, report ---------------------------------------------------------
raw_rate after "$(nproc)"
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -s "$WORK/load.json" ]]; then
  echo
  python3 "$HERE/report.py" --date "$DATE" --rev "$GIT_REV" --backend "$BACKEND${SERVER_WRAPPER:+, server under $SERVER_WRAPPER}" --users "$USERS" \
    --load-start "$LOAD_START" --load-end "$LOAD_END" \
    --raw-1t "$WORK/raw_before_1t.json" --raw-before "$WORK/raw_before.json" --raw-after "$WORK/raw_after.json" \
    --cpu-raw-before "$WORK/cpu_raw_before.json" --cpu-raw-after "$WORK/cpu_raw_after.json" \
    --load "$WORK/load.json" --json-out "${JSON_OUT:-$WORK/summary.json}" || STATUS=1
  [[ -n "$JSON_OUT" ]] && log "wrote $JSON_OUT"
fi
if grep -qE 'panicked|ERROR' "$WORK/server.err" "$WORK/server.out" 2>/dev/null; then
  echo; echo "server errors:"; grep -hE 'panicked|ERROR' "$WORK/server.err" "$WORK/server.out" | head -5
  STATUS=1
fi
exit $STATUS
