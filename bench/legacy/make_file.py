#!/usr/bin/env python3
"""Writes an acquired bank's import file for bench/legacy: N rows (CSV or JSON Lines) with
the DESIGN.md columns, each row's password hash one of the independent tools' vectors
(crates/sigillo-core/tests/vectors/legacy_hashes.json) in turn, so every format is parsed
and checked, distinct customer codes, phones and emails.

    python3 bench/legacy/make_file.py ROWS OUT.csv|OUT.jsonl
"""

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    rows, out = int(sys.argv[1]), Path(sys.argv[2])
    vectors = json.loads((ROOT / "crates/sigillo-core/tests/vectors/legacy_hashes.json").read_text())["vectors"]
    hashes = [v["hash"] for v in vectors]
    tokens = ["app", "hardware", "none"]
    jsonl = out.suffix in (".jsonl", ".ndjson")
    with out.open("w", buffering=1 << 20, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        if not jsonl:
            writer.writerow(["legacy_code", "password_hash", "phone", "email", "name", "token"])
        for i in range(rows):
            code, phone, email = f"C{i:09d}", f"+39333{i:07d}", f"cliente{i}@example.it"
            name, token, h = f"Cliente {i}", tokens[i % 3], hashes[i % len(hashes)]
            if jsonl:
                f.write(json.dumps({"legacy_code": code, "password_hash": h, "phone": phone, "email": email,
                                    "name": name, "token": token}) + "\n")
            else:
                writer.writerow([code, h, phone, email, name, token])  # quotes the PHC strings' commas


if __name__ == "__main__":
    main()
