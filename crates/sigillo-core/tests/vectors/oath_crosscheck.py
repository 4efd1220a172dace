#!/usr/bin/env python3
"""Cross-check of sigillo's OATH vectors with an independent implementation: the `oath` package.

Issue 4 (P4, P5): the three JSON files beside this script hold every test vector of RFC 4226
Appendix D, RFC 6238 Appendix B and RFC 6287 Appendix C, transcribed from the RFCs, plus
sigillo's own cases (the login TOTP, the transaction OCRA suite and a few suites the RFC has
no vector for). The Rust test `crates/sigillo-core/tests/oath.rs` reproduces all of them with
`sigillo_core::oath`; this script recomputes all of them with the Python `oath` package
(https://pypi.org/project/oath/, by Benjamin Dauvergne), which shares no code with the Rust.

    python3 crates/sigillo-core/tests/vectors/oath_crosscheck.py          # fills in sigillo's cases
    python3 crates/sigillo-core/tests/vectors/oath_crosscheck.py --check  # exits 1 on any mismatch

Without --check the script recomputes the expected values of sigillo's own cases (the groups
`sigillo_login`, `extra` and `sigillo_transaction`) from their inputs and rewrites the files;
it never touches an RFC value. If an RFC value disagrees, re-read the RFC: do not edit it to fit.

What the `oath` package cannot do, and how it is covered instead:
- hexadecimal challenges with an odd number of digits: `oath` decodes them with
  `bytes.fromhex`, which refuses them. RFC 6287's reference implementation pads the hex string
  with '0' on the right; `ocra_reference` below does the same with `hmac` and `hashlib`, and
  is used for the cases marked `"implementation": "reference"`.
- a PIN given as its hash (`P_digest`): `oath` 1.4 reads `digest_size` from the hashlib
  constructor it keeps for `P`, which has none (AttributeError). `ocra_with_package` wraps
  that constructor in `_SizedHash` so the package's own code path runs unchanged otherwise,
  and passes the hash as bytes (as hex, the package calls `bytes.fromhex` on bytes: TypeError).

Requires: python3 -m pip install oath
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any, Callable

try:
    import oath
except ImportError:  # pragma: no cover - environment problem, not a vector problem
    sys.exit("oath_crosscheck.py needs the `oath` package: python3 -m pip install oath")

HERE = Path(__file__).resolve().parent
RFC4226 = HERE / "rfc4226.json"
RFC6238 = HERE / "rfc6238.json"
RFC6287 = HERE / "rfc6287.json"

HASHES: dict[str, Callable[..., Any]] = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
TRANSACTION_SUITE = "OCRA-1:HOTP-SHA256-8:QH64"


class Checker:
    """Counts comparisons and remembers the mismatches."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []

    def expect(self, group: str, what: str, expected: Any, actual: Any) -> None:
        self.counts[group] = self.counts.get(group, 0) + 1
        if expected != actual:
            self.failures.append(f"{group}: {what}: the file says {expected!r}, recomputed {actual!r}")


# --- RFC 4226 ---------------------------------------------------------------------------------


def check_rfc4226(data: dict[str, Any], checker: Checker) -> None:
    key = data["secret"]  # `oath.hotp` takes the key as hex
    digits = data["digits"]
    assert data["hash"] == "SHA1"
    for case in data["cases"]:
        count = case["count"]
        what = f"count {count}"
        checker.expect("rfc4226", what + " HMAC", case["hmac"], oath.hotp(key, count, format="hex-notrunc"))
        checker.expect("rfc4226", what + " truncated hex", case["truncated_hex"], oath.hotp(key, count, format="hex"))
        checker.expect("rfc4226", what + " truncated", str(case["truncated"]), oath.hotp(key, count, format="dec"))
        checker.expect("rfc4226", what + " HOTP", case["hotp"], oath.hotp(key, count, format=f"dec{digits}"))


# --- RFC 6238 ---------------------------------------------------------------------------------


