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
//!     [--pool K] [--noise-hz F [--noise-us U]] [--reuse-memory]
//! ```
//!
//! The parameters default to `HashParams::default()` (what the server uses unless its
//! configuration says otherwise); the environment variables the server reads
//! (`SIGILLO_SECURITY__HASHING__MEMORY_KIB`, `…__ITERATIONS`, `…__PARALLELISM`) are
//! honoured too, so a run can match a configured server, and flags win over both.
//! `--threads` defaults to every core the process may use.
//!
//! Two diagnostics reproduce what a server does around its hashes, to tell their cost
//! apart (see `bench/RESULTS.md`):
//! - `--pool K`: K threads share the N permits (a counting semaphore), as a Tokio
//!   blocking pool behind the server's semaphore does: each hash runs on whichever
//!   thread gets the permit, so K allocator arenas of `memory_kib` rotate through the
//!   caches instead of N.
//! - `--noise-hz F`: per core, a thread that wakes F times a second and spins U µs
//!   (default 20), like database and I/O threads waking between a hash's blocks: it
//!   measures what frequent preemption costs the hashing threads.
//!
//! `--reuse-memory` measures what the server's hashing threads run:
//! [`sigillo_core::password::verify_in`] with one [`Workspace`] per thread, allocated once
//! and reused, instead of [`verify`], which allocates and zeroes `memory_kib` per call.

use rand::SeedableRng;
use sigillo_core::password::{HashParams, Workspace, verify, verify_in};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "58301649";

