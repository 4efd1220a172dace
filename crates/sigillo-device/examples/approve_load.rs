//! Load generator for `bench/approvals` (issue 4): complete payment approvals through a
//! real server, transaction-OTP verifications, and many browsers waiting on SSE.
//!
//! ```text
//! approve_load --server http://127.0.0.1:PORT --users USERS_FILE [--server-pid PID]
//!     [--phases approvals,otp,wrong,sse] [--pipelines 16,64] [--secs 10] [--warmup 2]
//!     [--otp-ops 4000] [--otp-conns 16] [--wrong-ops 1000]
//!     [--sse 10000] [--sse-ops 10000] [--sse-hold 20] [--setup-conns 8] [--threads 2]
//!     [--idle-cmd "python3 bench/login/bench.py idle 120 10"]
//! ```
//!
//! `USERS_FILE` has one line per user: the certified phone, a space, and the envelope of
//! `sigillo admin user create --json`. Setup (not measured) walks each user through first
//! access over the API (password login, SMS OTP read from `GET /dev/outbox`, new
//! password) and binds an in-memory phone with [`Device::activate`]; the server must be
//! in dev mode.
//!
//! Phases, each measured on its own:
//! - `approvals`: N pipelines, each looping over its own users: create a payment
//!   (`POST /api/v1/operations`, the customer's session) → open its SSE stream
//!   (`GET /api/v1/operations/{id}/events`) and wait for the first (`pending`) event →
//!   `POST /device/v1/challenge` → `POST /device/v1/operations/{id}/approve` signed with
//!   possession + knowledge over the operation bytes of the signed QR (what
//!   `Device::approve` signs, minus its `GET /device/v1/operations` round trip) → the SSE
//!   client reads `"status":"approved"`. A completion counts when that event arrives.
//!   Wake-up latency is measured from the approve response's arrival at the phone to the
//!   event's arrival at the browser (negative when the event wins the race: the server
//!   commits and wakes before it answers), and, as an upper bound, from the approve
//!   request's send.
//! - `otp`: K payments created and their 8-digit transaction OTPs computed beforehand
//!   ([`Device::transaction_otp`]); then C connections submit them
//!   (`POST /api/v1/operations/{id}/otp`) until all are done or `--secs` passed.
//! - `wrong`: the same with a wrong code (at most 4 per user: 5 consecutive failures
//!   suspend a binding).
//! - `sse`: `--sse` streams opened on `--sse-ops` distinct pending payments, each read up to
//!   its first event and then held; the server's VmRSS/VmHWM (from `/proc/PID/status`)
//!   before, with them open, and after they are closed, and the server's CPU while they
//!   wait.
//!
//! For each measured window: the server's CPU (from `/proc/PID/stat`), this process's
//! CPU, and what other processes took of the machine (`/proc/stat`). One JSON object
//! on stdout at the end; progress on stderr.

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde_json::{Value, json};
use sigillo_core::device::keys::{Factor, KeyPair};
use sigillo_core::device::messages::{self, Signatures};
use sigillo_core::device::unb64;
use sigillo_device::Device;
use sigillo_device::keystore::{FileKeystore, Keystore};
use sigillo_device::state::State;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PIN: &str = "24680";
const NEW_PASSWORD: &str = "58301649";
const IBAN: &str = "IT60X0542811101000000123456";
/// Linux's USER_HZ, the unit of /proc/*/stat times.
const TICK: f64 = 100.0;

#[derive(Parser, Debug)]
#[command(about = "bench/approvals load generator")]
struct Args {
    #[arg(long)]
    server: String,
    #[arg(long)]
    users: PathBuf,
    /// The server's process id, for its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value = "approvals,otp,wrong,sse", value_delimiter = ',')]
    phases: Vec<String>,
    #[arg(long, default_value = "16,64", value_delimiter = ',')]
    pipelines: Vec<usize>,
    /// Measured seconds per approvals run, and the limit of an OTP run.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Seconds of each approvals run before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long, default_value_t = 4000)]
    otp_ops: usize,
    #[arg(long, default_value_t = 16)]
    otp_conns: usize,
    #[arg(long, default_value_t = 1000)]
    wrong_ops: usize,
    #[arg(long, default_value_t = 10000)]
    sse: usize,
    /// Distinct operations the SSE streams follow (streams are spread over them).
    #[arg(long, default_value_t = 10000)]
    sse_ops: usize,
    #[arg(long, default_value_t = 20)]
    sse_hold: u64,
    #[arg(long, default_value_t = 8)]
    setup_conns: usize,
    /// Tokio worker threads of this load generator.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Shell command run before each measured window (waits for an idle machine).
    #[arg(long)]
    idle_cmd: Option<String>,
}

