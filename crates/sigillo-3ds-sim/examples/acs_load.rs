//! Load generator for `bench/acs` (issue 5): AReq → ARes per second and latency over HTTP
//! against an ACS's `POST /3ds/v2/areq`, every answer checked.
//!
//! ```text
//! acs_load --server http://127.0.0.1:PORT --pans PANS_FILE --mix unknown|challenge|lowvalue
//!     [--amount MINOR] [--connections 32] [--secs 10] [--warmup 2] [--threads 1]
//!     [--server-pid PID] [--ds-base http://127.0.0.1:9]
//! ```
//!
//! Closed loop: `--connections` tasks, each with its own HTTP/1.1 connection (one
//! `reqwest::Client` with one idle slot per task), send an AReq, read the whole answer,
//! check it, and send the next. Every AReq is built by the simulator's own
//! [`build_areq`] (browser channel, EMV 3DS 2.2.0) with a fresh UUIDv4
//! `threeDSServerTransID` and `dsTransID` (the ACS refuses a repeated `dsTransID`, Erro
//! 305); cards are taken round-robin from `PANS_FILE` (one PAN a line) through one shared
//! counter, so concurrent AReqs almost never name the same card.
//!
//! Mixes (EUR, `--amount` in cents):
//! - `unknown`: PANs the ACS does not hold → ARes `N`, reason 08; no write.
//! - `challenge`: known cards, 49.99 EUR (> 30 EUR, no exemption) → ARes `C` with `acsURL`;
//!   one transaction row written per AReq.
//! - `lowvalue`: known cards, 1.00 EUR → `Y` (RTS art. 16 low-value exemption, with
//!   `authenticationValue` and `eci`) while the card's counters allow (with the default
//!   limits: ≤ 30 EUR each and cumulative ≤ 100 EUR or ≤ 5 purchases since the last SCA,
//!   this purchase included), then `C`. Counted per card: a `Y` beyond the card's
//!   allowance is a mismatch, and at the end each card must have had exactly
//!   min(allowance, its AReqs) `Y`s. Assumes the cards' counters start at zero (run.sh
//!   restores the database before each run).
//!
//! Every answer must be HTTP 200, `messageType` ARes, echo `threeDSServerTransID`,
//! `dsTransID` and `messageVersion`, carry a UUID `acsTransID` and the expected
//! `transStatus`; anything else counts as a mismatch (the first few are printed).
//!
//! After `--warmup` s, answers that arrive during the next `--secs` s are counted, with
//! their latency (send → whole body read); then the tasks stop sending and wait for their
//! AReqs in flight (nothing is cancelled: bench/RESULTS.md, the cancellation bug), whose
//! answers are still checked. Latencies are kept exactly (one `u32` of µs per answer) and
//! sorted for the percentiles. Over the measured window: the server's CPU (from
//! `/proc/PID/stat`) and context switches (summed over `/proc/PID/task/*/status`), this
//! process's CPU, what other processes took of the machine (`/proc/stat`), and the load
//! average. One JSON object on stdout; progress on stderr.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use sigillo_3ds_sim::Purchase;
use sigillo_3ds_sim::purchase::{AreqContext, build_areq};
use sigillo_3ds_sim::wire::{is_uuid, str_field};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Linux's USER_HZ, the unit of /proc/*/stat times.
const TICK: f64 = 100.0;
/// RTS art. 16 as sigillo's defaults configure it (`acs.low_value_*`).
const LV_MAX_CENTS: u64 = 3_000;
const LV_CUMULATIVE_MAX_CENTS: u64 = 10_000;
const LV_MAX_COUNT: u64 = 5;

#[derive(Parser, Debug)]
#[command(about = "bench/acs load generator")]
struct Args {
    #[arg(long)]
    server: String,
    /// One PAN a line.
    #[arg(long)]
    pans: PathBuf,
    #[arg(long, value_parser = ["unknown", "challenge", "lowvalue"])]
    mix: String,
    /// Purchase amount in euro cents (default: 4999, or 100 for lowvalue).
    #[arg(long)]
    amount: Option<u64>,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    secs: u64,
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The server's process id, for its CPU and context switches.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The `dsURL` / `notificationURL` base the AReqs carry (never called for these ARes).
    #[arg(long, default_value = "http://127.0.0.1:9")]
    ds_base: String,
}