struct Options {
    threads: usize,
    pool: usize,
    noise_hz: f64,
    noise_us: u64,
    reuse_memory: bool,
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
        pool: 0,
        noise_hz: 0.0,
        noise_us: 20,
        reuse_memory: false,
        secs: 10.0,
        warmup_secs: 1.0,
        params,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => opts.threads = parse_num(&arg, args.next())?,
            "--pool" => opts.pool = parse_num(&arg, args.next())?,
            "--noise-hz" => opts.noise_hz = parse_num(&arg, args.next())?,
            "--noise-us" => opts.noise_us = parse_num(&arg, args.next())?,
            "--reuse-memory" => opts.reuse_memory = true,
            "--secs" => opts.secs = parse_num(&arg, args.next())?,
            "--warmup-secs" => opts.warmup_secs = parse_num(&arg, args.next())?,
            "--memory-kib" => opts.params.memory_kib = parse_num(&arg, args.next())?,
            "--iterations" => opts.params.iterations = parse_num(&arg, args.next())?,
            "--parallelism" => opts.params.parallelism = parse_num(&arg, args.next())?,
            "--json" => opts.json = true,
            "-h" | "--help" => {
                return Err("usage: hash_rate [--threads N] [--pool K] [--noise-hz F [--noise-us U]] [--reuse-memory] [--secs S] \
                            [--warmup-secs W] [--memory-kib K] [--iterations T] [--parallelism P] [--json]"
                    .into());
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    if opts.threads == 0 || !opts.secs.is_finite() || opts.secs <= 0.0 || opts.warmup_secs < 0.0 {
        return Err("--threads and --secs must be positive".into());
    }
    if !opts.noise_hz.is_finite() || opts.noise_hz < 0.0 {
        return Err("--noise-hz must be a positive rate".into());
    }
    opts.pool = opts.pool.max(opts.threads);
    Ok(opts)
}

/// What the threads share: the stop and measure flags, the count of verifications
/// finished inside the measured window, and the permits (a counting semaphore).
struct Shared {
    phc: String,
    measuring: AtomicBool,
    stop: AtomicBool,
    count: AtomicU64,
    failed: AtomicBool,
    reuse_memory: bool,
    permits: Mutex<usize>,
    released: Condvar,
}

impl Shared {
    fn acquire(&self) -> bool {
        let Ok(mut free) = self.permits.lock() else { return false };
        while *free == 0 {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            free = match self.released.wait_timeout(free, Duration::from_millis(50)) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        *free -= 1;
        true
    }

    fn release(&self) {
        if let Ok(mut free) = self.permits.lock() {
            *free += 1;
        }
        self.released.notify_one();
    }
}

/// Verifies in a loop until told to stop, holding a permit while it hashes. With as
/// many threads as permits the permits never block; with a larger pool, whichever
/// thread the semaphore wakes hashes next, as on the server's blocking pool.
fn worker(shared: &Shared) {
    let mut workspace = Workspace::default();
    while !shared.stop.load(Ordering::Relaxed) {
        if !shared.acquire() {
            break;
        }
        let ok = if shared.reuse_memory {
            verify_in(&mut workspace, &shared.phc, PASSWORD)
        } else {
            verify(&shared.phc, PASSWORD)
        };
        shared.release();
        if !ok {
            shared.failed.store(true, Ordering::Relaxed);
        }
        // Counted if it finished inside the window; one that began before it opened
        // balances one still running when it closes.
        if shared.measuring.load(Ordering::Relaxed) && !shared.stop.load(Ordering::Relaxed) {
            shared.count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Short bursts of work at a fixed rate, to see what frequent preemption (a server's
/// database and I/O threads waking up between hashes) does to the hash rate.
fn noise(shared: &Shared, hz: f64, burst: Duration) {
    let period = Duration::from_secs_f64(1.0 / hz);
    let mut x = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(period);
        let until = Instant::now() + burst;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
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
        Ok(h) => h,
        Err(e) => {
            eprintln!("hash_rate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Arc::new(Shared {
        phc,
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        count: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        reuse_memory: opts.reuse_memory,
        permits: Mutex::new(opts.threads),
        released: Condvar::new(),
    });
    let mut handles: Vec<_> = (0..opts.pool)
        .map(|_| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || worker(&shared))
        })
        .collect();
    if opts.noise_hz > 0.0 {
        for _ in 0..opts.threads {
            let shared = Arc::clone(&shared);
            let (hz, burst) = (opts.noise_hz, Duration::from_micros(opts.noise_us));
            handles.push(std::thread::spawn(move || noise(&shared, hz, burst)));
        }
    }
    // Warm-up: every thread's first 19 MiB allocation faults its pages in.
    std::thread::sleep(Duration::from_secs_f64(opts.warmup_secs));
    shared.measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(opts.secs));
    shared.stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    shared.released.notify_all();
    for h in handles {
        if h.join().is_err() {
            eprintln!("hash_rate: a thread panicked");
            return ExitCode::FAILURE;
        }
    }
    if shared.failed.load(Ordering::Relaxed) {
        eprintln!("hash_rate: a verification failed");
        return ExitCode::FAILURE;
    }
    let total = shared.count.load(Ordering::Relaxed);
    let rate = total as f64 / elapsed.as_secs_f64();
    let per_thread = rate / opts.threads as f64;
    let ms_per_verify = if per_thread > 0.0 { 1000.0 / per_thread } else { f64::INFINITY };
    let p = opts.params;
    if opts.json {
        println!(
            "{{\"threads\":{},\"pool\":{},\"noise_hz\":{},\"reuse_memory\":{},\"secs\":{},\"memory_kib\":{},\"iterations\":{},\
             \"parallelism\":{},\"verifications\":{},\"verifications_per_sec\":{:.2},\"ms_per_verification\":{:.2}}}",
            opts.threads,
            opts.pool,
            opts.noise_hz,
            opts.reuse_memory,
            opts.secs,
            p.memory_kib,
            p.iterations,
            p.parallelism,
            total,
            rate,
            ms_per_verify
        );
    } else {
        let pool = if opts.pool > opts.threads { format!(" (a pool of {} threads)", opts.pool) } else { String::new() };
        let noise = if opts.noise_hz > 0.0 {
            format!(", noise {} Hz × {} µs per core", opts.noise_hz, opts.noise_us)
        } else {
            String::new()
        };
        let reuse = if opts.reuse_memory { ", memory reused" } else { "" };
        println!(
            "argon2id m={} KiB t={} p={} | {} at a time{pool}{noise}{reuse}, {:.1} s: {} verifications, \
             {:.2} verifications/s ({:.2} ms each)",
            p.memory_kib, p.iterations, p.parallelism, opts.threads, opts.secs, total, rate, ms_per_verify
        );
    }
    ExitCode::SUCCESS
}
