#!/usr/bin/env python3
"""Helpers for bench/login/run.sh: CPU accounting from /proc, idle waiting, parsing and
the final report. Standard library only.

  bench.py snap FILE                       snapshot of /proc/stat and every process's CPU time
  bench.py cpu A B [name=PID ...] [name=times:FILE ...]
                                           CPU used between two snapshots, as JSON
  bench.py idle MAX_WAIT_S THRESHOLD_PCT   wait (bounded) until the machine is nearly idle
  bench.py users JSONL OUT                 `sigillo admin user create --json` lines -> "code password"
  bench.py pgurl URL DBNAME                URL with its database replaced
  bench.py free-port                       a free TCP port on 127.0.0.1
  bench.py report SUMMARY_JSON             markdown summary of a run
  bench.py summarize ...                   see run.sh
"""

import json
import os
import re
import socket
import sys
import time
import urllib.parse

TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def read_stat():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is already inside user)
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return {"busy": busy, "total": busy + idle + iowait, "steal": steal, "iowait": iowait}


def read_procs():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                line = f.read()
        except OSError:
            continue
        lp, rp = line.find("("), line.rfind(")")
        comm = line[lp + 1 : rp]
        rest = line[rp + 2 :].split()
        # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
        procs[pid] = [comm, int(rest[11]) + int(rest[12])]
    return procs


def snapshot():
    return {"t": time.monotonic(), "stat": read_stat(), "procs": read_procs()}


def parse_times(path):
    """CPU seconds of a subshell's children, from bash's `times` builtin output."""
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    total = 0.0
    for m in re.finditer(r"(\d+)m([\d.]+)s", lines[-1]):
        total += int(m.group(1)) * 60 + float(m.group(2))
    return total


def cpu_between(a, b, named):
    wall = b["t"] - a["t"]
    busy = (b["stat"]["busy"] - a["stat"]["busy"]) / TICK
    steal = (b["stat"]["steal"] - a["stat"]["steal"]) / TICK
    iowait = (b["stat"]["iowait"] - a["stat"]["iowait"]) / TICK
    by_comm = {}
    by_pid = {}
    for pid, (comm, ticks) in b["procs"].items():
        before = a["procs"].get(pid)
        delta = ticks - (before[1] if before and before[0] == comm else 0)
        if delta > 0:
            by_comm[comm] = by_comm.get(comm, 0) + delta / TICK
            by_pid[pid] = delta / TICK
    out = {"wall_s": round(wall, 3), "ncpu": NCPU, "machine_busy_s": round(busy, 2),
           "machine_busy_pct": round(100 * busy / (wall * NCPU), 1), "steal_s": round(steal, 2),
           "iowait_s": round(iowait, 2), "named": {}}
    attributed = 0.0
    for spec in named:
        name, _, what = spec.partition("=")
        if what.startswith("times:"):
            secs = parse_times(what[len("times:"):])
        else:
            secs = by_pid.pop(what, 0.0)
        out["named"][name] = round(secs, 2)
        attributed += secs
    pg = sum(v for pid, v in by_pid.items() if b["procs"][pid][0].startswith("postgres"))
    if pg:
        out["named"]["postgres"] = round(pg, 2)
        attributed += pg
    # Processes that are neither ours nor the database: other users of the machine
    # (a concurrent cargo build shows up here), plus short-lived processes that were
    # born and died inside the window, which only /proc/stat sees.
    out["other_s"] = round(max(busy - attributed, 0.0), 2)
    out["other_pct_of_machine"] = round(100 * out["other_s"] / (wall * NCPU), 1)
    others = {}
    for pid, secs in by_pid.items():
        comm = b["procs"][pid][0]
        if comm.startswith("postgres"):
            continue
        others[comm] = others.get(comm, 0) + secs
    out["top_other"] = {k: round(v, 2) for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:5] if v >= 0.05}
    return out


def cmd_idle(max_wait, threshold):
    """Waits until a 2-second sample shows the machine at most THRESHOLD % busy, or
    MAX_WAIT seconds have passed. Prints what it saw; never fails."""
    deadline = time.monotonic() + max_wait
    start = time.monotonic()
    while True:
        a = read_stat()
        time.sleep(2)
        b = read_stat()
        total = b["total"] - a["total"]
        pct = 100.0 * (b["busy"] - a["busy"]) / total if total else 0.0
        waited = time.monotonic() - start
        if pct <= threshold:
            print(f"machine idle ({pct:.0f}% busy) after {waited:.0f} s")
            return
        if time.monotonic() >= deadline:
            print(f"WARNING: machine still {pct:.0f}% busy after {waited:.0f} s; measuring anyway")
            return
        if int(waited) % 20 < 2:
            print(f"  machine {pct:.0f}% busy, waiting (up to {max_wait:.0f} s)...", flush=True)


