#!/usr/bin/env bash
# bench/acs: AReq → ARes per second and latency percentiles over HTTP against
# `POST /3ds/v2/areq` of a release `sigillo serve` on SQLite (issue 5), per mix and
# connection count, every answer checked.
#
#   bench/acs/run.sh [--mixes "unknown challenge lowvalue"] [--connections "8 32 64"]
#                    [--duration S] [--warmup S] [--repeat R] [--cards N]
#                    [--lowvalue-amount CENTS] [--loadgen-threads T] [--server-wrapper CMD]
#                    [--no-build] [--no-wait-idle] [--idle-max-wait S] [--max-tries N] [--keep]
#                    [--json-out FILE]
#
# Mixes: unknown (PANs the ACS does not hold: ARes N, no write), challenge (known cards,
# 49.99 EUR: ARes C, one transaction row per AReq), lowvalue (known cards, 1.00 EUR by
# default: Y while the RTS art. 16 counters allow — 100 per card at 1.00 EUR — then C).
#
# Steps, all on 127.0.0.1 and bounded in time:
#   1. cargo build --release of the server, bench/approvals' approve_load and the load
#      generator crates/sigillo-3ds-sim/examples/acs_load.rs; private copies of the three;
#   2. `sigillo serve` (dev mode: any http dsURL, SMS in /dev/outbox) in a temporary
#      directory, SQLite with the default `sqlite_synchronous = full`, per-address rate
#      limit raised, near-free password hashing (setup only: no AReq hashes a password);
#   3. N users (`sigillo admin user create --json`), each bound to an in-memory phone by
#      approve_load's setup (first access + Device::activate), so its card can be
#      challenged (no Key6 can be set over HTTP or the CLI yet); N cards with distinct
#      Luhn-valid Visa PANs (`sigillo admin card create --holder … --phone … --json`),
#      and N other Luhn-valid Visa PANs that are never issued (the unknown mix);
#   4. the server is stopped and the database kept as a snapshot; every measurement
#      starts a fresh server on a fresh copy of it (the lowvalue counters start at zero,
#      the transaction table empty), waits for an idle machine, runs acs_load for
#      warm-up + duration, and stops the server. A measurement during which other
#      processes took more than 5 % of the machine is repeated (at most --max-tries, 3; the
#      least disturbed is kept). With --repeat R, each (mix, connections) is measured R
#      times, rounds interleaved;
#   5. a Markdown table (bench/acs/report.py): AReq/s, latency p50/p90/p99/max, statuses,
#      mismatches, server and load-generator CPU, context switches, other processes, load
#      average; and the target (≥ 5,000 AReq/s with p99 ≤ 20 ms) per mix.
#
# Keep warm-up + duration under 30 s (`acs.creq_timeout_secs`): after that the sweep ends
# the unanswered challenges and sends their RReqs, which is not what is measured here.
#
# Exit status: 0, or 1 if any answer was wrong or the server logged an error; a missed
# target is reported, not an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="python3 $ROOT/bench/login/bench.py"

MIXES="unknown challenge lowvalue"
CONNECTIONS="8 32 64"
DURATION=10
WARMUP=2
REPEAT=1
CARDS=200
LV_AMOUNT=100
LOADGEN_THREADS=1
SERVER_WRAPPER=""
BUILD=1
WAIT_IDLE=1
IDLE_MAX_WAIT=120
KEEP=0
JSON_OUT=""
MAX_TRIES=3

usage() { sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mixes|--mix) MIXES="${2//,/ }"; shift 2 ;;
    --connections) CONNECTIONS="${2//,/ }"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --cards) CARDS="$2"; shift 2 ;;
    --lowvalue-amount) LV_AMOUNT="$2"; shift 2 ;;
    --loadgen-threads) LOADGEN_THREADS="$2"; shift 2 ;;
    --server-wrapper) SERVER_WRAPPER="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-wait-idle) WAIT_IDLE=0; shift ;;
    --idle-max-wait) IDLE_MAX_WAIT="$2"; shift 2 ;;
    --max-tries) MAX_TRIES="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --json-out) JSON_OUT="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

log() { printf '[bench/acs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
if (( WARMUP + DURATION >= 30 )); then
  log "WARNING: warm-up + duration ≥ 30 s: the challenge sweep (creq_timeout_secs) will run during the measurement"
fi
if [[ "$SERVER_WRAPPER" == eatmydata* ]] && ! command -v eatmydata >/dev/null; then
  log "installing eatmydata"
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y eatmydata >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y eatmydata >/dev/null; }
fi
ulimit -n 65536 2>/dev/null || true