def totp(key_hex: str, hash_name: str, digits: int, step: int, time: int) -> str:
    return oath.totp(key_hex, format=f"dec{digits}", period=step, t=time, hash=HASHES[hash_name])


def check_rfc6238(data: dict[str, Any], checker: Checker) -> None:
    assert data["t0"] == 0
    step, digits = data["step"], data["digits"]
    for case in data["cases"]:
        what = f"{case['mode']} at {case['time']}"
        checker.expect("rfc6238", what + " T", case["t"], f"{case['time'] // step:016X}")
        actual = totp(data["seeds"][case["mode"]], case["mode"], digits, step, case["time"])
        checker.expect("rfc6238", what, case["totp"], actual)
    login = data["sigillo_login"]
    for case in login["cases"]:
        actual = totp(login["key"], login["hash"], login["digits"], login["step"], case["time"])
        checker.expect("sigillo_login", f"at {case['time']}", case["totp"], actual)
        checker.expect("sigillo_login", f"step at {case['time']}", case["step"], case["time"] // login["step"])


def fill_rfc6238(data: dict[str, Any]) -> None:
    login = data["sigillo_login"]
    for case in login["cases"]:
        case["step"] = case["time"] // login["step"]
        case["totp"] = totp(login["key"], login["hash"], login["digits"], login["step"], case["time"])


# --- RFC 6287 ---------------------------------------------------------------------------------


class _SizedHash:
    """A hashlib constructor that also has the `digest_size` the package asks it for."""

    def __init__(self, constructor: Callable[..., Any]) -> None:
        self.constructor = constructor
        self.digest_size = constructor().digest_size

    def __call__(self, *args: Any) -> Any:
        return self.constructor(*args)


def ocra_with_package(suite_text: str, key: bytes, case: dict[str, Any]) -> str:
    """One OCRA response with the `oath` package."""
    suite = oath.str2ocrasuite(suite_text)
    if suite.data_input.P and not hasattr(suite.data_input.P, "digest_size"):
        suite.data_input.P = _SizedHash(suite.data_input.P)  # see the module doc
    kwargs: dict[str, Any] = {}
    if "c" in case:
        kwargs["C"] = case["c"]
    questions = case["q"]
    if len(questions) == 1:
        kwargs["Q"] = questions[0]
    else:  # mutual challenge-response: the package takes the concatenation as `Qsc`
        kwargs["Qsc"] = "".join(questions)
    if "p" in case:
        kwargs["P"] = case["p"]
    if "p_hash" in case:
        kwargs["P_digest"] = bytes.fromhex(case["p_hash"])  # bytes: see the module doc
    if "s" in case:
        kwargs["S"] = bytes.fromhex(case["s"])
    if "t" in case:
        kwargs["T_precomputed"] = int(case["t"], 16)
    if "time" in case:
        # The package parses the suite's step (suite.data_input.T, in seconds) itself.
        kwargs["T_precomputed"] = case["time"] // suite.data_input.T
    return suite(key, **kwargs)


def ocra_reference(suite_text: str, key: bytes, case: dict[str, Any]) -> str:
    """A small OCRA for what the package cannot do (see the module doc): one-way challenges
    only, with the DataInput of RFC 6287 section 5 built as the reference implementation of
    its Appendix A builds it (the question as hex, right-padded with '0' to 256 digits)."""
    _, function, inputs = suite_text.split(":")
    _, hash_name, digits = function.split("-")
    assert inputs.startswith("Q") and "-" not in inputs and len(case["q"]) == 1, "one-way Q-only suites"
    question = case["q"][0]
    if inputs[1] == "N":
        question = f"{int(question):X}"
    elif inputs[1] == "A":
        question = question.encode("ascii").hex()
    message = suite_text.encode("ascii") + b"\0" + bytes.fromhex(question.ljust(256, "0"))
    mac = hmac.new(key, message, HASHES[hash_name]).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10 ** int(digits)).zfill(int(digits))


def ocra(suite_text: str, key: bytes, case: dict[str, Any]) -> str:
    if case.get("implementation") == "reference":
        return ocra_reference(suite_text, key, case)
    return ocra_with_package(suite_text, key, case)


