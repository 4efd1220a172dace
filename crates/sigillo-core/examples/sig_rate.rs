//! Device signature verifications per second: the server's in-process path against the
//! raw ECDSA P-256 verify rate of the same library (`ring`), on N threads.
//!
//! ```text
//! cargo run --release -p sigillo-core --example sig_rate -- [--threads N] [--secs S]
//!     [--mode raw|server|both|overhead|raw-varied] [--warmup-secs W] [--body-bytes B]
//!     [--requests R] [--plain-knowledge-key] [--hash-body-once] [--json]
//! ```
//!
//! - `raw`: `ring::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, pk).verify(msg, sig)`
//!   on one fixed valid (public key, message, DER signature); the message is a real
//!   `sigillo/request/v1` message, so ring hashes as many bytes as on the server.
//! - `server`: what the server does in-process for a device request signed with
//!   possession + knowledge (`POST /device/v1/login`), without the database: parse the
//!   `Sigillo-Signature` header ([`Signatures::parse`]), decode the base64url challenge
//!   ([`unb64`], 32 bytes as `parse_challenge` requires), build
//!   [`messages::request`] for each factor (which hashes the body) and
//!   [`keys::verify`] each signature against its stored public key. Since rev a563dd8 the
//!   server keeps the knowledge public key sealed under the key-encryption key and opens
//!   it ([`Kek::open`], XChaCha20-Poly1305) for every request that needs the PIN; that is
//!   part of this path too (`--plain-knowledge-key` leaves it out; `--hash-body-once`
//!   tries out digesting the body once per request instead of once per factor). R requests
//!   (default 1024, over 16 bindings, each with its own challenge and a B-byte JSON body,
//!   default 200) are signed beforehand with [`KeyPair::sign`] and cycled through.
//!   Counted in verifications: 2 per request.
//! - `both`: raw, then server, in the same process; a third line gives the ratio.
//! - `overhead` (diagnostic): the server path without the two `keys::verify` calls, i.e.
//!   only what it adds around them; reported per verification (half a request).
//! - `raw-varied` (diagnostic): the raw ring call, but cycling through the prepared
//!   requests' 2 × R (key, message, signature) triples instead of one fixed triple: what
//!   the varied data alone costs, since ring's verification time depends on its inputs.
//!
//! Every verification's result is checked (the run aborts on a `false`), so none can be
//! optimised away. `--threads` defaults to every core the process may use. One JSON line
//! per measured mode with `--json` (see `bench/sigverify/run.sh`).

use rand::SeedableRng;
use sha2::{Digest, Sha256};
use sigillo_core::device::canonical::Canon;
use sigillo_core::device::keys::{self, Factor, KeyPair};
use sigillo_core::device::messages::{self, Signatures};
use sigillo_core::device::{b64, unb64};
use sigillo_core::kek::Kek;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const METHOD: &str = "POST";
const PATH: &str = "/device/v1/login";
const BINDINGS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Raw,
    Server,
    Both,
    Overhead,
    RawVaried,
}

struct Options {
    threads: usize,
    secs: f64,
    warmup_secs: f64,
    mode: Mode,
    body_bytes: usize,
    requests: usize,
    plain_knowledge_key: bool,
    hash_body_once: bool,
    json: bool,
}

fn parse_num<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{name} needs a value"))?;
    value.trim().parse().map_err(|_| format!("{name}: not a number: {value}"))
}

const USAGE: &str = "usage: sig_rate [--threads N] [--secs S] [--mode raw|server|both|overhead|raw-varied] \
                     [--warmup-secs W] [--body-bytes B] [--requests R] [--plain-knowledge-key] [--hash-body-once] [--json]";

