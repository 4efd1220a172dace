#!/usr/bin/env python3
"""Cross-check of sigillo's IBAN rules with an independent implementation: python-stdnum.

Issue 4 (P5): `src/payment/iban.rs` holds the SWIFT IBAN registry lengths and ISO 7064
MOD 97-10. This script writes `payment.json` beside it from python-stdnum's `stdnum.iban`
(https://pypi.org/project/python-stdnum/, which ships its own copy of the registry and
shares no code with the Rust), and the Rust test `crates/sigillo-core/tests/payment.rs`
asserts that sigillo gives the file's verdict on every case.

    python3 crates/sigillo-core/tests/vectors/payment_crosscheck.py --write  # rewrites payment.json
    python3 crates/sigillo-core/tests/vectors/payment_crosscheck.py --check  # exits 1 on any mismatch

--check re-asks stdnum about every case in the file and regenerates the file (the random
cases come from a fixed seed) to tell whether it is still what --write makes.

What is in the file:
- `registry`: every country stdnum knows with its IBAN length (the Rust table must equal it);
- `ibans`: published example IBANs, random valid IBANs for every registry country (check
  digits from `stdnum.iban.calc_check_digits`, some in print form or lower case), and
  invalid ones: random substitutions and adjacent transpositions, wrong lengths, countries
  outside the registry. stdnum's verdict (`is_valid(…, check_country=False)`) is the
  expected one.
- the two places where sigillo and stdnum knowingly differ, each asserted both ways:
  `sigillo_stricter` (stdnum accepts, sigillo refuses: separators '-' and '.', which
  stdnum strips, and check digits 00, 01 and 99, which pass MOD 97-10 but which
  ISO 13616-1's computation never yields) and `stdnum_stricter` (sigillo accepts, stdnum
  refuses: a BBAN whose characters do not follow the country's national structure, e.g. a
  letter where the registry says digits; sigillo checks only that the BBAN is
  alphanumeric). Among them are real typos MOD 97-10 misses: a digit typed as a letter
  passes it about once in 97 tries.

National check digits inside the BBAN (Belgium, Spain, France …) are not sigillo's
business, so stdnum is asked with `check_country=False`.

Requires: python3 -m pip install python-stdnum
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

try:
    from stdnum import iban as stdnum_iban
except ImportError:  # pragma: no cover - environment problem, not a vector problem
    print(
        "payment_crosscheck.py needs python-stdnum: python3 -m pip install python-stdnum",
        file=sys.stderr,
    )
    sys.exit(2)

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "payment.json"
SEED = 4  # issue 4
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLIND_SWAPS = {"B1", "1B", "M2", "2M", "X3", "3X"}

# Example IBANs published in the SWIFT IBAN registry and ISO 13616-1. If stdnum refuses
# one, --write stops: fix the typo here, never the verdict.
PUBLISHED = [
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "IT60 X054 2811 1010 0000 0123 456",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "NO93 8601 1117 947",
    "SE45 5000 0000 0583 9825 7466",
    "PL61 1090 1014 0000 0712 1981 2874",
    "DK50 0040 0440 1162 43",
    "FI21 1234 5600 0007 85",
    "LU28 0019 4006 4475 0000",
    "IE29 AIBK 9311 5212 3456 78",
    "PT50 0002 0123 1234 5678 9015 4",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "SA03 8000 0000 6080 1016 7519",
]


def stdnum_valid(text: str) -> bool:
    return stdnum_iban.is_valid(text, check_country=False)


def registry() -> list[tuple[str, int]]:
    """(country, IBAN length) for every entry of stdnum's registry copy."""
    out = []
    for line in (Path(stdnum_iban.__file__).parent / "iban.dat").read_text().splitlines():
        match = re.match(r'^([A-Z]{2}) .*bban="([^"]*)"', line)
        if match:
            bban_length = sum(int(n) for n in re.findall(r"(\d+)!?[nac]", match.group(2)))
            out.append((match.group(1), 4 + bban_length))
    return sorted(out)


