#!/usr/bin/env bash
# bench/acs/profile.sh: where the server's time goes during one bench/acs measurement.
# Not a benchmark (perf perturbs what it measures): it backs the analysis in RESULTS.md.
#
#   bench/acs/profile.sh [MIX] [CONNECTIONS] [SECS] [-- extra run.sh flags]
#
# Defaults: challenge, 32 connections, 6 s. Runs run.sh for that one mix and connection
# count with a 2 s warm-up and 25 s measured (under the 30 s CReq time-out, see run.sh),
# in the background; once the measurement starts, counts the server's fsync/fdatasync
# calls, context switches and CPU (`perf stat`, tracepoints: cheap) for SECS seconds, then
# samples it (`perf record -F 999 -g`) for SECS more. Prints the counts, run.sh's figures
# (perturbed by perf) and the top of the profile by thread and by symbol; the perf data
# stays in the printed directory. perf is installed with apt (linux-perf) if missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIX="challenge"; CONN=32; SECS=6
if [[ $# -gt 0 && "$1" != "--" ]]; then MIX="$1"; shift; fi
if [[ $# -gt 0 && "$1" != "--" ]]; then CONN="$1"; shift; fi
if [[ $# -gt 0 && "$1" != "--" ]]; then SECS="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi

if ! command -v perf >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y linux-perf >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y linux-perf >/dev/null; }
fi

OUT="$(mktemp -d -t sigillo-profile-acs.XXXXXX)"
"$HERE/run.sh" --mixes "$MIX" --connections "$CONN" --warmup 2 --duration 25 "$@" > "$OUT/run.out" 2> "$OUT/run.err" &
RUN=$!
for _ in $(seq 1 900); do
  grep -q "measuring: $MIX" "$OUT/run.err" && break
  kill -0 "$RUN" 2>/dev/null || { cat "$OUT/run.err" >&2; exit 1; }
  sleep 1
done
PID=""
for _ in $(seq 1 20); do
  LOAD="$(pgrep -f 'acs_load --server' | head -1 || true)"
  [[ -n "$LOAD" ]] && PID="$(tr '\0' ' ' < /proc/"$LOAD"/cmdline | grep -oE -- '--server-pid [0-9]+' | cut -d' ' -f2)"
  [[ -n "$PID" ]] && break
  sleep 0.5
done
[[ -n "$PID" ]] || { echo "server pid not found" >&2; exit 1; }
sleep 3   # past the warm-up
perf stat -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64,context-switches,task-clock' \
  -p "$PID" -o "$OUT/stat.txt" -- sleep "$SECS"
perf record -F 999 -g -p "$PID" -o "$OUT/perf.data" -- sleep "$SECS" 2> /dev/null
wait "$RUN" || true
cat "$OUT/stat.txt"
grep -E '^\| (unknown|challenge|lowvalue)' "$OUT/run.out" || true
echo
echo "--- by thread ---"
perf report -i "$OUT/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -10
echo "--- by dso ---"
perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -10
echo "--- by symbol ---"
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -50
echo
echo "perf data and logs in $OUT"