/// How many low-value purchases of `amount` a card gets frictionless from zero counters.
fn low_value_allowance(amount: u64) -> u64 {
    if amount == 0 || amount > LV_MAX_CENTS {
        return 0;
    }
    // The k-th purchase is exempt if k·amount ≤ cumulative max or k ≤ max count; both
    // sides only grow with k, so the exempt ones are a prefix.
    (LV_CUMULATIVE_MAX_CENTS / amount).max(LV_MAX_COUNT)
}

#[derive(Default)]
struct Window {
    /// Latencies in µs of the answers counted, per transStatus (Y, C, N, other).
    lat: [Vec<u32>; 4],
    mismatches: u64,
}

struct Shared {
    url: String,
    ds_base: String,
    pans: Vec<String>,
    mix: String,
    amount: u64,
    allowance: u64,
    next: AtomicU64,
    /// Per card: Y answers, and Y + C answers (lowvalue).
    ys: Vec<AtomicU32>,
    answered: Vec<AtomicU32>,
    mismatches_total: AtomicU64,
    requests_total: AtomicU64,
    first_problems: Mutex<Vec<String>>,
}

impl Shared {
    fn problem(&self, text: String) {
        let mut first = self.first_problems.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.len() < 5 {
            eprintln!("acs_load: mismatch: {text}");
            first.push(text);
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the load generator plays the merchant's 3DS Server, on the system clock"
)]
fn system_now() -> chrono::DateTime<chrono::Utc> {
    std::time::SystemTime::now().into()
}

fn status_slot(status: &str) -> usize {
    match status {
        "Y" => 0,
        "C" => 1,
        "N" => 2,
        _ => 3,
    }
}

/// Checks one answer; `Err` names what is wrong.
fn check(shared: &Shared, card: usize, areq: &Value, http: u16, body: &[u8]) -> Result<String, String> {
    if http != 200 {
        return Err(format!("HTTP {http}: {}", String::from_utf8_lossy(&body[..body.len().min(300)])));
    }
    let ares: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    if str_field(&ares, "messageType") != Some("ARes") {
        return Err(format!("not an ARes: {}", ares.to_string().chars().take(300).collect::<String>()));
    }
    for echoed in ["threeDSServerTransID", "dsTransID", "messageVersion"] {
        if str_field(&ares, echoed) != str_field(areq, echoed) {
            return Err(format!("{echoed} is not the AReq's"));
        }
    }
    if !str_field(&ares, "acsTransID").is_some_and(is_uuid) {
        return Err("acsTransID is not a UUID".into());
    }
    let status = str_field(&ares, "transStatus").unwrap_or("-").to_owned();
    let challenge_ok =
        |ares: &Value| str_field(ares, "acsURL").is_some() && str_field(ares, "acsChallengeMandated") == Some("Y");
    match (shared.mix.as_str(), status.as_str()) {
        ("unknown", "N") if str_field(&ares, "transStatusReason") == Some("08") => Ok(status),
        ("challenge", "C") if challenge_ok(&ares) => Ok(status),
        ("lowvalue", "Y") if str_field(&ares, "authenticationValue").is_some() && str_field(&ares, "eci").is_some() => {
            shared.answered[card].fetch_add(1, Ordering::Relaxed);
            let before = shared.ys[card].fetch_add(1, Ordering::Relaxed);
            if u64::from(before) >= shared.allowance {
                return Err(format!("Y number {} for card {card}, allowance {}", before + 1, shared.allowance));
            }
            Ok(status)
        }
        ("lowvalue", "C") if challenge_ok(&ares) => {
            shared.answered[card].fetch_add(1, Ordering::Relaxed);
            Ok(status)
        }
        _ => {
            Err(format!("{} mix: transStatus {status}, reason {:?}", shared.mix, str_field(&ares, "transStatusReason")))
        }
    }
}

async fn connection(shared: Arc<Shared>, measure_from: Instant, until: Instant) -> Result<Window> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut window = Window::default();
    while Instant::now() < until {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let card = (i % shared.pans.len() as u64) as usize;
        let server_id = uuid::Uuid::new_v4().to_string();
        let ds_id = uuid::Uuid::new_v4().to_string();
        let ctx = AreqContext {
            three_ds_server_trans_id: &server_id,
            ds_trans_id: &ds_id,
            sim_base_url: &shared.ds_base,
            now: system_now(),
        };
        let areq = build_areq(&Purchase::new(shared.pans[card].clone(), shared.amount), &ctx);
        let body = serde_json::to_vec(&areq)?;
        let sent = Instant::now();
        let answer = async {
            let resp = client
                .post(&shared.url)
                .header("content-type", "application/json; charset=utf-8")
                .body(body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        }
        .await;
        let done = Instant::now();
        shared.requests_total.fetch_add(1, Ordering::Relaxed);
        let outcome = match answer {
            Ok((http, bytes)) => check(&shared, card, &areq, http, &bytes),
            Err(e) => Err(format!("HTTP error: {e}")),
        };
        let counted = done >= measure_from && done < until;
        match outcome {
            Ok(status) if counted => {
                let us = u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX);
                window.lat[status_slot(&status)].push(us);
            }
            Ok(_) => {}
            Err(problem) => {
                shared.mismatches_total.fetch_add(1, Ordering::Relaxed);
                if counted {
                    window.mismatches += 1;
                }
                shared.problem(problem);
            }
        }
    }
    Ok(window)
}