def cmd_users(src, dst):
    n = 0
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            env = json.loads(line)
            out.write(f"{env['user_code']} {env['initial_password']}\n")
            n += 1
    print(n)


def cmd_pgurl(url, db):
    u = urllib.parse.urlsplit(url)
    print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, u.fragment)))


def cmd_free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def parse_wrk(path):
    vals = {}
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH "):
                _, k, v = line.split()
                vals[k] = float(v)
    return vals


def cmd_summarize(args):
    """summarize OUT key=value... raw_before=F raw_after=F raw_1t=F wrk=F cpu_http=F cpu_raw=F"""
    out_path = args[0]
    kv = dict(a.split("=", 1) for a in args[1:])
    files = {k: kv.pop(k) for k in list(kv) if k in ("raw_before", "raw_after", "raw_1t", "wrk", "cpu_http",
                                                      "cpu_raw_before", "cpu_raw_after")}
    s = {"meta": kv}
    for k in ("raw_before", "raw_after", "raw_1t"):
        if files.get(k) and os.path.exists(files[k]):
            with open(files[k]) as f:
                s[k] = json.loads(f.read().strip().splitlines()[-1])
    for k in ("cpu_http", "cpu_raw_before", "cpu_raw_after"):
        if files.get(k) and os.path.exists(files[k]):
            with open(files[k]) as f:
                s[k] = json.load(f)
    w = parse_wrk(files["wrk"])
    dur = w["duration_us"] / 1e6
    http = {
        "duration_s": round(dur, 2),
        "requests": int(w["requests"]),
        "ok": int(w["ok"]),
        "non200": int(w["non200"]),
        "socket_errors": int(w["socket_errors"]),
        "logins_per_s": round(w["ok"] / dur, 2),
        "latency_ms": {k[len("latency_"):-len("_us")]: round(v / 1000, 1) for k, v in w.items()
                       if k.startswith("latency_")},
    }
    if http["ok"] + http["non200"] != http["requests"]:
        http["count_mismatch"] = True
    s["http"] = http
    raws = [s[k]["verifications_per_sec"] for k in ("raw_before", "raw_after") if k in s]
    raw = sum(raws) / len(raws)
    s["raw_rate"] = round(raw, 2)
    s["raw_spread_pct"] = round(100 * (max(raws) - min(raws)) / raw, 1) if len(raws) > 1 else 0.0
    s["ratio"] = round(http["logins_per_s"] / raw, 3)
    cpu = s.get("cpu_http")
    if cpu:
        capacity = cpu["wall_s"] * cpu["ncpu"]
        named = cpu["named"]
        server = named.get("server", 0.0)
        loadgen = named.get("wrk", 0.0)
        pg = named.get("postgres", 0.0)
        logins = http["ok"] or 1
        # What one verification costs in CPU when every core hashes (the raw run).
        hash_cpu_ms = 1000 * s["raw_before"]["threads"] / raw
        a = {
            "server_cpu_pct_of_machine": round(100 * server / capacity, 1),
            "loadgen_cpu_pct_of_machine": round(100 * loadgen / capacity, 1),
            "postgres_cpu_pct_of_machine": round(100 * pg / capacity, 1),
            "other_cpu_pct_of_machine": cpu["other_pct_of_machine"],
            "idle_pct_of_machine": round(100 - cpu["machine_busy_pct"], 1),
            "server_cpu_ms_per_login": round(1000 * server / logins, 2),
            "hash_cpu_ms_per_verify_raw": round(hash_cpu_ms, 2),
            "server_non_hash_cpu_ms_per_login": round(1000 * server / logins - hash_cpu_ms, 2),
            "loadgen_cpu_ms_per_login": round(1000 * loadgen / logins, 2),
            "postgres_cpu_ms_per_login": round(1000 * pg / logins, 2),
        }
        # The rate the server would reach if the load generator (and the database, and
        # anyone else) ran elsewhere: the machine's CPU time left to the server only.
        share = server / capacity
        a["ratio_per_server_cpu_share"] = round(s["ratio"] / share, 3) if share else None
        s["analysis"] = a
    with open(out_path, "w") as f:
        json.dump(s, f, indent=2)
    cmd_report(out_path)