fn options() -> Result<Options, String> {
    let mut opts = Options {
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        secs: 5.0,
        warmup_secs: 1.0,
        mode: Mode::Both,
        body_bytes: 200,
        requests: 1024,
        plain_knowledge_key: false,
        hash_body_once: false,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => opts.threads = parse_num(&arg, args.next())?,
            "--secs" => opts.secs = parse_num(&arg, args.next())?,
            "--warmup-secs" => opts.warmup_secs = parse_num(&arg, args.next())?,
            "--body-bytes" => opts.body_bytes = parse_num(&arg, args.next())?,
            "--requests" => opts.requests = parse_num(&arg, args.next())?,
            "--mode" => {
                opts.mode = match args.next().as_deref() {
                    Some("raw") => Mode::Raw,
                    Some("server") => Mode::Server,
                    Some("both") => Mode::Both,
                    Some("overhead") => Mode::Overhead,
                    Some("raw-varied") => Mode::RawVaried,
                    other => return Err(format!("--mode: raw, server, both, overhead or raw-varied, not {other:?}")),
                }
            }
            "--plain-knowledge-key" => opts.plain_knowledge_key = true,
            "--hash-body-once" => opts.hash_body_once = true,
            "--json" => opts.json = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    if opts.threads == 0
        || !opts.secs.is_finite()
        || opts.secs <= 0.0
        || !opts.warmup_secs.is_finite()
        || opts.warmup_secs < 0.0
    {
        return Err("--threads and --secs must be positive, --warmup-secs not negative".into());
    }
    if opts.requests == 0 {
        return Err("--requests must be positive".into());
    }
    Ok(opts)
}

/// A signed device request as it reaches the server: header texts and the body.
struct Request {
    binding: String,
    challenge: String,
    signature_header: String,
    body: Vec<u8>,
    /// Index of the binding whose stored keys verify it.
    keys: usize,
}

/// The public keys the server has stored for a binding: possession in clear, knowledge
/// sealed under the key-encryption key (and in clear for `--plain-knowledge-key`).
struct StoredKeys {
    possession: Vec<u8>,
    knowledge: Vec<u8>,
    knowledge_sealed: Vec<u8>,
}

/// The associated data the server seals a knowledge key with (service/binding.rs).
fn knowledge_key_aad(binding: &str) -> Vec<u8> {
    format!("bindings.knowledge_key:{binding}").into_bytes()
}

/// What every thread reads: the server's key-encryption key, the stored keys, the
/// prepared requests and (for `raw-varied`) their decoded triples.
struct Workload {
    kek: Kek,
    plain_knowledge_key: bool,
    hash_body_once: bool,
    stored: Vec<StoredKeys>,
    requests: Vec<Request>,
    triples: Vec<(usize, Factor, Vec<u8>, Vec<u8>)>,
}

/// A JSON body of exactly `len` bytes (at least the fixed part), varied per request.
fn body(len: usize, i: usize) -> Vec<u8> {
    let head = format!("{{\"request\":{i},\"device\":\"Pixel 8 Pro\",\"locale\":\"it-IT\",\"note\":\"");
    let tail = "\"}";
    let pad = len.saturating_sub(head.len() + tail.len());
    let filler: String = (0..pad).map(|k| char::from(b'a' + ((i + k) % 26) as u8)).collect();
    format!("{head}{filler}{tail}").into_bytes()
}

fn workload(opts: &Options) -> Result<Workload, String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0516_1110);
    let kek = Kek::generate(&mut rng);
    let pairs: Vec<(String, KeyPair, KeyPair)> = (0..BINDINGS)
        .map(|i| {
            // A binding id like the store's (UUID v7 text), varied per binding.
            let id = format!("01936f2e-{:04x}-7c3a-8b5e-4f2d9a7c{:04x}", i, i * 7919 % 65536);
            (id, KeyPair::generate(&mut rng), KeyPair::generate(&mut rng))
        })
        .collect();
    let stored = pairs
        .iter()
        .map(|(id, p, k)| StoredKeys {
            possession: p.public_key(),
            knowledge: k.public_key(),
            knowledge_sealed: kek.seal(&knowledge_key_aad(id), &k.public_key(), &mut rng),
        })
        .collect();
    let mut triples = Vec::new();
    let mut requests = Vec::new();
    for i in 0..opts.requests {
        let n = i % BINDINGS;
        let (binding, possession, knowledge) = &pairs[n];
        let mut challenge = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rng, &mut challenge);
        let body = body(opts.body_bytes, i);
        let message = |f| messages::request(f, binding, &challenge, METHOD, PATH, &body);
        let (sig_p, sig_k) =
            (possession.sign(&message(Factor::Possession)), knowledge.sign(&message(Factor::Knowledge)));
        triples.push((n, Factor::Possession, message(Factor::Possession), sig_p.clone()));
        triples.push((n, Factor::Knowledge, message(Factor::Knowledge), sig_k.clone()));
        // As the phone builds it (sigillo-device): Signatures::header().
        let header = Signatures::default().with(Factor::Possession, sig_p).with(Factor::Knowledge, sig_k).header();
        requests.push(Request {
            binding: binding.clone(),
            challenge: b64(&challenge),
            signature_header: header,
            body,
            keys: n,
        });
    }
    for (n, factor, message, _) in triples.iter().take(2) {
        let r = &requests[*n];
        let challenge = unb64(&r.challenge).ok_or("bad challenge")?;
        if request_from_digest(*factor, &r.binding, &challenge, &Sha256::digest(&r.body)) != *message {
            return Err("request_from_digest differs from messages::request".into());
        }
    }
    let w = Workload {
        kek,
        plain_knowledge_key: opts.plain_knowledge_key,
        hash_body_once: opts.hash_body_once,
        stored,
        requests,
        triples,
    };
    // Sanity: every prepared request verifies on the server path before timing starts.
    if let Some(i) = w.requests.iter().position(|r| !server_request(&w, r, true)) {
        return Err(format!("prepared request {i} does not verify"));
    }
    Ok(w)
}

