#!/usr/bin/env bash
# bench/approvals/profile.sh: where the server's time goes during one phase of
# bench/approvals. Not a benchmark (perf perturbs what it measures): it backs the
# explanations in RESULTS.md.
#
#   bench/approvals/profile.sh PHASE [SECS] [-- extra run.sh flags]
#
# PHASE is approvals, otp, wrong or sse (one pipeline count for approvals: pass
# `-- --pipelines 16`). Runs run.sh with --secs 30 (--sse-hold 30 for sse) in the
# background; once the phase's measured window starts, counts the server's fsync and
# fdatasync calls and context switches (`perf stat`, tracepoints: cheap) for SECS
# (default 8) seconds, then samples it (`perf record -F 999 -g`) for SECS more. Prints
# the counts, the throughput run.sh reported, and the top of the profile by thread and
# by symbol. perf is installed with apt (linux-perf) if missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PHASE="${1:?usage: profile.sh PHASE [SECS] [-- run.sh flags]}"
shift
SECS=8
if [[ $# -gt 0 && "$1" != "--" ]]; then SECS="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi

if ! command -v perf >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y linux-perf >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y linux-perf >/dev/null; }
fi

OUT="$(mktemp -d -t sigillo-profile-approvals.XXXXXX)"
case "$PHASE" in
  approvals) MARK="approvals: "; EXTRA=(--secs 30 --pipelines 16) ;;
  otp) MARK="otp: .* verifications over"; EXTRA=(--secs 30 --otp-ops 20000) ;;
  wrong) MARK="wrong: .* verifications over"; EXTRA=(--secs 30) ;;
  sse) MARK="  server with them open"; EXTRA=(--sse-hold 30) ;;
  *) echo "unknown phase $PHASE" >&2; exit 2 ;;
esac
"$HERE/run.sh" --phases "$PHASE" "${EXTRA[@]}" "$@" > "$OUT/run.out" 2> "$OUT/run.err" &
RUN=$!
for _ in $(seq 1 900); do
  grep -qE "$MARK" "$OUT/run.err" && break
  kill -0 "$RUN" 2>/dev/null || { cat "$OUT/run.err" >&2; exit 1; }
  sleep 1
done
PID="$(tr '\0' ' ' < /proc/"$(pgrep -f 'approve_load --server' | head -1)"/cmdline | grep -oE -- '--server-pid [0-9]+' | cut -d' ' -f2)"
[[ -n "$PID" ]] || { echo "server pid not found" >&2; exit 1; }
sleep 3   # past the warm-up
perf stat -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,context-switches,task-clock' \
  -p "$PID" -o "$OUT/stat.txt" -- sleep "$SECS"
perf record -F 999 -g -p "$PID" -o "$OUT/perf.data" -- sleep "$SECS" 2> /dev/null
wait "$RUN" || true
cat "$OUT/stat.txt"
grep -E "approvals/s|verifications/s|open \(" "$OUT/run.err" || true
grep -E '^\| [0-9]' "$OUT/run.out" || true
echo
echo "--- by thread ---"
perf report -i "$OUT/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -10
echo "--- by symbol ---"
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40
echo
echo "perf data and logs in $OUT"