# --- 1. build ------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $BUILD -eq 1 ]]; then
  log "building release (cargo waits if another build holds the lock)"
  (cd "$ROOT" && cargo build --release -p sigillo-server --bin sigillo && \
                 cargo build --release -p sigillo-device --example approve_load && \
                 cargo build --release -p sigillo-3ds-sim --example acs_load)
fi
for bin in "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/approve_load" "$TARGET_DIR/release/examples/acs_load"; do
  [[ -x "$bin" ]] || { echo "missing $bin (build first)" >&2; exit 2; }
done

WORK="$(mktemp -d -t sigillo-bench-acs.XXXXXX)"
mkdir -p "$WORK/bin" "$WORK/pristine" "$WORK/db"
cp "$TARGET_DIR/release/sigillo" "$TARGET_DIR/release/examples/approve_load" "$TARGET_DIR/release/examples/acs_load" "$WORK/bin/"
SIGILLO="$WORK/bin/sigillo"
GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- crates/sigillo-server crates/sigillo-core crates/sigillo-store 2>/dev/null)" ]]; then GIT_REV+="+dirty"; fi
SERVER_PID=""
cleanup() {
  set +e
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
  fi
  if [[ $KEEP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IDLE_CMD="true"
if [[ $WAIT_IDLE -eq 1 ]]; then IDLE_CMD="$PY idle $IDLE_MAX_WAIT 10 >&2"; fi

# --- 2. server -----------------------------------------------------------------------
PORT="$($PY free-port)"
DB_URL="sqlite:$WORK/db/sigillo.db"
export SIGILLO_DATABASE_URL="$DB_URL"
export SIGILLO_LISTEN="127.0.0.1:$PORT"
export SIGILLO_PUBLIC_URL="http://127.0.0.1:$PORT"
export SIGILLO_DATA_DIR="$WORK"
export SIGILLO_DEV_MODE=true
export SIGILLO_RATE_LIMIT__PER_IP_PER_SECOND=1000000
export SIGILLO_RATE_LIMIT__BURST=1000000
export SIGILLO_SECURITY__HASHING__MEMORY_KIB="${SIGILLO_SECURITY__HASHING__MEMORY_KIB:-64}"
export SIGILLO_SECURITY__HASHING__ITERATIONS="${SIGILLO_SECURITY__HASHING__ITERATIONS:-1}"
cd "$WORK"
SERVER_N=0
start_server() {
  SERVER_N=$((SERVER_N + 1))
  # exec: with a wrapper too, $! is the server's own pid (its CPU is read from /proc).
  sh -c 'exec '"$SERVER_WRAPPER"' "$0" serve' "$SIGILLO" > "$WORK/server.$SERVER_N.out" 2> "$WORK/server.$SERVER_N.err" &
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
log "starting sigillo serve on 127.0.0.1:$PORT (SQLite, synchronous ${SIGILLO_SQLITE_SYNCHRONOUS:-full (default)})"
start_server
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/dev/outbox" || { echo "no /dev/outbox: is dev mode on?" >&2; exit 1; }

# --- 3. users, phones, cards ---------------------------------------------------------
python3 - "$CARDS" "$WORK" <<'EOF'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
def luhn_complete(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:          # doubled: the check digit will sit to the right
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)
with open(f"{work}/pans_known.txt", "w") as k, open(f"{work}/pans_unknown.txt", "w") as u:
    for i in range(n):
        k.write(luhn_complete(f"4539100{i:08d}") + "\n")
        u.write(luhn_complete(f"4539200{i:08d}") + "\n")
EOF
log "creating $CARDS users"
for i in $(seq 1 "$CARDS"); do printf '+39335%07d\n' "$i"; done \
  | xargs -P 2 -I{} sh -c 'env=$("$0" --database-url "$1" admin --operator bench user create --phone "$2" --json) && printf "%s %s\n" "$2" "$env"' \
      "$SIGILLO" "$DB_URL" {} > "$WORK/users.txt" 2> "$WORK/admin.err"
CREATED="$(grep -c '{' "$WORK/users.txt" || true)"
[[ "$CREATED" -eq "$CARDS" ]] || { echo "created $CREATED of $CARDS users" >&2; tail "$WORK/admin.err" >&2; exit 1; }
log "binding a phone to each user (approve_load setup)"
"$WORK/bin/approve_load" --server "http://127.0.0.1:$PORT" --users "$WORK/users.txt" --phases otp \
  --otp-ops 1 --otp-conns 1 --secs 5 --idle-cmd true > "$WORK/setup.json" 2> "$WORK/setup.err" \
  || { tail "$WORK/setup.err" >&2; exit 1; }
grep -E 'setup:' "$WORK/setup.err" | head -1 >&2 || true
log "issuing $CARDS cards"
python3 - "$WORK" <<'EOF' > "$WORK/cards_in.txt"
import json, sys
work = sys.argv[1]
pans = open(f"{work}/pans_known.txt").read().split()
users = [l.split(" ", 1) for l in open(f"{work}/users.txt") if l.strip()]
for pan, (phone, env) in zip(pans, users):
    print(pan, json.loads(env)["user_code"], phone)
EOF
xargs -P 2 -L 1 sh -c '"$0" --database-url "$1" admin --operator bench card create --pan "$2" --brand visa --holder "$3" --phone "$4" --json' \
  "$SIGILLO" "$DB_URL" < "$WORK/cards_in.txt" > "$WORK/cards.jsonl" 2> "$WORK/cards.err"
ISSUED="$(grep -c card_id "$WORK/cards.jsonl" || true)"
[[ "$ISSUED" -eq "$CARDS" ]] || { echo "issued $ISSUED of $CARDS cards" >&2; tail "$WORK/cards.err" >&2; exit 1; }
stop_server
cp -a "$WORK"/db/. "$WORK/pristine/"

# --- 4. measurements -----------------------------------------------------------------
OTHER_MAX=5
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
: > "$WORK/results.jsonl"
STATUS=0
for rep in $(seq 1 "$REPEAT"); do
  for mix in $MIXES; do
    case "$mix" in
      unknown) PANS="$WORK/pans_unknown.txt"; AMOUNT=4999 ;;
      challenge) PANS="$WORK/pans_known.txt"; AMOUNT=4999 ;;
      lowvalue) PANS="$WORK/pans_known.txt"; AMOUNT="$LV_AMOUNT" ;;
      *) echo "unknown mix $mix" >&2; exit 2 ;;
    esac
    for C in $CONNECTIONS; do
      best=""
      for try in $(seq 1 $MAX_TRIES); do
        rm -rf "$WORK/db" && cp -a "$WORK/pristine" "$WORK/db"
        start_server
        sh -c "$IDLE_CMD"
        log "measuring: $mix, $C connections, ${WARMUP}+${DURATION} s (round $rep, try $try)"
        OUT="$WORK/run_${mix}_${C}_${rep}_${try}.json"
        "$WORK/bin/acs_load" --server "http://127.0.0.1:$PORT" --pans "$PANS" --mix "$mix" --amount "$AMOUNT" \
          --connections "$C" --secs "$DURATION" --warmup "$WARMUP" --threads "$LOADGEN_THREADS" \
          --server-pid "$SERVER_PID" > "$OUT" 2> "$OUT.err" || { cat "$OUT.err" >&2; STATUS=1; }
        stop_server
        [[ -s "$OUT" ]] || continue
        python3 - "$OUT" "$rep" "$try" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); r["round"] = int(sys.argv[2]); r["try"] = int(sys.argv[3])