/// `messages::request` with the body's SHA-256 given instead of the body (the change
/// `--hash-body-once` tries out; sigillo-core has no such function).
fn request_from_digest(factor: Factor, binding: &str, challenge: &[u8], body_digest: &[u8]) -> Vec<u8> {
    Canon::new("sigillo/request/v1")
        .str(factor.as_str())
        .str(binding)
        .bytes(challenge)
        .str(METHOD)
        .str(PATH)
        .bytes(body_digest)
        .finish()
}

/// The server's in-process work for one request; `verify` false leaves out the two
/// `keys::verify` calls (the `overhead` mode). Returns whether both signatures verified
/// (with `verify` false: whether everything parsed and opened).
fn server_request(w: &Workload, req: &Request, verify: bool) -> bool {
    let stored = &w.stored[req.keys];
    // signed.rs: parse_challenge, then Signatures::parse.
    let Some(challenge) = unb64(&req.challenge).filter(|c| c.len() == 32) else { return false };
    let Ok(signatures) = Signatures::parse(&req.signature_header) else { return false };
    // What-if (--hash-body-once): the body digested once per request instead of once per
    // factor, the message built from the digest; the same bytes as messages::request.
    let digest = w.hash_body_once.then(|| Sha256::digest(&req.body));
    let check = |factor: Factor, key: &[u8]| {
        let Some(sig) = signatures.get(factor) else { return false };
        let message = match &digest {
            None => messages::request(factor, &req.binding, &challenge, METHOD, PATH, &req.body),
            Some(d) => request_from_digest(factor, &req.binding, &challenge, d),
        };
        if verify {
            keys::verify(key, &message, sig)
        } else {
            black_box((key, message.as_slice(), sig));
            !message.is_empty()
        }
    };
    // device_auth.rs: possession first, then the second factor, each over its own message;
    // the knowledge key opened from its sealed form (binding.rs, open_knowledge_key).
    if !check(Factor::Possession, &stored.possession) {
        return false;
    }
    let knowledge = if w.plain_knowledge_key {
        stored.knowledge.clone()
    } else {
        match w.kek.open(&knowledge_key_aad(&req.binding), &stored.knowledge_sealed) {
            Ok(key) => key.to_vec(),
            Err(_) => return false,
        }
    };
    check(Factor::Knowledge, &knowledge)
}

struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    count: AtomicU64,
    failed: AtomicBool,
}

/// Runs `one` (which returns how many verifications it did, 0 for a failure) in a loop
/// until told to stop; counts, in a thread-local counter, the ones that finished inside
/// the measured window.
fn worker(shared: &Shared, mut one: impl FnMut(usize) -> u64) {
    let mut local = 0u64;
    let mut i = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        let done = one(i);
        i = i.wrapping_add(1);
        if done == 0 {
            shared.failed.store(true, Ordering::Relaxed);
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        if shared.measuring.load(Ordering::Relaxed) && !shared.stop.load(Ordering::Relaxed) {
            local += done;
        }
    }
    shared.count.fetch_add(local, Ordering::Relaxed);
}

struct Measured {
    verifications: u64,
    elapsed: f64,
}

