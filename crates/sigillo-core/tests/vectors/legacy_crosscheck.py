#!/usr/bin/env python3
"""Legacy password hashes (issue 6) made by independent tools, for `src/legacy.rs`.

An acquired bank's import file carries each customer's old password hash. This script
writes `legacy_hashes.json` beside it with hashes made by tools that share no code with
sigillo, and the Rust test `crates/sigillo-core/tests/legacy.rs` asserts that sigillo
accepts each hash's password and refuses a wrong one:

- bcrypt (`$2b$`, and `$2a$`/`$2y$` spellings of the same hash): Python's `bcrypt`
  (https://pypi.org/project/bcrypt/, the pyca binding of OpenBSD's code);
- PBKDF2-HMAC-SHA256 as a PHC string (`$pbkdf2-sha256$i=…,l=32$…$…`): the standard
  library's `hashlib.pbkdf2_hmac`, encoded here; and in passlib's own format
  (`$pbkdf2-sha256$ROUNDS$…$…`): `passlib.hash.pbkdf2_sha256`;
- Argon2id, Argon2i and Argon2d PHC strings: `argon2-cffi` (the reference C code);
- salted SHA-256 (`$sha256-salted$SALT_HEX$DIGEST_HEX`, SHA-256(salt ‖ password)):
  `hashlib.sha256`.

Passwords include non-ASCII text and the empty string where the tool allows it.

    python3 crates/sigillo-core/tests/vectors/legacy_crosscheck.py --write  # rewrites the file
    python3 crates/sigillo-core/tests/vectors/legacy_crosscheck.py --check  # exits 1 on a mismatch

Salts are random, so --check cannot regenerate the file: it asks the same tools to verify
every vector in it instead (right password accepted, wrong one refused).

Requires: python3 -m pip install bcrypt argon2-cffi passlib
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from pathlib import Path

import argon2
import bcrypt
from argon2.low_level import Type, hash_secret
from passlib.hash import pbkdf2_sha256

HERE = Path(__file__).resolve().parent
OUT = HERE / "legacy_hashes.json"

PASSWORDS = ["carige2024", "Passw0rd!", "città-è-più", "12345678", "x" * 60]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def pbkdf2_phc(password: str, rounds: int) -> str:
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds, 32)
    return f"$pbkdf2-sha256$i={rounds},l=32${b64(salt)}${b64(dk)}"


def salted_sha256(password: str) -> str:
    salt = os.urandom(8)
    return f"$sha256-salted${salt.hex()}${hashlib.sha256(salt + password.encode()).hexdigest()}"


def argon2_phc(password: str, kind: Type) -> str:
    return hash_secret(password.encode(), os.urandom(16), time_cost=2, memory_cost=1024, parallelism=1,
                       hash_len=32, type=kind).decode()


def make() -> list[dict]:
    vectors = []
    for i, pw in enumerate(PASSWORDS):
        wrong = pw + "x" if i % 2 else pw[:-1] or "x"
        hb = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4 + i % 3)).decode()
        vectors.append({"tool": "bcrypt", "password": pw, "wrong": wrong, "hash": hb})
        vectors.append({"tool": "bcrypt ($2a$ spelling)", "password": pw, "wrong": wrong, "hash": "$2a$" + hb[4:]})
        vectors.append({"tool": "bcrypt ($2y$ spelling)", "password": pw, "wrong": wrong, "hash": "$2y$" + hb[4:]})
        vectors.append({"tool": "hashlib.pbkdf2_hmac", "password": pw, "wrong": wrong,
                        "hash": pbkdf2_phc(pw, 1000 + 500 * i)})
        vectors.append({"tool": "passlib pbkdf2_sha256", "password": pw, "wrong": wrong,
                        "hash": pbkdf2_sha256.using(rounds=1000 + 700 * i).hash(pw)})
        for kind, name in [(Type.ID, "argon2id"), (Type.I, "argon2i"), (Type.D, "argon2d")]:
            vectors.append({"tool": f"argon2-cffi {name}", "password": pw, "wrong": wrong,
                            "hash": argon2_phc(pw, kind)})
        vectors.append({"tool": "hashlib.sha256", "password": pw, "wrong": wrong, "hash": salted_sha256(pw)})
    return vectors


def verify(v: dict, password: str) -> bool:
    h = v["hash"]
    if h.startswith("$2"):
        return bcrypt.checkpw(password.encode(), ("$2b$" + h[4:]).encode())
    if h.startswith("$pbkdf2-sha256$i="):
        _, _, params, salt, dk = h.split("$")
        rounds = int(params.split(",")[0][2:])
        pad = lambda s: s + "=" * (-len(s) % 4)
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(pad(salt)), rounds, 32)
        return got == base64.b64decode(pad(dk))
    if h.startswith("$pbkdf2-sha256$"):
        return pbkdf2_sha256.verify(password, h)
    if h.startswith("$argon2"):
        try:
            return argon2.PasswordHasher().verify(h, password)
        except argon2.exceptions.VerificationError:
            return False
    if h.startswith("$sha256-salted$"):
        _, _, salt, digest = h.split("$")
        return hashlib.sha256(bytes.fromhex(salt) + password.encode()).hexdigest() == digest
    raise ValueError(h)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.write:
        vectors = make()
        OUT.write_text(json.dumps({"vectors": vectors}, ensure_ascii=False, indent=1) + "\n")
        print(f"wrote {len(vectors)} vectors to {OUT}")
    vectors = json.loads(OUT.read_text())["vectors"]
    bad = [v for v in vectors if not verify(v, v["password"]) or verify(v, v["wrong"])]
    for v in bad:
        print(f"mismatch: {v['tool']}: {v['hash']}", file=sys.stderr)
    print(f"{len(vectors) - len(bad)} of {len(vectors)} legacy hashes verified by the tools that made them")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