def cmd_report(path):
    with open(path) as f:
        s = json.load(f)
    m = s["meta"]
    h = s["http"]
    rb = s.get("raw_before", {})
    lines = []
    lines.append(f"### {m.get('backend', '?')}, {m.get('connections')} connections — {m.get('date', '')}, rev {m.get('rev', '?')}")
    lines.append("")
    lines.append(f"- argon2id m={rb.get('memory_kib')} KiB t={rb.get('iterations')} p={rb.get('parallelism')}; "
                 f"{m.get('users')} users; wrk -t{m.get('wrk_threads')} -c{m.get('connections')} "
                 f"-d{m.get('duration')}s (after a {m.get('warmup')} s warm-up)")
    raw_parts = [f"{s[k]['verifications_per_sec']:.2f}/s ({k.replace('raw_', '')}, {s[k]['threads']} thread{'s' if s[k]['threads'] > 1 else ''})"
                 for k in ("raw_before", "raw_after", "raw_1t") if k in s]
    lines.append(f"- raw verify rate: {'; '.join(raw_parts)}; reference = mean of before/after = "
                 f"**{s['raw_rate']:.2f}/s** (spread {s['raw_spread_pct']}%)")
    lat = h["latency_ms"]
    lines.append(f"- HTTP: {h['ok']} logins in {h['duration_s']} s = **{h['logins_per_s']:.2f} logins/s**; "
                 f"latency p50 {lat.get('p50')} ms, p90 {lat.get('p90')} ms, p99 {lat.get('p99')} ms, "
                 f"max {lat.get('max')} ms; non-200: **{h['non200']}**, socket errors: {h['socket_errors']}")
    verdict = "meets" if s["ratio"] >= 0.9 else "MISSES"
    lines.append(f"- ratio HTTP / raw = **{100 * s['ratio']:.1f} %** ({verdict} the 90 % target)")
    a = s.get("analysis")
    if a:
        lines.append(f"- CPU during the HTTP run (share of {s['cpu_http']['ncpu']} cores × "
                     f"{s['cpu_http']['wall_s']} s): server {a['server_cpu_pct_of_machine']}%, "
                     f"wrk {a['loadgen_cpu_pct_of_machine']}%, postgres {a['postgres_cpu_pct_of_machine']}%, "
                     f"other processes {a['other_cpu_pct_of_machine']}%, idle {a['idle_pct_of_machine']}%, "
                     f"steal {s['cpu_http'].get('steal_s', 0)} s")
        lines.append(f"- per login: server {a['server_cpu_ms_per_login']} ms CPU, of which a raw verification "
                     f"costs {a['hash_cpu_ms_per_verify_raw']} ms → {a['server_non_hash_cpu_ms_per_login']} ms "
                     f"outside Argon2; wrk {a['loadgen_cpu_ms_per_login']} ms; postgres "
                     f"{a['postgres_cpu_ms_per_login']} ms")
        if a.get("ratio_per_server_cpu_share"):
            lines.append(f"- ratio normalised to the CPU share the server got: "
                         f"{100 * a['ratio_per_server_cpu_share']:.1f} %")
        top = s["cpu_http"].get("top_other")
        if top:
            lines.append(f"- other processes seen during the HTTP run (CPU s): {top}")
    for k in ("cpu_raw_before", "cpu_raw_after"):
        c = s.get(k)
        if c and c["other_pct_of_machine"] > 3:
            lines.append(f"- WARNING: other processes used {c['other_pct_of_machine']}% of the machine during "
                         f"{k[4:]} ({c.get('top_other')}): the raw figure is low")
    if s.get("cpu_http", {}).get("other_pct_of_machine", 0) > 3:
        lines.append("- WARNING: other processes were busy during the HTTP run: the HTTP figure is low")
    print("\n".join(lines))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "snap":
        with open(args[0], "w") as f:
            json.dump(snapshot(), f)
    elif cmd == "cpu":
        with open(args[0]) as f:
            a = json.load(f)
        with open(args[1]) as f:
            b = json.load(f)
        print(json.dumps(cpu_between(a, b, args[2:])))
    elif cmd == "idle":
        cmd_idle(float(args[0]), float(args[1]))
    elif cmd == "users":
        cmd_users(args[0], args[1])
    elif cmd == "pgurl":
        cmd_pgurl(args[0], args[1])
    elif cmd == "free-port":
        cmd_free_port()
    elif cmd == "summarize":
        cmd_summarize(args)
    elif cmd == "report":
        cmd_report(args[0])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
