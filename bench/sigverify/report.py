#!/usr/bin/env python3
"""Markdown report for bench/sigverify/run.sh. Standard library only.

  report.py --target PCT --date D --rev R --ring V --secs S [--other-max PCT] [--sig-args A]
            [--json-out FILE] RUN.json ...

Each RUN.json is one `sig_rate --json` line (mode raw, server, overhead or raw-varied)
with the CPU accounting of bench/login/bench.py under "cpu". Rounds are paired in the
order given: the k-th raw and the k-th server measurement at a thread count make round k.
A round in which other processes took more than --other-max % of the machine during its
raw or its server measurement is "disturbed" and left out of the means, unless no clean
round remains. The target is judged on the ratio of the mean rates. Exit status 1 if it
is missed at any thread count.
"""

import argparse
import json
import os
import statistics
import sys


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def half_spread(xs):
    """Half the max–min range, in % of the mean: "±x %"."""
    return 50 * (max(xs) - min(xs)) / statistics.mean(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=80.0)
    ap.add_argument("--date", default="")
    ap.add_argument("--rev", default="")
    ap.add_argument("--ring", default="")
    ap.add_argument("--secs", default="")
    ap.add_argument("--sig-args", default="")
    ap.add_argument("--other-max", type=float, default=5.0)
    ap.add_argument("--json-out", default="")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()

    by_threads = {}
    for path in a.runs:
        with open(path) as f:
            m = json.load(f)
        g = by_threads.setdefault(m["threads"], {"raw": [], "server": [], "overhead": [], "raw-varied": []})
        g[m["mode"]].append(m)
    if not by_threads:
        print("no measurements")
        sys.exit(2)
    first = next(iter(by_threads.values()))["server"][0]
    sealed = "the knowledge key opened from its sealed form, " if first.get("sealed_knowledge_key") else ""
    extra = f", sig_rate flags `{a.sig_args}`" if a.sig_args.strip() else ""

    print(f"## bench/sigverify: {os.cpu_count()} × {cpu_model()}, ring {a.ring}")
    print()
    print(f"{a.date}, rev {a.rev}; {a.secs} s per measurement{extra}. Server path = a `POST /device/v1/login` "
          f"with possession + knowledge signatures: header parse, challenge decode, {sealed}two request messages "
          f"({first['body_bytes']}-byte JSON body), two `keys::verify`; {first['requests']} prepared requests "
          "cycled, no database. Rates in verifications/s (2 per request).")
    print()
    print("| threads | rounds used | raw verify/s, mean (min–max) | server path verify/s, mean (min–max) | ratio "
          "| per-round ratios | target |")
    print("|---|---|---|---|---|---|---|")
    round_rows = []
    summary = []
    diag_rows = []
    status = 0
    for t in sorted(by_threads):
        g = by_threads[t]
        pairs = list(zip(g["raw"], g["server"]))
        if not pairs:
            continue
        other = lambda m: m["cpu"]["other_pct_of_machine"]
        clean = [max(other(r), other(s)) <= a.other_max for r, s in pairs]
        used = [p for p, c in zip(pairs, clean) if c] or pairs
        for k, ((r, s), c) in enumerate(zip(pairs, clean), 1):
            rv, sv = r["verifications_per_sec"], s["verifications_per_sec"]
            round_rows.append(f"| {t} | {k} | {rv:,.0f} ({other(r):.1f} %) | {sv:,.0f} ({other(s):.1f} %) "
                              f"| {100 * sv / rv:.1f} % | {'yes' if c or not any(clean) else 'no, disturbed'} |")
        raw = [r["verifications_per_sec"] for r, _ in used]
        srv = [s["verifications_per_sec"] for _, s in used]
        raw_mean, srv_mean = statistics.mean(raw), statistics.mean(srv)
        ratio = srv_mean / raw_mean
        rounds = [s / r for r, s in zip(raw, srv)]
        ok = 100 * ratio >= a.target
        status |= 0 if ok else 1
        note = "" if any(clean) else " (all disturbed)"
        print(f"| {t} | {len(used)} of {len(pairs)}{note} "
              f"| {raw_mean:,.0f} ({min(raw):,.0f}–{max(raw):,.0f}, ±{half_spread(raw):.1f} %) "
              f"| {srv_mean:,.0f} ({min(srv):,.0f}–{max(srv):,.0f}, ±{half_spread(srv):.1f} %) "
              f"| **{100 * ratio:.1f} %** | {100 * min(rounds):.1f}–{100 * max(rounds):.1f} % "
              f"| {'PASS' if ok else 'MISS'} (≥ {a.target:.0f} %) |")
        # CPU time per verification on one thread: threads / rate.
        raw_us, srv_us = 1e6 * t / raw_mean, 1e6 * t / srv_mean
        over = g["overhead"][0]["us_per_verification"] if g["overhead"] else None
        varied = g["raw-varied"][0]["us_per_verification"] if g["raw-varied"] else None
        diag_rows.append((t, raw_us, varied, srv_us, over))
        summary.append({"threads": t, "raw_per_sec": raw, "server_per_sec": srv, "raw_mean": round(raw_mean, 1),
                        "server_mean": round(srv_mean, 1), "ratio": round(ratio, 4),
                        "round_ratios": [round(x, 4) for x in rounds], "raw_us": round(raw_us, 3),
                        "server_us": round(srv_us, 3), "raw_varied_us": varied, "overhead_us": over,
                        "rounds_used": len(used), "rounds": len(pairs), "target_pct": a.target, "pass": ok})
    print()
    print(f"Rounds (verifications/s, in brackets the share of the machine other processes took; "
          f"a round is used if both stayed ≤ {a.other_max:.0f} %):")
    print()
    print("| threads | round | raw | server path | ratio | used |")
    print("|---|---|---|---|---|---|")
    for row in round_rows:
        print(row)
    fmt = lambda x: "–" if x is None else f"{x:.2f}"
    print()
    print("Per verification, CPU µs on one thread (threads / rate); diagnostics are single runs, informational:")
    print()
    print("| threads | raw (fixed triple) | raw-varied (2048 triples) | server path | server − raw | overhead mode "
          "(server path without the two verifies) |")
    print("|---|---|---|---|---|---|")
    for t, raw_us, varied, srv_us, over in diag_rows:
        print(f"| {t} | {raw_us:.2f} | {fmt(varied)} | {srv_us:.2f} | {srv_us - raw_us:+.2f} | {fmt(over)} |")
    print()
    print("Informational, not part of the target: the full signed request through HTTP (axum, headers, the "
          "challenge consumed and the failure counter reserved in the database, audit) is out of scope here; "
          "bench/login measures what HTTP and the database cost around a login.")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"date": a.date, "rev": a.rev, "ring": a.ring, "secs": a.secs, "sig_args": a.sig_args,
                       "results": summary}, f)
            f.write("\n")
    sys.exit(status)


if __name__ == "__main__":
    main()