def structures() -> dict[str, list[tuple[int, str]]]:
    """country -> [(count, class)] of the BBAN, class n (digits), a (upper), c (alnum)."""
    out = {}
    for line in (Path(stdnum_iban.__file__).parent / "iban.dat").read_text().splitlines():
        match = re.match(r'^([A-Z]{2}) .*bban="([^"]*)"', line)
        if match:
            out[match.group(1)] = [(int(n), k) for n, k in re.findall(r"(\d+)!?([nac])", match.group(2))]
    return out


def random_bban(rng: random.Random, structure: list[tuple[int, str]]) -> str:
    pools = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": ALPHABET}
    return "".join(rng.choice(pools[kind]) for count, kind in structure for _ in range(count))


def with_check_digits(country: str, bban: str) -> str:
    return country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban


def print_form(electronic: str) -> str:
    return " ".join(electronic[i : i + 4] for i in range(0, len(electronic), 4))


def build() -> dict:
    rng = random.Random(SEED)
    lengths = dict(registry())
    shapes = structures()
    ibans = []

    def case(text: str, why: str) -> None:
        ibans.append({"input": text, "valid": stdnum_valid(text), "why": why})

    for text in PUBLISHED:
        if not stdnum_valid(text):
            sys.exit(f"stdnum refuses the published example {text!r}: fix the typo")
        case(text, "published example")

    valid = []
    for country in sorted(shapes):
        for n in range(2):
            electronic = with_check_digits(country, random_bban(rng, shapes[country]))
            valid.append(electronic)
            form = [electronic, print_form(electronic), electronic.lower()][(n + len(valid)) % 3]
            case(form, "random valid IBAN")

    # The errors MOD 97-10 always catches (see the module docs of iban.rs): a digit for
    # another digit, a letter for another letter, and adjacent transpositions except
    # B1, M2 and X3 (and reversed), whose digit expansions are identical ("1B" = "111" = "B1").
    for electronic in rng.sample(valid, 60):
        i = rng.randrange(len(electronic))
        same_class = "0123456789" if electronic[i].isdigit() else ALPHABET[10:]
        c = rng.choice([c for c in same_class if c != electronic[i]])
        case(electronic[:i] + c + electronic[i + 1 :], "one character substituted by one of its kind")
    for electronic in rng.sample(valid, 60):
        choices = [
            i
            for i in range(len(electronic) - 1)
            if electronic[i] != electronic[i + 1] and electronic[i : i + 2] not in BLIND_SWAPS
        ]
        i = rng.choice(choices)
        case(electronic[:i] + electronic[i + 1] + electronic[i] + electronic[i + 2 :], "adjacent characters swapped")
    for electronic in rng.sample(valid, 30):
        country, bban = electronic[:2], electronic[4:]
        longer = with_check_digits(country, bban + rng.choice("0123456789"))
        shorter = with_check_digits(country, bban[:-1])
        case(longer, f"one character too long for {country} (length {lengths[country]})")
        case(shorter, f"one character too short for {country} (length {lengths[country]})")
    for country in ["US", "CA", "AU", "JP", "CN", "IN", "XX", "ZZ", "AX", "GP", "JE"]:
        bban = "".join(rng.choice("0123456789") for _ in range(18))
        case(with_check_digits(country, bban), f"{country} is not a registry country")
    for junk in ["", "GB", "GB82", "GB82 WEST", "82GBWEST12345698765432", "GB82WEST1234569876543!"]:
        case(junk, "not an IBAN")

    sigillo_stricter = []
    for sep in "-.":
        text = "GB82-WEST-1234-5698-7654-32".replace("-", sep)
        sigillo_stricter.append({"input": text, "why": f"'{sep}' as separator: stdnum strips it, sigillo refuses"})
    twins = {"97": "00", "98": "01", "02": "99"}
    found = {}
    n = 0
    while len(found) < 3:
        bban = f"WEST{n:014d}"
        digits = stdnum_iban.calc_check_digits("GB00" + bban)
        if digits in twins and digits not in found:
            found[digits] = f"GB{twins[digits]}{bban}"
        n += 1
    for digits, text in sorted(found.items()):
        sigillo_stricter.append(
            {"input": text, "why": f"check digits {text[2:4]} pass MOD 97-10 (like {digits}) but are outside 02-98"}
        )

    stdnum_stricter = []
    # A digit typed as a letter (or the reverse) lengthens (shortens) the number MOD 97-10
    # works on, so about 1 in 97 such typos passes it. stdnum's structure check refuses
    # those where the registry says digits only; sigillo does not check that structure.
    misses = []
    for electronic in [text.replace(" ", "") for text in PUBLISHED]:
        for i in range(4, len(electronic)):
            if not electronic[i].isdigit():
                continue
            for c in ALPHABET[10:]:
                mutant = electronic[:i] + c + electronic[i + 1 :]
                if stdnum_iban.calc_check_digits(mutant) == mutant[2:4] and not stdnum_valid(mutant):
                    misses.append((electronic, mutant))
    one_each = {electronic: mutant for electronic, mutant in reversed(misses)}
    for electronic, mutant in list(one_each.items())[:5]:
        stdnum_stricter.append(
            {"input": mutant, "why": f"a digit of {electronic} typed as a letter: MOD 97-10 misses it (1 in 97)"}
        )
    for country, bban in [("DE", "37040044053201300A"), ("GB", "1234123456987654AB"), ("NO", "8601111794X")]:
        stdnum_stricter.append(
            {
                "input": with_check_digits(country, bban),
                "why": "letters where the national BBAN structure has digits: sigillo checks only alphanumerics",
            }
        )

    return {
        "description": (
            "IBAN cases for sigillo_core::payment::iban, made by payment_crosscheck.py --write from python-stdnum; "
            "`valid` is stdnum's verdict (check_country=False). Do not edit by hand."
        ),
        "registry": [[country, length] for country, length in registry()],
        "ibans": ibans,
        "sigillo_stricter": sigillo_stricter,
        "stdnum_stricter": stdnum_stricter,
    }