/// One customer: the session of the browser and the phone bound to it.
struct Customer {
    phone_number: String,
    token: String,
    binding: String,
    possession_alias: String,
    phone: Device<FileKeystore>,
    /// The knowledge key the PIN unwraps to, computed once (the app would per approval;
    /// that is the phone's CPU, not the server's).
    knowledge: KeyPair,
}

#[expect(clippy::disallowed_methods, reason = "the load generator plays the phone: its clock is the system's")]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

fn log(msg: &str) {
    eprintln!("[approve_load] {msg}");
}

// --- CPU and memory accounting --------------------------------------------------------

#[derive(Clone, Copy)]
struct Snap {
    at: Instant,
    busy: u64,
    server: u64,
    own: u64,
}

fn proc_ticks(path: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(path) else { return 0 };
    let Some(rest) = text.rfind(')').map(|i| &text[i + 2..]) else { return 0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

fn machine_busy() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> =
        text.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    [0, 1, 2, 5, 6, 7].iter().map(|&i| v.get(i).copied().unwrap_or(0)).sum()
}

fn snap(server_pid: Option<u32>) -> Snap {
    Snap {
        at: Instant::now(),
        busy: machine_busy(),
        server: server_pid.map(|p| proc_ticks(&format!("/proc/{p}/stat"))).unwrap_or(0),
        own: proc_ticks("/proc/self/stat"),
    }
}

fn cpu_between(a: Snap, b: Snap) -> Value {
    let wall = (b.at - a.at).as_secs_f64();
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let secs = |t: u64| t as f64 / TICK;
    let (busy, server, own) = (secs(b.busy - a.busy), secs(b.server - a.server), secs(b.own - a.own));
    let other = (busy - server - own).max(0.0);
    json!({
        "wall_s": round(wall, 2),
        "server_cpu_pct": round(100.0 * server / wall, 1),
        "loadgen_cpu_pct": round(100.0 * own / wall, 1),
        "machine_busy_pct": round(100.0 * busy / (wall * ncpu), 1),
        "other_pct_of_machine": round(100.0 * other / (wall * ncpu), 1),
        "server_cpu_s": round(server, 2),
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn memory(pid: Option<u32>) -> Value {
    let Some(pid) = pid else { return Value::Null };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    json!({ "vm_rss_kib": kib("VmRSS:"), "vm_hwm_kib": kib("VmHWM:"), "threads": kib("Threads:"), "fds": fds })
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn percentiles(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[(((v.len() - 1) as f64) * p).round() as usize];
    json!({ "n": v.len(), "p50": round(at(0.5), 3), "p90": round(at(0.9), 3), "p99": round(at(0.99), 3),
            "max": round(v[v.len() - 1], 3), "min": round(v[0], 3) })
}

fn wait_idle(args: &Args) {
    if let Some(cmd) = &args.idle_cmd {
        let _ = std::process::Command::new("sh").arg("-c").arg(cmd).status();
    }
}

// --- HTTP helpers ----------------------------------------------------------------------

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Result<(u16, Value)> {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok((status, value))
    }

    async fn expect(&self, path: &str, body: &Value, token: Option<&str>, want: u16) -> Result<Value> {
        let (status, value) = self.post(path, body, token).await?;
        if status != want {
            bail!("POST {path}: {status} {value}");
        }
        Ok(value)
    }

    async fn create_payment(&self, c: &Customer, n: usize) -> Result<(String, String)> {
        let body = json!({ "kind": "payment", "amount": format!("{}.{:02}", 1 + n % 900, n % 100), "currency": "EUR",
                           "payee": "Bench Payee", "iban": IBAN });
        let v = self.expect("/api/v1/operations", &body, Some(&c.token), 201).await?;
        let id = v["id"].as_str().context("operation id")?.to_owned();
        let qr = v["qr"].as_str().context("operation qr (no bound phone?)")?.to_owned();
        Ok((id, qr))
    }

    /// Opens an operation's event stream and reads up to its first event.
    async fn open_events(&self, c: &Customer, id: &str) -> Result<Stream> {
        let resp = self
            .client
            .get(self.url(&format!("/api/v1/operations/{id}/events")))
            .bearer_auth(&c.token)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("GET events: {}", resp.status());
        }
        let mut s = Stream { resp, buf: String::new() };
        let first = s.next_status().await?;
        if !first.contains("\"status\":\"pending\"") {
            bail!("first event is not pending: {first}");
        }
        Ok(s)
    }
}

struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    /// The data of the next `status` event.
    async fn next_status(&mut self) -> Result<String> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: status") {
                    return block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .map(str::to_owned)
                        .context("event data");
                }
                continue;
            }
            let chunk = self.resp.chunk().await?.ok_or_else(|| anyhow!("the stream ended"))?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

// --- setup -----------------------------------------------------------------------------

fn sms_code(outbox: &Value, phone: &str) -> Option<String> {
    outbox.as_array()?.iter().rev().filter(|m| m["channel"] == "sms" && m["to"] == phone).find_map(|m| {
        m["text"].as_str()?.split(|c: char| !c.is_ascii_digit()).find(|t| t.len() == 6).map(str::to_owned)
    })
}

async fn setup_customer(http: &Http, phone_number: &str, user_code: &str, password: &str) -> Result<Customer> {
    let flow = http.expect("/api/v1/login", &json!({ "username": user_code, "password": password }), None, 200).await?;
    let flow = flow["flow"].as_str().context("flow")?.to_owned();
    http.expect(&format!("/api/v1/login/{flow}/sms"), &json!({}), None, 202).await?;
    let outbox: Value = http.client.get(http.url("/dev/outbox")).send().await?.json().await?;
    let code = sms_code(&outbox, phone_number).context("no SMS OTP in /dev/outbox (dev mode?)")?;
    let grant = http.expect(&format!("/api/v1/login/{flow}/otp"), &json!({ "code": code }), None, 200).await?;
    let token = grant["token"].as_str().context("token")?.to_owned();
    let (status, v) =
        http.post("/api/v1/password", &json!({ "current": password, "new": NEW_PASSWORD }), Some(&token)).await?;
    if status != 204 {
        bail!("first access: {status} {v}");
    }
    let issued = http.expect("/api/v1/devices/activation", &json!({}), Some(&token), 201).await?;
    let activation = issued["code"].as_str().context("activation code")?;
    let mut phone = Device::new(
        State { version: State::VERSION, ..State::default() },
        FileKeystore::in_memory(),
        "bench phone",
        "android",
    );
    let bound = phone.activate(&http.base, activation, PIN, false, now_ms()).await?;
    if bound.status != "active" {
        bail!("binding is {}", bound.status);
    }
    let user = phone.state.user(None)?.clone();
    let knowledge = sigillo_device::device::knowledge_candidate(&user, PIN)?;
    Ok(Customer {
        phone_number: phone_number.to_owned(),
        token,
        binding: user.binding.clone(),
        possession_alias: user.possession_alias(),
        phone,
        knowledge,
    })
}

async fn setup(http: &Arc<Http>, args: &Args) -> Result<Vec<Arc<Customer>>> {
    let text = std::fs::read_to_string(&args.users).with_context(|| format!("reading {}", args.users.display()))?;
    let mut users = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (phone, env) = line.split_once(' ').context("a users line is `PHONE ENVELOPE_JSON`")?;
        let env: Value = serde_json::from_str(env).context("envelope")?;
        let code = env["user_code"].as_str().context("user_code")?.to_owned();
        let password = env["initial_password"].as_str().context("initial_password")?.to_owned();
        users.push((phone.to_owned(), code, password));
    }
    let users = Arc::new(users);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.setup_conns {
        let (http, users, next) = (http.clone(), users.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((phone, code, password)) = users.get(i) else { break };
                let c = setup_customer(&http, phone, code, password).await.with_context(|| format!("user {code}"))?;
                out.push((i, Arc::new(c)));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, c)| c).collect())
}

