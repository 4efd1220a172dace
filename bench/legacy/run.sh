#!/usr/bin/env bash
# bench/legacy: `sigillo admin legacy import` of a large file (issue 6): rows per second and
# peak memory (maximum resident set size, GNU time), on SQLite (the default) or PostgreSQL.
#
#   bench/legacy/run.sh [--rows N] [--format csv|jsonl] [--postgres URL] [--no-build] [--keep]
#
# Steps: 1. cargo build --release of the server and a private copy of the binary;
# 2. the import file (bench/legacy/make_file.py: every hash format in turn, distinct codes);
# 3. a fresh data directory with one configured bank (and, with --postgres, a fresh database
#    on that server, dropped at the end); 4. the import under /usr/bin/time -v, timed;
# 5. the same file again (the idempotent re-import: every row unchanged), timed;
# 6. a Markdown row per run: rows, seconds, rows/s, peak RSS, and the summary the command
#    printed. Target: at least 50,000 rows/s and under 100 MB peak memory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROWS=1000000
FORMAT=csv
POSTGRES=""
BUILD=1
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --format) FORMAT="$2"; shift 2 ;;
    --postgres) POSTGRES="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 64 ;;
  esac
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cargo build --release --locked -p sigillo-server --bin sigillo >&2)
fi
WORK="$(mktemp -d -t sigillo-bench-legacy.XXXXXX)"
DB=""
cleanup() {
  if [[ -n "$DB" ]]; then psql "$POSTGRES" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1 || true; fi
  if [[ $KEEP -eq 0 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
cp "$TARGET/release/sigillo" "$WORK/sigillo"

FILE="$WORK/carige.$FORMAT"
echo "[bench/legacy] writing $ROWS rows to $FILE" >&2
python3 "$HERE/make_file.py" "$ROWS" "$FILE"
cat > "$WORK/sigillo.toml" <<TOML
[[legacy.banks]]
id = "carige"
name = "Banca Carige"
credentials_label = "Codice Cliente Carige Online e password"
opens_at = "2026-11-28T00:00:00+01:00"
TOML
if [[ -n "$POSTGRES" ]]; then
  DB="sigillo_bench_legacy_$$"
  psql "$POSTGRES" -qc "create database $DB" >/dev/null
  export SIGILLO_DATABASE_URL="${POSTGRES%/*}/$DB"
  BACKEND="PostgreSQL"
else
  export SIGILLO_DATABASE_URL="sqlite:$WORK/sigillo.db"
  BACKEND="SQLite"
fi

run() {
  local label="$1"
  local start end
  start=$(date +%s.%N)
  set +e
  (cd "$WORK" && /usr/bin/time -v -o "$WORK/time-$label.txt" ./sigillo --config sigillo.toml admin legacy import \
    --bank carige "$FILE" > "$WORK/out-$label.txt" 2> "$WORK/err-$label.txt")
  local code=$?
  set -e
  end=$(date +%s.%N)
  if [[ $code -ne 0 ]]; then echo "import failed ($code):" >&2; tail -5 "$WORK/err-$label.txt" >&2; exit 1; fi
  python3 - "$label" "$ROWS" "$start" "$end" "$WORK/time-$label.txt" "$WORK/out-$label.txt" <<'PY'
import re, sys
label, rows, start, end, timefile, outfile = sys.argv[1:]
secs = float(end) - float(start)
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timefile).read()).group(1))
summary = open(outfile).read().strip()
print(f"| {label} | {int(rows):,} | {secs:.1f} | **{int(rows) / secs:,.0f}** | **{rss_kb / 1024:.1f} MB** | {summary} |")
PY
}

echo
echo "## bench/legacy: $(nproc) cores, $BACKEND, $FORMAT, rev $(cd "$ROOT" && git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "| run | rows | seconds | rows/s | peak RSS | summary |"
echo "|---|---|---|---|---|---|"
run first
run again
