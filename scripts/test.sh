#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints, the core-purity check, every Rust test on
# SQLite and PostgreSQL, and the browser tests in real Chromium. Installs what it needs
# (Chromium from Debian; aiosmtpd, cryptography, oath, python-stdnum, bcrypt, argon2-cffi and
# passlib from PyPI; playwright-core from npm)
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check cryptography
python3 -c 'import oath' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check oath
python3 -c 'import stdnum' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check python-stdnum
python3 -c 'import bcrypt, argon2, passlib' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check bcrypt argon2-cffi passlib
(cd e2e && npm ci --silent --no-audit --no-fund)

# PostgreSQL: the contract and integration tests run on it too when it is reachable
# (CI: always; a newcomer without PostgreSQL gets the SQLite half and a warning).
if [ -z "${SIGILLO_TEST_POSTGRES_URL:-}" ]; then
  candidate="postgres://postgres@127.0.0.1:5432/test"
  if command -v psql >/dev/null 2>&1 && psql "$candidate" -Atqc 'select 1' >/dev/null 2>&1; then
    export SIGILLO_TEST_POSTGRES_URL="$candidate"
  elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is not reachable at $candidate and CI needs it" >&2
    exit 1
  else
    echo "warning: PostgreSQL not reachable: running the SQLite half only" >&2
  fi
fi
if [ -n "${SIGILLO_TEST_POSTGRES_URL:-}" ] && command -v psql >/dev/null 2>&1; then
  # Databases left behind by interrupted runs (Rust tests: sigillo_t_*, browser tests: sigillo_e2e_*).
  psql "$SIGILLO_TEST_POSTGRES_URL" -Atqc "select datname from pg_database where datname like 'sigillo\\_t\\_%' or datname like 'sigillo\\_e2e\\_%'" 2>/dev/null |
    while read -r db; do psql "$SIGILLO_TEST_POSTGRES_URL" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true; done
fi

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "core purity: sigillo-core pulls in no I/O or async runtime"
if cargo tree -p sigillo-core -e normal --prefix none --locked | grep -E '^(tokio|sqlx|axum|reqwest|hyper|mio) '; then
  echo "sigillo-core must stay pure (DESIGN.md: no tokio, sqlx, axum, reqwest, hyper)" >&2
  exit 1
fi
echo "ok"

step "protocol vectors: an independent implementation (Python cryptography) agrees"
python3 crates/sigillo-core/tests/vectors/make_vectors.py --check
step "OATH codes: an independent implementation (Python oath) agrees on the RFC vectors"
python3 crates/sigillo-core/tests/vectors/oath_crosscheck.py --check
step "payments: an independent IBAN implementation (python-stdnum) agrees"
python3 crates/sigillo-core/tests/vectors/payment_crosscheck.py --check

step "legacy password hashes: the independent tools that made them (bcrypt, hashlib, passlib, argon2-cffi) agree"
python3 crates/sigillo-core/tests/vectors/legacy_crosscheck.py --check

step "rust tests (SQLite${SIGILLO_TEST_POSTGRES_URL:+ and PostgreSQL})"
cargo test --workspace --locked

step "browser tests (Chromium)"
cargo build -p sigillo-server -p sigillo-device -p sigillo-3ds-sim --locked
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export SIGILLO_BIN="$target_dir/debug/sigillo"
export SIGILLO_DEVICE_BIN="$target_dir/debug/sigillo-device"
export SIGILLO_3DS_SIM_BIN="$target_dir/debug/sigillo-3ds-sim"
(cd e2e && node --test)

if [ -n "${SIGILLO_TEST_POSTGRES_URL:-}" ]; then
  # Issue 4's flows (push login, payments, devices, and the password + SMS login) and
  # issue 5's 3-D Secure challenge and card portal, and issue 6's activation, once more with each server on its own fresh PostgreSQL
  # database (sigillo_e2e_*, dropped afterwards); artefacts in e2e/artifacts/postgres/.
  step "browser tests on PostgreSQL (Chromium)"
  (cd e2e && SIGILLO_E2E_POSTGRES_URL="$SIGILLO_TEST_POSTGRES_URL" node --test \
    tests/login.test.js tests/push-login.test.js tests/payments.test.js tests/devices.test.js \
    tests/acs.test.js tests/portal.test.js tests/activation.test.js)
fi