// --- approvals -----------------------------------------------------------------------

struct Sample {
    done: Instant,
    total_ms: f64,
    wake_from_response_ms: f64,
    wake_from_send_ms: f64,
    approve_rtt_ms: f64,
}

async fn one_approval(http: &Http, c: &Customer, n: usize) -> Result<Sample> {
    let t0 = Instant::now();
    let (id, qr) = http.create_payment(c, n).await?;
    // The QR carries the exact operation bytes the phone signs (PROTOCOL.md §15).
    let operation = qr.split(':').nth(1).and_then(unb64).context("qr operation bytes")?;
    let mut stream = http.open_events(c, &id).await?;
    let ch = http.expect("/device/v1/challenge", &json!({ "binding": c.binding }), None, 200).await?;
    let challenge_text = ch["challenge"].as_str().context("challenge")?.to_owned();
    let challenge = unb64(&challenge_text).context("challenge bytes")?;
    let possession = c
        .phone
        .keystore
        .sign(&c.possession_alias, &messages::approval(Factor::Possession, &c.binding, &challenge, &operation))?;
    let knowledge = c.knowledge.sign(&messages::approval(Factor::Knowledge, &c.binding, &challenge, &operation));
    let header = Signatures::default().with(Factor::Possession, possession).with(Factor::Knowledge, knowledge).header();
    let sent = Instant::now();
    let approve = async {
        let resp = http
            .client
            .post(http.url(&format!("/device/v1/operations/{id}/approve")))
            .header("Sigillo-Binding", &c.binding)
            .header("Sigillo-Challenge", &challenge_text)
            .header("Sigillo-Signature", &header)
            .send()
            .await?;
        let at = Instant::now();
        let status = resp.status();
        let body = resp.bytes().await?;
        if status.as_u16() != 204 {
            bail!("approve: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok::<_, anyhow::Error>(at)
    };
    let woken = async {
        let data = stream.next_status().await?;
        let at = Instant::now();
        if !data.contains("\"status\":\"approved\"") {
            bail!("event is not approved: {data}");
        }
        Ok::<_, anyhow::Error>(at)
    };
    let (answered, woken) = tokio::join!(approve, woken);
    let (answered, woken) = (answered?, woken?);
    let ms = |later: Instant, earlier: Instant| {
        if later >= earlier { (later - earlier).as_secs_f64() * 1e3 } else { -((earlier - later).as_secs_f64() * 1e3) }
    };
    Ok(Sample {
        done: woken.max(answered),
        total_ms: ms(woken.max(answered), t0),
        wake_from_response_ms: ms(woken, answered),
        wake_from_send_ms: ms(woken, sent),
        approve_rtt_ms: ms(answered, sent),
    })
}

async fn approvals(http: &Arc<Http>, customers: &[Arc<Customer>], args: &Args, n: usize) -> Result<Value> {
    wait_idle(args);
    log(&format!("approvals: {n} pipelines, {} s warm-up + {} s", args.warmup, args.secs));
    if customers.len() < n {
        log(&format!("WARNING: {} users for {n} pipelines: pipelines share users", customers.len()));
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let deadline = measure_from + Duration::from_secs(args.secs);
    let pid = args.server_pid;
    let snaps = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let a = snap(pid);
        tokio::time::sleep_until(deadline.into()).await;
        (a, snap(pid))
    });
    let mut tasks = Vec::new();
    for p in 0..n {
        let mine: Vec<Arc<Customer>> = if customers.len() >= n {
            customers.iter().skip(p).step_by(n).cloned().collect()
        } else {
            vec![customers[p % customers.len()].clone()]
        };
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let (mut samples, mut errors, mut first_error) = (Vec::new(), 0usize, None::<String>);
            let mut k = 0usize;
            while Instant::now() < deadline {
                let c = &mine[k % mine.len()];
                k += 1;
                match one_approval(&http, c, k).await {
                    Ok(s) => samples.push(s),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (samples, errors, first_error)
        }));
    }
    let mut samples = Vec::new();
    let (mut errors, mut first_error) = (0usize, None);
    for t in tasks {
        let (s, e, f) = t.await?;
        samples.extend(s);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let (a, b) = snaps.await?;
    let measured: Vec<&Sample> = samples.iter().filter(|s| s.done >= measure_from && s.done <= deadline).collect();
    let rate = measured.len() as f64 / args.secs as f64;
    let negative = measured.iter().filter(|s| s.wake_from_response_ms < 0.0).count();
    let cpu = cpu_between(a, b);
    let server_cpu_s = cpu["server_cpu_s"].as_f64().unwrap_or(0.0);
    log(&format!(
        "  {rate:.0} approvals/s, {errors} errors{}",
        first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
    ));
    Ok(json!({
        "pipelines": n, "secs": args.secs, "warmup": args.warmup, "completed": measured.len(),
        "approvals_per_sec": round(rate, 1), "errors": errors, "first_error": first_error,
        "server_cpu_ms_per_approval": if measured.is_empty() { Value::Null } else { json!(round(1e3 * server_cpu_s / measured.len() as f64, 3)) },
        "latency_ms": {
            "complete": percentiles(measured.iter().map(|s| s.total_ms).collect()),
            "wake_from_approve_response": percentiles(measured.iter().map(|s| s.wake_from_response_ms).collect()),
            "wake_from_approve_sent": percentiles(measured.iter().map(|s| s.wake_from_send_ms).collect()),
            "approve_round_trip": percentiles(measured.iter().map(|s| s.approve_rtt_ms).collect()),
        },
        "event_before_response": negative,
        "cpu": cpu,
    }))
}

// --- OTP -------------------------------------------------------------------------------

/// Creates `count` payments round-robin over the customers, with their correct codes.
async fn precreate(
    http: &Arc<Http>,
    customers: &[Arc<Customer>],
    count: usize,
    conns: usize,
    with_codes: bool,
) -> Result<Vec<(usize, String, String)>> {
    let next = Arc::new(AtomicUsize::new(0));
    let customers: Arc<Vec<Arc<Customer>>> = Arc::new(customers.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (http, customers, next) = (http.clone(), customers.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let u = i % customers.len();
                let c = &customers[u];
                let (id, qr) = http.create_payment(c, i).await?;
                let code =
                    if with_codes { c.phone.transaction_otp(None, &qr, PIN, now_ms())?.code } else { String::new() };
                out.push((i, u, id, code));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|x| x.0);
    Ok(all.into_iter().map(|(_, u, id, code)| (u, id, code)).collect())
}

async fn otp(http: &Arc<Http>, customers: &[Arc<Customer>], args: &Args, wrong: bool) -> Result<Value> {
    let (name, want) = if wrong { ("wrong", 401u16) } else { ("otp", 200u16) };
    // 5 consecutive wrong codes suspend a binding (P2): at most 4 per user.
    let count = if wrong { args.wrong_ops.min(4 * customers.len()) } else { args.otp_ops };
    log(&format!("{name}: creating {count} payments and their codes (not measured)"));
    let t = Instant::now();
    let mut ops = precreate(http, customers, count, args.otp_conns, true).await?;
    let create_rate = count as f64 / t.elapsed().as_secs_f64();
    if wrong {
        for op in &mut ops {
            let n: u32 = op.2.parse().unwrap_or(0);
            op.2 = format!("{:08}", (n + 1) % 100_000_000);
        }
    }
    wait_idle(args);
    log(&format!("{name}: {count} verifications over {} connections, at most {} s", args.otp_conns, args.secs));
    let ops = Arc::new(ops);
    let customers: Arc<Vec<Arc<Customer>>> = Arc::new(customers.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let a = snap(args.server_pid);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.otp_conns {
        let (http, ops, customers, next) = (http.clone(), ops.clone(), customers.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut unexpected, mut first) = (Vec::new(), 0usize, None::<String>);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((u, id, code)) = ops.get(i) else { break };
                let t = Instant::now();
                let r = http
                    .post(&format!("/api/v1/operations/{id}/otp"), &json!({ "code": code }), Some(&customers[*u].token))
                    .await;
                match r {
                    Ok((s, _)) if s == want => lat.push(t.elapsed().as_secs_f64() * 1e3),
                    Ok((s, v)) => {
                        unexpected += 1;
                        first.get_or_insert_with(|| format!("{s} {v}"));
                    }
                    Err(e) => {
                        unexpected += 1;
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (lat, unexpected, first)
        }));
    }
    let (mut lat, mut unexpected, mut first) = (Vec::new(), 0usize, None);
    for t in tasks {
        let (l, u, f) = t.await?;
        lat.extend(l);
        unexpected += u;
        if first.is_none() {
            first = f;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let b = snap(args.server_pid);
    let rate = lat.len() as f64 / elapsed;
    let cpu = cpu_between(a, b);
    let server_cpu_s = cpu["server_cpu_s"].as_f64().unwrap_or(0.0);
    log(&format!("  {rate:.0} verifications/s ({} answered {want}, {unexpected} other)", lat.len()));
    Ok(json!({
        "kind": name, "expected_status": want, "prepared": count, "connections": args.otp_conns,
        "verified": lat.len(), "unexpected": unexpected, "first_unexpected": first, "elapsed_s": round(elapsed, 2),
        "per_sec": round(rate, 1), "create_per_sec_unmeasured": round(create_rate, 1),
        "server_cpu_ms_per_verification": if lat.is_empty() { Value::Null } else { json!(round(1e3 * server_cpu_s / lat.len() as f64, 3)) },
        "latency_ms": percentiles(lat), "cpu": cpu,
    }))
}

// --- SSE waiters -----------------------------------------------------------------------

async fn sse(http: &Arc<Http>, customers: &[Arc<Customer>], args: &Args) -> Result<Value> {
    let distinct = args.sse_ops.clamp(1, args.sse.max(1));
    log(&format!("sse: creating {distinct} payments to follow (not measured)"));
    let ops = Arc::new(precreate(http, customers, distinct, args.otp_conns, false).await?);
    wait_idle(args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = memory(args.server_pid);
    log(&format!("sse: opening {} streams; server before: {before}", args.sse));
    let customers: Arc<Vec<Arc<Customer>>> = Arc::new(customers.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let a_open = snap(args.server_pid);
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let (http, ops, customers, next) = (http.clone(), ops.clone(), customers.clone(), next.clone());
        let total = args.sse;
        tasks.push(tokio::spawn(async move {
            let (mut held, mut failed, mut first) = (Vec::new(), 0usize, None::<String>);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (u, id, _) = &ops[i % ops.len()];
                match http.open_events(&customers[*u], id).await {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        failed += 1;
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (held, failed, first)
        }));
    }
    let (mut held, mut failed, mut first) = (Vec::new(), 0usize, None);
    for t in tasks {
        let (h, f, e) = t.await?;
        held.extend(h);
        failed += f;
        if first.is_none() {
            first = e;
        }
    }
    let open_s = t.elapsed().as_secs_f64();
    let open_cpu = cpu_between(a_open, snap(args.server_pid));
    log(&format!("  {} open ({failed} failed) in {open_s:.1} s", held.len()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = memory(args.server_pid);
    let a = snap(args.server_pid);
    tokio::time::sleep(Duration::from_secs(args.sse_hold)).await;
    let hold_cpu = cpu_between(a, snap(args.server_pid));
    let with_after_hold = memory(args.server_pid);
    log(&format!("  server with them open: {with}; after {} s: {with_after_hold}", args.sse_hold));
    let open = held.len();
    drop(held);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = memory(args.server_pid);
    log(&format!("  closed; server after: {after}"));
    let per_stream = match (before["vm_rss_kib"].as_u64(), with["vm_rss_kib"].as_u64()) {
        (Some(b), Some(w)) if open > 0 => json!(round((w as f64 - b as f64) / open as f64, 2)),
        _ => Value::Null,
    };
    Ok(json!({
        "streams": args.sse, "distinct_operations": distinct, "open": open, "failed": failed, "first_failure": first,
        "open_s": round(open_s, 2), "open_cpu": open_cpu, "hold_s": args.sse_hold, "hold_cpu": hold_cpu,
        "memory": { "before": before, "with_streams": with, "with_streams_after_hold": with_after_hold, "after_close": after },
        "rss_kib_per_stream": per_stream,
    }))
}

// --- main ------------------------------------------------------------------------------

async fn run(args: Args) -> Result<Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()?;
    let http = Arc::new(Http { client, base: args.server.trim_end_matches('/').to_owned() });
    let t = Instant::now();
    let customers = setup(&http, &args).await?;
    log(&format!("setup: {} users with a bound phone in {:.1} s", customers.len(), t.elapsed().as_secs_f64()));
    if customers.is_empty() {
        bail!("no users");
    }
    let distinct_phones: std::collections::HashSet<&str> = customers.iter().map(|c| c.phone_number.as_str()).collect();
    let mut out = json!({ "users": customers.len(), "distinct_phones": distinct_phones.len(),
                          "setup_s": round(t.elapsed().as_secs_f64(), 1), "loadgen_threads": args.threads });
    for phase in &args.phases {
        match phase.as_str() {
            "approvals" => {
                let mut runs = Vec::new();
                for &n in &args.pipelines {
                    runs.push(approvals(&http, &customers, &args, n).await?);
                }
                out["approvals"] = Value::Array(runs);
            }
            "otp" => out["otp"] = otp(&http, &customers, &args, false).await?,
            "wrong" => out["wrong"] = otp(&http, &customers, &args, true).await?,
            "sse" => out["sse"] = sse(&http, &customers, &args).await?,
            other => bail!("unknown phase {other}"),
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build()?;
    let out = rt.block_on(run(args))?;
    println!("{out}");
    Ok(())
}
