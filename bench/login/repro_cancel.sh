#!/usr/bin/env bash
# Reproduces the SQLite pool poisoning that bench/login ran into (bench/RESULTS.md,
# "A correctness bug the benchmark found"): requests cancelled while they open a
# transaction leave a pooled SQLite connection inside `BEGIN IMMEDIATE`, after which
# every login answers 500 "attempted to call begin_with at non-zero transaction depth"
# and the outbox worker reports "database is locked".
#
#   bench/login/repro_cancel.sh [--rounds N] [--no-build] [--keep]
#
# A server on SQLite with cheap hashing (so that requests spend their time in the
# database), 100 users, then N rounds of `wrk -c16 -d1s`: each round ends by closing
# 16 connections with requests in flight, as clients that give up do. Prints each
# round's 200 and non-200 counts. Exit status 1 if any request failed (the bug is
# there), 0 if none did. Everything on 127.0.0.1, bounded in time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROUNDS=20
BUILD=1
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 2; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $BUILD -eq 1 ]]; then (cd "$ROOT" && cargo build --release -p sigillo-server --bin sigillo); fi
WORK="$(mktemp -d -t sigillo-repro-cancel.XXXXXX)"
cp "$TARGET_DIR/release/sigillo" "$WORK/sigillo"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  if [[ $KEEP -eq 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cd "$WORK"
PORT="$(python3 "$HERE/bench.py" free-port)"
export SIGILLO_DATABASE_URL="sqlite:$WORK/sigillo.db" SIGILLO_LISTEN="127.0.0.1:$PORT" SIGILLO_DATA_DIR="$WORK"
export SIGILLO_RATE_LIMIT__PER_IP_PER_SECOND=100000 SIGILLO_RATE_LIMIT__BURST=100000
# Dev mode accepts weak hashing: a login then costs its database work only.
export SIGILLO_SECURITY__HASHING__MEMORY_KIB=64 SIGILLO_SECURITY__HASHING__ITERATIONS=1
./sigillo serve > server.out 2> server.err &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  sleep 0.1
done
for i in $(seq 1 100); do printf '+39333%07d\n' "$i"; done \
  | xargs -P 2 -I{} ./sigillo admin --operator bench user create --phone {} --json > envelopes.jsonl 2> admin.err
python3 "$HERE/bench.py" users envelopes.jsonl users.txt > /dev/null

FAILED=0
for round in $(seq 1 "$ROUNDS"); do
  out="$(timeout 30 wrk -t1 -c16 -d1s -s "$HERE/login.lua" "http://127.0.0.1:$PORT" -- users.txt 2>/dev/null || true)"
  ok="$(awk '$1 == "BENCH" && $2 == "ok" {print $3}' <<< "$out")"
  bad="$(awk '$1 == "BENCH" && $2 == "non200" {print $3}' <<< "$out")"
  printf 'round %2d: %5s × 200, %5s × non-200\n' "$round" "${ok:-?}" "${bad:-?}"
  [[ "${bad:-0}" -eq 0 ]] || FAILED=1
done
echo
echo "server errors, by message:"
sed 's/\x1b\[[0-9;]*m//g' server.err | grep ' ERROR ' | grep -v on_failure | sed 's/.*ERROR //; s/request{[^}]*}: //' \
  | sort | uniq -c | sort -rn | head -5 || true
exit $FAILED