// --- /proc --------------------------------------------------------------------------

fn proc_cpu_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Busy and total ticks of the machine.
fn machine_ticks() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> =
        text.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = g(0) + g(1) + g(2) + g(5) + g(6) + g(7);
    (busy, busy + g(3) + g(4))
}

/// Voluntary and involuntary context switches, summed over the process's threads.
fn ctx_switches(pid: u32) -> (u64, u64) {
    let mut out = (0, 0);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("status")) else { continue };
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                out.0 += v.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
                out.1 += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    out
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Snap {
    t: Instant,
    machine: (u64, u64),
    server: Option<u64>,
    me: u64,
    ctx: (u64, u64),
}

fn snap(pid: Option<u32>) -> Snap {
    Snap {
        t: Instant::now(),
        machine: machine_ticks(),
        server: pid.and_then(|p| proc_cpu_ticks(&p.to_string())),
        me: proc_cpu_ticks("self").unwrap_or(0),
        ctx: pid.map_or((0, 0), ctx_switches),
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn percentiles(mut v: Vec<u32>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_unstable();
    let at = |p: f64| {
        let idx = ((p / 100.0) * v.len() as f64).ceil() as usize;
        f64::from(v[idx.clamp(1, v.len()) - 1]) / 1000.0
    };
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64 / 1000.0;
    json!({
        "n": v.len(), "mean": round(mean, 3), "p50": at(50.0), "p90": at(90.0), "p99": at(99.0),
        "p99_9": at(99.9), "max": f64::from(v[v.len() - 1]) / 1000.0,
    })
}

async fn run(args: Args) -> Result<Value> {
    let pans: Vec<String> = std::fs::read_to_string(&args.pans)
        .with_context(|| format!("reading {}", args.pans.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if pans.is_empty() {
        bail!("no PANs in {}", args.pans.display());
    }
    let amount = args.amount.unwrap_or(if args.mix == "lowvalue" { 100 } else { 4_999 });
    let allowance = if args.mix == "lowvalue" { low_value_allowance(amount) } else { 0 };
    let shared = Arc::new(Shared {
        url: format!("{}/3ds/v2/areq", args.server.trim_end_matches('/')),
        ds_base: args.ds_base.clone(),
        ys: (0..pans.len()).map(|_| AtomicU32::new(0)).collect(),
        answered: (0..pans.len()).map(|_| AtomicU32::new(0)).collect(),
        pans,
        mix: args.mix.clone(),
        amount,
        allowance,
        next: AtomicU64::new(0),
        mismatches_total: AtomicU64::new(0),
        requests_total: AtomicU64::new(0),
        first_problems: Mutex::new(Vec::new()),
    });
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.secs);
    let tasks: Vec<_> =
        (0..args.connections).map(|_| tokio::spawn(connection(shared.clone(), measure_from, until))).collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let (load_start, a) = (loadavg(), snap(args.server_pid));
    tokio::time::sleep_until(until.into()).await;
    let (b, load_end) = (snap(args.server_pid), loadavg());
    let mut window = Window::default();
    for task in tasks {
        let w = task.await??;
        for (all, mine) in window.lat.iter_mut().zip(w.lat) {
            all.extend(mine);
        }
        window.mismatches += w.mismatches;
    }
    let drained_s = until.elapsed().as_secs_f64();

    // lowvalue: every card must have had exactly min(allowance, its answers) Ys.
    let mut per_card_mismatches = 0u64;
    let (mut ys_total, mut cards_exhausted) = (0u64, 0usize);
    if args.mix == "lowvalue" {
        for (ys, answered) in shared.ys.iter().zip(&shared.answered) {
            let (ys, answered) = (u64::from(ys.load(Ordering::Relaxed)), u64::from(answered.load(Ordering::Relaxed)));
            ys_total += ys;
            per_card_mismatches += ys.abs_diff(answered.min(allowance));
            if answered > allowance {
                cards_exhausted += 1;
            }
        }
    }

    let wall = b.t.duration_since(a.t).as_secs_f64();
    let completed: usize = window.lat.iter().map(Vec::len).sum();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let machine_busy = (b.machine.0 - a.machine.0) as f64 / TICK;
    let server_s = match (a.server, b.server) {
        (Some(x), Some(y)) => Some((y - x) as f64 / TICK),
        _ => None,
    };
    let me_s = (b.me - a.me) as f64 / TICK;
    let other_s = (machine_busy - server_s.unwrap_or(0.0) - me_s).max(0.0);
    let per = |x: f64| if completed > 0 { round(x * 1e6 / completed as f64, 1) } else { 0.0 };
    let ctx = (b.ctx.0.saturating_sub(a.ctx.0), b.ctx.1.saturating_sub(a.ctx.1));
    let by_status = json!({
        "Y": window.lat[0].len(), "C": window.lat[1].len(), "N": window.lat[2].len(), "other": window.lat[3].len(),
    });
    let lat_by_status = json!({
        "Y": percentiles(window.lat[0].clone()), "C": percentiles(window.lat[1].clone()),
    });
    let all: Vec<u32> = window.lat.into_iter().flatten().collect();
    let first_problems = shared.first_problems.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    Ok(json!({
        "mix": args.mix, "amount_cents": amount, "connections": args.connections, "secs": args.secs,
        "warmup": args.warmup, "loadgen_threads": args.threads, "cards": shared.pans.len(),
        "completed": completed, "per_sec": round(completed as f64 / wall, 1), "window_s": round(wall, 3),
        "latency_ms": percentiles(all),
        "latency_ms_by_status": if args.mix == "lowvalue" { lat_by_status } else { Value::Null },
        "by_status": by_status,
        "mismatches_in_window": window.mismatches,
        "mismatches_total": shared.mismatches_total.load(Ordering::Relaxed) + per_card_mismatches,
        "per_card_y_mismatches": per_card_mismatches,
        "first_problems": first_problems,
        "requests_total": shared.requests_total.load(Ordering::Relaxed),
        "drain_s": round(drained_s, 3),
        "lowvalue": if args.mix == "lowvalue" {
            json!({ "allowance_per_card": allowance, "y_total": ys_total, "cards_exhausted": cards_exhausted })
        } else { Value::Null },
        "cpu": {
            "server_pct_of_core": server_s.map(|s| round(100.0 * s / wall, 1)),
            "loadgen_pct_of_core": round(100.0 * me_s / wall, 1),
            "machine_busy_pct": round(100.0 * machine_busy / (wall * ncpu), 1),
            "other_pct_of_machine": round(100.0 * other_s / (wall * ncpu), 1),
            "server_cpu_us_per_areq": server_s.map(per),
            "loadgen_cpu_us_per_areq": per(me_s),
        },
        "server_ctx_switches_per_areq": if completed > 0 {
            json!({ "voluntary": round(ctx.0 as f64 / completed as f64, 2), "involuntary": round(ctx.1 as f64 / completed as f64, 2) })
        } else { Value::Null },
        "loadavg_start": load_start, "loadavg_end": load_end,
    }))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build()?;
    let out = rt.block_on(run(args))?;
    println!("{out}");
    Ok(())
}
