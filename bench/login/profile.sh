#!/usr/bin/env bash
# bench/login/profile.sh: where the server's time goes during a bench/login run. Not a
# benchmark (perf perturbs what it measures): it backs the explanations in RESULTS.md.
#
#   bench/login/profile.sh [SECS] [-- extra run.sh flags]
#
# Runs run.sh (16 connections, 30 s, --no-wait-idle, plus the flags given) in the
# background; once its measured window starts, counts the server's fsync/fdatasync calls,
# context switches and CPU time (`perf stat`: cheap) for SECS (default 8) seconds, then
# samples it (`perf record -F 999 -g`) for SECS more. Prints the counts per login (from
# run.sh's rate), the run's report, and the top of the profile by thread and by symbol.
# Build first (or pass nothing and let run.sh build).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECS=8
if [[ $# -gt 0 && "$1" != "--" ]]; then SECS="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi

command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)" >&2; exit 2; }

OUT="$(mktemp -d -t sigillo-profile-login.XXXXXX)"
"$HERE/run.sh" --connections 16 --duration 30 --no-wait-idle --keep "$@" > "$OUT/run.out" 2> "$OUT/run.err" &
RUN=$!
for _ in $(seq 1 900); do
  grep -q "measuring: " "$OUT/run.err" && break
  kill -0 "$RUN" 2>/dev/null || { cat "$OUT/run.err" >&2; exit 1; }
  sleep 1
done
# The server of this run: a private copy in a bench/login directory, run from there.
PID=""
for p in $(pgrep -f '/bin/sigillo serve'); do
  cwd="$(readlink "/proc/$p/cwd" || true)"
  if [[ "$cwd" == /tmp/sigillo-bench-login.* && "$(readlink "/proc/$p/exe" || true)" == "$cwd/bin/sigillo" ]]; then
    PID="$p"
  fi
done
[[ -n "$PID" ]] || { echo "server pid not found" >&2; exit 1; }
sleep 3   # past the start
# Logins during the counted window: flows in the server's SQLite database (none on PostgreSQL).
flows() {
  python3 -c 'import sqlite3, sys
try:
    db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
    print(db.execute("SELECT COUNT(*) FROM auth_flows").fetchone()[0])
except Exception:
    print(0)' "$(readlink "/proc/$PID/cwd")/sigillo.db"
}
F0="$(flows)"
perf stat -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,context-switches,task-clock' \
  -p "$PID" -o "$OUT/stat.txt" -- sleep "$SECS"
F1="$(flows)"
perf record -F 999 -g -p "$PID" -o "$OUT/perf.data" -- sleep "$SECS" 2> /dev/null
wait "$RUN" || true
cat "$OUT/stat.txt"
LOGINS=$((F1 - F0))
echo "logins in the counted window: $LOGINS"
if [[ "$LOGINS" -gt 0 ]]; then
  awk -v n="$LOGINS" '
    /sys_enter_fsync|sys_enter_fdatasync|context-switches/ { gsub(",", "", $1); printf "%s per login: %.2f\n", $2, $1 / n }
    /task-clock/ { gsub(",", "", $1); printf "server CPU per login: %.2f ms\n", $1 / n }
  ' "$OUT/stat.txt"
fi
grep -E '^- (raw|HTTP|ratio|CPU|per login)' "$OUT/run.out" || true
echo
echo "--- by thread ---"
perf report -i "$OUT/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -10
echo "--- by symbol ---"
perf report -i "$OUT/perf.data" --no-children --sort comm,dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | head -40
echo
echo "perf data and logs in $OUT"