def case_label(case: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in case.items() if k not in ("ocra", "implementation"))


def check_rfc6287(data: dict[str, Any], checker: Checker) -> None:
    keys = {name: bytes.fromhex(value) for name, value in data["keys"].items()}
    checker.expect("rfc6287", "PIN hash", data["pin_sha1"], hashlib.sha1(data["pin"].encode()).hexdigest())
    for group in data["groups"]:
        for case in group["cases"]:
            what = f"{group['section']} {group['suite']} {case_label(case)}"
            checker.expect("rfc6287", what, case["ocra"], ocra(group["suite"], keys[group["key"]], case))
    for group in data["extra"]["groups"]:
        for case in group["cases"]:
            what = f"{group['suite']} {case_label(case)}"
            checker.expect("extra", what, case["ocra"], ocra(group["suite"], keys[group["key"]], case))
    transaction = data["sigillo_transaction"]
    assert transaction["suite"] == TRANSACTION_SUITE
    for case in transaction["cases"]:
        challenge, code = transaction_code(bytes.fromhex(case["key"]), bytes.fromhex(case["operation"]))
        checker.expect("sigillo_transaction", case["name"] + " challenge", case["challenge"], challenge)
        checker.expect("sigillo_transaction", case["name"] + " code", case["code"], code)


def transaction_code(key: bytes, operation: bytes) -> tuple[str, str]:
    """sigillo's transaction OTP: the challenge is the SHA-256 of the operation bytes in hex."""
    challenge = hashlib.sha256(operation).hexdigest()
    return challenge, oath.str2ocrasuite(TRANSACTION_SUITE)(key, Q=challenge)


def fill_rfc6287(data: dict[str, Any]) -> None:
    keys = {name: bytes.fromhex(value) for name, value in data["keys"].items()}
    for group in data["extra"]["groups"]:
        for case in group["cases"]:
            case["ocra"] = ocra(group["suite"], keys[group["key"]], case)
    for case in data["sigillo_transaction"]["cases"]:
        case["challenge"], case["code"] = transaction_code(bytes.fromhex(case["key"]), bytes.fromhex(case["operation"]))


# --- Files ------------------------------------------------------------------------------------


def render(value: Any, indent: int = 0) -> str:
    """JSON with one line per case: objects and lists that hold only scalars (or lists of
    scalars) stay on one line, everything else is indented."""

    def flat(v: Any) -> bool:
        if isinstance(v, dict):
            return all(isinstance(x, list) and all(map(flat, x)) or not isinstance(x, (dict, list)) for x in v.values())
        if isinstance(v, list):
            return all(not isinstance(x, (dict, list)) for x in v)
        return True

    pad, inner = "  " * indent, "  " * (indent + 1)
    if flat(value) and not (isinstance(value, dict) and len(json.dumps(value)) > 130):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {render(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{render(v, indent + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, data: dict[str, Any]) -> None:
    path.write_text(render(data) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="recompute every vector; exit 1 on any mismatch")
    args = parser.parse_args()
    files = {path: load(path) for path in (RFC4226, RFC6238, RFC6287)}
    if not args.check:
        fill_rfc6238(files[RFC6238])
        fill_rfc6287(files[RFC6287])
        for path, data in files.items():
            save(path, data)
            print(f"wrote {path}")
    checker = Checker()
    check_rfc4226(files[RFC4226], checker)
    check_rfc6238(files[RFC6238], checker)
    check_rfc6287(files[RFC6287], checker)
    for failure in checker.failures:
        print(failure, file=sys.stderr)
    total = sum(checker.counts.values())
    summary = ", ".join(f"{group} {count}" for group, count in checker.counts.items())
    if checker.failures:
        print(f"oath_crosscheck: {len(checker.failures)} mismatches out of {total} checks ({summary})", file=sys.stderr)
        return 1
    print(f"oath_crosscheck: all {total} checks agree with the independent implementations ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