def check(data: dict) -> list[str]:
    problems = []
    for c in data["ibans"]:
        if stdnum_valid(c["input"]) != c["valid"]:
            problems.append(f"stdnum says {not c['valid']} for {c['input']!r} ({c['why']})")
    for c in data["sigillo_stricter"]:
        if not stdnum_valid(c["input"]):
            problems.append(f"sigillo_stricter: stdnum refuses {c['input']!r}, so the case proves nothing")
    for c in data["stdnum_stricter"]:
        if stdnum_valid(c["input"]):
            problems.append(f"stdnum_stricter: stdnum accepts {c['input']!r}")
        electronic = c["input"]
        if stdnum_iban.calc_check_digits(electronic) != electronic[2:4]:
            problems.append(f"stdnum_stricter: {electronic!r} does not pass MOD 97-10")
    if [tuple(r) for r in data["registry"]] != registry():
        problems.append("registry: stdnum's registry differs from the file")
    return problems


def dump(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite payment.json")
    mode.add_argument("--check", action="store_true", help="verify payment.json with stdnum")
    args = parser.parse_args()

    if args.write:
        data = build()
        problems = check(data)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        VECTORS.write_text(dump(data))
        print(f"wrote {VECTORS.name}: {len(data['ibans'])} IBAN cases, {len(data['registry'])} registry countries")
        return 0

    data = json.loads(VECTORS.read_text())
    problems = check(data)
    if dump(build()) != VECTORS.read_text():
        problems.append("payment.json is not what --write makes now (another stdnum release?): re-run --write")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    valid = sum(c["valid"] for c in data["ibans"])
    print(f"ok: stdnum agrees on {len(data['ibans'])} IBAN cases ({valid} valid), "
          f"{len(data['sigillo_stricter']) + len(data['stdnum_stricter'])} known differences, "
          f"{len(data['registry'])} registry countries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