json.dump(r, open(sys.argv[1], "w"))
l = r["latency_ms"] or {}; c = r["cpu"]
print(f"  {r['per_sec']:,.0f} AReq/s, p50 {l.get('p50')} p99 {l.get('p99')} max {l.get('max')} ms, "
      f"{r['by_status']}, mismatches {r['mismatches_total']}, server {c['server_pct_of_core']} % of a core, "
      f"other processes {c['other_pct_of_machine']} %, load {r['loadavg_start']}", file=sys.stderr)
EOF
        other="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cpu"]["other_pct_of_machine"])' "$OUT")"
        if [[ -z "$best" ]] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$other" "$best_other"; then
          best="$OUT"; best_other="$other"
        fi
        python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$other" "$OTHER_MAX" || break
      done
      [[ -n "$best" ]] && { cat "$best"; echo; } >> "$WORK/results.jsonl"
    done
  done
done

# --- 5. report -----------------------------------------------------------------------
echo
python3 "$HERE/report.py" --date "$DATE" --rev "$GIT_REV" \
  --machine "$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  --sync "${SIGILLO_SQLITE_SYNCHRONOUS:-full}${SERVER_WRAPPER:+, server under $SERVER_WRAPPER}" \
  --results "$WORK/results.jsonl" || STATUS=1
if [[ -n "$JSON_OUT" ]]; then cp "$WORK/results.jsonl" "$JSON_OUT"; log "wrote $JSON_OUT"; fi
if cat "$WORK"/server.*.err "$WORK"/server.*.out 2>/dev/null | grep -qE 'panicked|ERROR'; then
  echo; echo "server errors:"; grep -hE 'panicked|ERROR' "$WORK"/server.*.err "$WORK"/server.*.out | head -5
  STATUS=1
fi
exit $STATUS