fn measure(opts: &Options, w: &Arc<Workload>, mode: Mode) -> Result<Measured, String> {
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        count: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    });
    let threads = opts.threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (shared, w) = (Arc::clone(&shared), Arc::clone(w));
            std::thread::spawn(move || {
                // The raw triple: the first request's possession message, signature and key.
                let (n, _, msg, sig) = &w.triples[0];
                let pk = &w.stored[*n].possession;
                // Threads start at different requests, so they do not walk in step.
                let offset = t * w.requests.len() / threads;
                match mode {
                    Mode::Raw => worker(&shared, |_| {
                        let key = ring::signature::UnparsedPublicKey::new(
                            &ring::signature::ECDSA_P256_SHA256_ASN1,
                            black_box(pk.as_slice()),
                        );
                        u64::from(key.verify(black_box(msg), black_box(sig)).is_ok())
                    }),
                    Mode::RawVaried => worker(&shared, |i| {
                        let (n, factor, msg, sig) = &w.triples[(2 * offset + i) % w.triples.len()];
                        let keys = &w.stored[*n];
                        let pk = if *factor == Factor::Possession { &keys.possession } else { &keys.knowledge };
                        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, pk);
                        u64::from(key.verify(msg, sig).is_ok())
                    }),
                    Mode::Server | Mode::Overhead => worker(&shared, |i| {
                        let req = &w.requests[(offset + i) % w.requests.len()];
                        if server_request(&w, req, mode == Mode::Server) { 2 } else { 0 }
                    }),
                    Mode::Both => unreachable!("measured as raw then server"),
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(opts.warmup_secs));
    shared.measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(opts.secs);
    while Instant::now() < deadline && !shared.failed.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
    }
    shared.stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for h in handles {
        h.join().map_err(|_| "a thread panicked")?;
    }
    if shared.failed.load(Ordering::Relaxed) {
        return Err(format!("{mode:?}: a verification returned false"));
    }
    Ok(Measured { verifications: shared.count.load(Ordering::Relaxed), elapsed })
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Raw => "raw",
        Mode::Server => "server",
        Mode::Both => "both",
        Mode::Overhead => "overhead",
        Mode::RawVaried => "raw-varied",
    }
}

fn report(opts: &Options, mode: Mode, m: &Measured) -> f64 {
    let rate = m.verifications as f64 / m.elapsed;
    // CPU time per verification on one thread (the threads run in parallel).
    let us = if rate > 0.0 { 1e6 * opts.threads as f64 / rate } else { f64::INFINITY };
    if opts.json {
        println!(
            "{{\"mode\":\"{}\",\"threads\":{},\"secs\":{:.3},\"body_bytes\":{},\"requests\":{},\"sealed_knowledge_key\":{},\"hash_body_once\":{},\
             \"verifications\":{},\"verifications_per_sec\":{:.1},\"us_per_verification\":{:.3}}}",
            name(mode),
            opts.threads,
            m.elapsed,
            opts.body_bytes,
            opts.requests,
            !opts.plain_knowledge_key,
            opts.hash_body_once,
            m.verifications,
            rate,
            us
        );
    } else {
        let what = match mode {
            Mode::Raw => "raw ring ECDSA P-256 verify".to_owned(),
            Mode::Server => format!("server path (p + k, {} B body, {} requests)", opts.body_bytes, opts.requests),
            Mode::RawVaried => format!("raw ring verify over {} varied triples", 2 * opts.requests),
            Mode::Overhead => format!("server path without verify ({} B body), per half request", opts.body_bytes),
            Mode::Both => unreachable!(),
        };
        println!(
            "{what} | {} thread(s), {:.1} s: {} verifications, {rate:.1} verifications/s ({us:.2} µs each per thread)",
            opts.threads, m.elapsed, m.verifications
        );
    }
    rate
}

fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sig_rate: {e}");
            return ExitCode::from(2);
        }
    };
    let w = match workload(&opts) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("sig_rate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let modes = match opts.mode {
        Mode::Both => vec![Mode::Raw, Mode::Server],
        m => vec![m],
    };
    let mut rates = Vec::new();
    for mode in modes {
        match measure(&opts, &w, mode) {
            Ok(m) => rates.push(report(&opts, mode, &m)),
            Err(e) => {
                eprintln!("sig_rate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let [raw, server] = rates[..] {
        let ratio = if raw > 0.0 { server / raw } else { 0.0 };
        if opts.json {
            println!(
                "{{\"mode\":\"both\",\"threads\":{},\"raw_per_sec\":{raw:.1},\"server_per_sec\":{server:.1},\"ratio\":{ratio:.4}}}",
                opts.threads
            );
        } else {
            println!("server / raw = {:.1} %", 100.0 * ratio);
        }
    }
    ExitCode::SUCCESS
}
