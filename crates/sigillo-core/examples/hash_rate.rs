//! Raw Argon2id verification rate: what a login costs with nothing else around it.
//!
//! A login verifies a password against a stored hash, it does not make one, so this
//! hashes once with [`HashParams`] and then calls [`sigillo_core::password::verify`]
//! against that hash in a loop, on N threads, for a fixed time. The figure is the
//! ceiling a server on this machine can reach: `bench/login/run.sh` compares the HTTP
//! login rate against it.
//!
//! ```text
//! cargo run --release -p sigillo-core --example hash_rate -- [--threads N] [--secs S]
//!     [--memory-kib K] [--iterations T] [--parallelism P] [--warmup-secs W] [--json]
//! ```
//!
//! The parameters default to `HashParams::default()` (what the server uses unless its
//! configuration says otherwise); the environment variables the server reads
//! (`SIGILLO_SECURITY__HASHING__MEMORY_KIB`, `…__ITERATIONS`, `…__PARALLELISM`) are
//! honoured too, so a run can match a configured server, and flags win over both.
//! `--threads` defaults to every core the process may use.

use rand::SeedableRng;
use sigillo_core::password::{HashParams, verify};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "58301649";

struct Options {
    threads: usize,
    secs: f64,
    warmup_secs: f64,
    params: HashParams,
    json: bool,
}

fn parse_num<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{name} needs a value"))?;
    value.trim().parse().map_err(|_| format!("{name}: not a number: {value}"))
}

fn env_num(name: &str) -> Result<Option<u32>, String> {
    match std::env::var(name) {
        Ok(v) => parse_num(name, Some(v)).map(Some),
        Err(_) => Ok(None),
    }
}

fn options() -> Result<Options, String> {
    let mut params = HashParams::default();
    if let Some(v) = env_num("SIGILLO_SECURITY__HASHING__MEMORY_KIB")? {
        params.memory_kib = v;
    }
    if let Some(v) = env_num("SIGILLO_SECURITY__HASHING__ITERATIONS")? {
        params.iterations = v;
    }
    if let Some(v) = env_num("SIGILLO_SECURITY__HASHING__PARALLELISM")? {
        params.parallelism = v;
    }
    let mut opts = Options {
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        secs: 10.0,
        warmup_secs: 1.0,
        params,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => opts.threads = parse_num(&arg, args.next())?,
            "--secs" => opts.secs = parse_num(&arg, args.next())?,
            "--warmup-secs" => opts.warmup_secs = parse_num(&arg, args.next())?,
            "--memory-kib" => opts.params.memory_kib = parse_num(&arg, args.next())?,
            "--iterations" => opts.params.iterations = parse_num(&arg, args.next())?,
            "--parallelism" => opts.params.parallelism = parse_num(&arg, args.next())?,
            "--json" => opts.json = true,
            "-h" | "--help" => {
                return Err("usage: hash_rate [--threads N] [--secs S] [--warmup-secs W] \
                            [--memory-kib K] [--iterations T] [--parallelism P] [--json]"
                    .into());
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    if opts.threads == 0 || !opts.secs.is_finite() || opts.secs <= 0.0 || opts.warmup_secs < 0.0 {
        return Err("--threads and --secs must be positive".into());
    }
    Ok(opts)
}

/// One thread's result: verifications done in the measured window and how long it took.
struct Tally {
    count: u64,
    elapsed: Duration,
    ok: bool,
}

/// Verifies in a loop until `stop` is set. Each thread starts its own clock after the
/// warm-up, so page faults of the first 19 MiB allocation are not counted.
fn worker(phc: Arc<String>, warmup: Duration, stop: Arc<AtomicBool>) -> Tally {
    let warm_until = Instant::now() + warmup;
    let mut ok = verify(&phc, PASSWORD);
    while Instant::now() < warm_until && !stop.load(Ordering::Relaxed) {
        ok &= verify(&phc, PASSWORD);
    }
    let start = Instant::now();
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ok &= verify(&phc, PASSWORD);
        count += 1;
    }
    Tally { count, elapsed: start.elapsed(), ok }
}

fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hash_rate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    let phc = match opts.params.hash(PASSWORD, &mut rng) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            eprintln!("hash_rate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let warmup = Duration::from_secs_f64(opts.warmup_secs);
    let handles: Vec<_> = (0..opts.threads)
        .map(|_| {
            let (phc, stop) = (Arc::clone(&phc), Arc::clone(&stop));
            std::thread::spawn(move || worker(phc, warmup, stop))
        })
        .collect();
    std::thread::sleep(warmup + Duration::from_secs_f64(opts.secs));
    stop.store(true, Ordering::Relaxed);
    let mut tallies = Vec::with_capacity(handles.len());
    for h in handles {
        match h.join() {
            Ok(t) => tallies.push(t),
            Err(_) => {
                eprintln!("hash_rate: a worker panicked");
                return ExitCode::FAILURE;
            }
        }
    }
    if tallies.iter().any(|t| !t.ok) {
        eprintln!("hash_rate: a verification failed");
        return ExitCode::FAILURE;
    }
    // Each thread's own rate, summed: a thread that finishes its last verification a
    // little after the stop signal is not penalised or flattered.
    let rate: f64 = tallies.iter().map(|t| t.count as f64 / t.elapsed.as_secs_f64()).sum();
    let total: u64 = tallies.iter().map(|t| t.count).sum();
    let per_thread = rate / opts.threads as f64;
    let ms_per_verify = if per_thread > 0.0 { 1000.0 / per_thread } else { f64::INFINITY };
    let p = opts.params;
    if opts.json {
        println!(
            "{{\"threads\":{},\"secs\":{},\"memory_kib\":{},\"iterations\":{},\"parallelism\":{},\
             \"verifications\":{},\"verifications_per_sec\":{:.2},\"ms_per_verification\":{:.2}}}",
            opts.threads, opts.secs, p.memory_kib, p.iterations, p.parallelism, total, rate, ms_per_verify
        );
    } else {
        println!(
            "argon2id m={} KiB t={} p={} | {} thread(s), {:.1} s: {} verifications, {:.2} verifications/s \
             ({:.2} ms each per thread)",
            p.memory_kib, p.iterations, p.parallelism, opts.threads, opts.secs, total, rate, ms_per_verify
        );
    }
    ExitCode::SUCCESS
}
