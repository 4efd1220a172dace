// Helpers for sigillo's browser end-to-end tests: a dev-mode server per test file, users
// from the branch envelope, the dev outbox (SMS and email), and Chromium pages that
// screenshot every page they visit.
//
// Environment:
//   SIGILLO_BIN       the sigillo binary (default: ../target/debug/sigillo from this folder)
//   SIGILLO_DEVICE_BIN  the sigillo-device CLI, the phone (default: ../target/debug/sigillo-device)
//   SIGILLO_3DS_SIM_BIN the 3DS Server + Directory Server simulator, for the ACS tests
//                     (default: ../target/debug/sigillo-3ds-sim)
//   CHROMIUM_PATH     the browser (default: /usr/bin/chromium, Debian's package)
//   SIGILLO_E2E_KEEP  set to 1 to keep each server's temporary directory (and, on
//                     PostgreSQL, its database)
//   SIGILLO_E2E_POSTGRES_URL  e.g. postgres://postgres@127.0.0.1:5432/test: each server
//                     gets a fresh database created over this URL (sigillo_e2e_<random>),
//                     dropped when it stops; artefacts go to artifacts/postgres/. Unset:
//                     SQLite in the server's temporary directory.

import { chromium } from 'playwright-core';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';

const execFileP = promisify(execFile);

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
/** The PostgreSQL server the servers' databases are created on, or null for SQLite. */
export const POSTGRES_URL = process.env.SIGILLO_E2E_POSTGRES_URL || null;
/** `postgres` or `sqlite`: the database the servers under test run on. */
export const DATABASE = POSTGRES_URL ? 'postgres' : 'sqlite';
// A PostgreSQL run keeps its screenshots and logs apart from the SQLite run's.
export const ARTIFACTS = POSTGRES_URL ? join(E2E_DIR, 'artifacts', 'postgres') : join(E2E_DIR, 'artifacts');
export const BIN = process.env.SIGILLO_BIN
  ? resolve(process.env.SIGILLO_BIN)
  : resolve(E2E_DIR, '..', 'target', 'debug', 'sigillo');
export const DEVICE_BIN = process.env.SIGILLO_DEVICE_BIN
  ? resolve(process.env.SIGILLO_DEVICE_BIN)
  : resolve(E2E_DIR, '..', 'target', 'debug', 'sigillo-device');
export const SIM_BIN = process.env.SIGILLO_3DS_SIM_BIN
  ? resolve(process.env.SIGILLO_3DS_SIM_BIN)
  : resolve(E2E_DIR, '..', 'target', 'debug', 'sigillo-3ds-sim');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

mkdirSync(ARTIFACTS, { recursive: true });

/** The Italian texts the tests look for (locales/it.toml), and a few English ones. */
export const IT = {
  authFailed: 'Autenticazione non riuscita. Controlla i dati inseriti e riprova.',
  passwordMismatch: 'Le due password non coincidono.',
  csrf: 'La pagina è scaduta. Ricaricala e riprova.',
  flowOver: "L'operazione è scaduta o è già stata completata. Ricomincia.",
  loginTitle: 'Accedi',
  welcome: 'Benvenuto',
  firstAccessTitle: 'Primo accesso',
  firstAccessDone: "Fatto! La tua nuova password è attiva. Ti abbiamo inviato un'email per verificare il tuo indirizzo.",
  emailVerifiedDone: 'Indirizzo email confermato. Ti abbiamo inviato un\'email di conferma.',
  emailVerified: 'verificata',
  recoveryTitle: 'Recupera la password',
  recoveryDone: "La nuova password è attiva e l'utenza è sbloccata. Ora puoi accedere.",
  passwordChanged: 'La password è stata cambiata.',
  otpResent: 'Ti abbiamo inviato un nuovo codice.',
  otpSent: 'Ti abbiamo inviato un codice via SMS.',
  switchLanguage: 'English',
};
export const EN = {
  authFailed: 'Authentication failed. Check what you entered and try again.',
  loginTitle: 'Sign in',
  recoveryTitle: 'Recover your password',
  switchLanguage: 'Italiano',
};

/** A file-name-safe form of a test name. */
export function slug(s) {
  return String(s)
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'x';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** The environment for sigillo: ours, less any SIGILLO_* configuration (the tests want
 *  dev mode in their own directory, on the database the harness chose). */
function serverEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SIGILLO_')) env[k] = v;
  }
  env.NO_COLOR = '1';
  return env;
}

// PostgreSQL databases created by this process and not yet dropped.
const liveDatabases = new Set();

/** Runs one SQL statement with psql over SIGILLO_E2E_POSTGRES_URL. */
async function psql(sql) {
  await execFileP('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', POSTGRES_URL, '-c', sql], { timeout: 30_000 });
}

/** A fresh, empty PostgreSQL database: `{ name, url }`, `url` being the base URL with
 *  the database name in its path. */
async function createDatabase() {
  const name = `sigillo_e2e_${randomBytes(6).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  liveDatabases.add(name);
  try {
    await psql(`CREATE DATABASE ${name}`);
  } catch (e) {
    liveDatabases.delete(name);
    throw new Error(`could not create the PostgreSQL database ${name} over SIGILLO_E2E_POSTGRES_URL: ${e.stderr || e.message}`);
  }
  return { name, url: url.toString() };
}

/** Drops a database made by `createDatabase` (closing whatever still holds it). */
async function dropDatabase(name) {
  if (!name || !liveDatabases.has(name)) return;
  if (process.env.SIGILLO_E2E_KEEP === '1') {
    liveDatabases.delete(name);
    return;
  }
  await psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  liveDatabases.delete(name);
}

/**
 * Starts `sigillo serve` in dev mode in a fresh temporary directory on a free port and
 * waits until `GET /healthz` answers 200. Its output goes to artifacts/server-<name>.log.
 * `config` (optional) is TOML added to the server's configuration file. The database is
 * `./sigillo.db` in that directory, or, with SIGILLO_E2E_POSTGRES_URL, a fresh PostgreSQL
 * database given with `--database-url` (to `serve` and to the admin commands alike).
 */
export async function startServer(name, { config: extraConfig = '' } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`sigillo binary not found at ${BIN}: run \`cargo build -p sigillo-server\` or set SIGILLO_BIN`);
  }
  const logPath = join(ARTIFACTS, `server-${slug(name)}.log`);
  const log = createWriteStream(logPath, { flags: 'w' });
  let lastError;
  for (let tryNo = 1; tryNo <= 3; tryNo++) {
    const dir = await mkdtemp(join(tmpdir(), 'sigillo-e2e-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = serverEnv();
    let database = null;
    try {
      database = POSTGRES_URL ? await createDatabase() : null;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      log.end();
      throw e;
    }
    // Options every `sigillo` command of this server takes (before the subcommand).
    const globalArgs = database ? ['--database-url', database.url] : [];
    if (database) env.SIGILLO_DATABASE_URL = database.url;
    // The public URL (the origin of the links in emails) is this server's. It is set
    // with a configuration file in the server's directory, which also leaves everything
    // else at the dev-mode defaults (./sigillo.db unless on PostgreSQL, the dev key file).
    const config = join(dir, 'sigillo-e2e.toml');
    writeFileSync(config, `public_url = "${url}"\n${extraConfig ? `${extraConfig.trim()}\n` : ''}`);
    const args = ['--config', config, ...globalArgs, 'serve', '--listen', `127.0.0.1:${port}`];
    log.write(`### try ${tryNo} on ${DATABASE}: ${BIN} ${args.join(' ')} (cwd ${dir})\n`);
    const child = spawn(BIN, args, {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let exited = null;
    const exitPromise = new Promise((r) => child.once('exit', (code, signal) => {
      exited = { code, signal };
      r(exited);
    }));
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (Date.now() < deadline && !exited) {
      try {
        const r = await fetch(`${url}/healthz`);
        if (r.status === 200) {
          healthy = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    if (healthy) {
      running.add(child);
      child.once('exit', () => running.delete(child));
      return new Server({ name, url, port, dir, env, config, globalArgs, database, child, exitPromise, log, logPath });
    }
    lastError = exited
      ? new Error(`sigillo exited early (${JSON.stringify(exited)}); see ${logPath}`)
      : new Error(`sigillo did not answer /healthz within 60 s; see ${logPath}`);
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
    await rm(dir, { recursive: true, force: true });
    await dropDatabase(database?.name).catch((e) => log.write(`### dropping ${database.name}: ${e.stderr || e.message}\n`));
  }
  log.end();
  throw lastError;
}

// Servers still running when this process ends (a crash, an interrupted run) go with it,
// and so do their PostgreSQL databases.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  if (process.env.SIGILLO_E2E_KEEP === '1') return;
  for (const name of liveDatabases) {
    try {
      execFileSync('psql', ['-X', '-q', '-d', POSTGRES_URL, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore', timeout: 15_000 });
    } catch {
      // scripts/test.sh drops what is left (sigillo_e2e_%) on its next run
    }
  }
});
// An interrupted run (Ctrl-C, the test runner's kill) ends through 'exit' above.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
}

let phoneCounter = 0;

export class Server {
  constructor({ name, url, port, dir, env, config, globalArgs, database, child, exitPromise, log, logPath }) {
    Object.assign(this, { name, url, port, dir, env, config, globalArgs, database, child, exitPromise, log, logPath });
  }

  /** A phone number and email no other user of this server has (the dev demo user
   *  has +393331234567). */
  newIdentity() {
    phoneCounter += 1;
    const n = String(phoneCounter).padStart(6, '0');
    return { phone: `+3933380${n.slice(-5)}`, email: `cliente${n}@example.it` };
  }

  /** `sigillo admin user create … --json` with the server's directory, configuration and
   *  database: the envelope
   *  `{user_code, initial_password, security_code}`, plus the phone and email. */
  async createUser(identity = this.newIdentity()) {
    const { phone, email } = identity;
    const { stdout } = await execFileP(
      BIN,
      ['--config', this.config, ...this.globalArgs, 'admin', 'user', 'create', '--phone', phone, '--email', email, '--json'],
      { cwd: this.dir, env: this.env, timeout: 30_000 },
    );
    const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
    assert.ok(line, `admin user create printed no JSON: ${stdout}`);
    const envelope = JSON.parse(line);
    assert.match(envelope.user_code, /^\d{8}$/);
    assert.ok(envelope.initial_password, 'envelope has an initial password');
    assert.match(envelope.security_code.replace(/-/g, ''), /^[0-9A-Z]{20}$/);
    return { ...envelope, phone, email };
  }

  /** `sigillo admin card create --pan - … --json` on this server's database (the PAN on
   *  standard input, so it is in no process list): `{card_id, last4}`. `holder` is a
   *  user code, or null for a holder without web banking; `expiry` is YYMM. */
  async createCard({ pan, brand = 'visa', holder = null, phone, expiry = null }) {
    const args = ['--config', this.config, ...this.globalArgs, 'admin', 'card', 'create', '--pan', '-', '--brand', brand, '--phone', phone, '--json'];
    if (holder) args.push('--holder', holder);
    if (expiry) args.push('--expiry', expiry);
    const stdout = await new Promise((res, rej) => {
      const child = execFile(BIN, args, { cwd: this.dir, env: this.env, timeout: 30_000 }, (err, out, errOut) => {
        if (err) rej(new Error(`admin card create failed: ${errOut || err.message}`));
        else res(out);
      });
      child.stdin.end(`${pan}\n`);
    });
    const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
    assert.ok(line, `admin card create printed no JSON: ${stdout}`);
    const card = JSON.parse(line);
    assert.ok(card.card_id, 'the card has an id');
    assert.equal(card.last4, pan.slice(-4));
    return card;
  }

  /** `sigillo admin legacy import --bank ID FILE --json` on this server's database: an
   *  acquired bank's customers (DESIGN flow 10), `rows` being objects with the file's
   *  columns (`legacy_code`, `password_hash`, `phone`, `email`, `name`, `token`), written
   *  as CSV with every field quoted. Returns the import's report
   *  (`{imported, updated, unchanged, already_activated, rejected}`); exit status 2 (some
   *  rows rejected) is not an error here, any other failure is. */
  async importLegacy(bankId, rows) {
    const columns = ['legacy_code', 'password_hash', 'phone', 'email', 'name', 'token'];
    const quote = (v) => `"${String(v ?? '').replace(/"/g, '""')}"`;
    const csv = [columns.join(','), ...rows.map((r) => columns.map((c) => quote(r[c])).join(','))].join('\n');
    const file = join(this.dir, `legacy-${slug(bankId)}-${randomBytes(4).toString('hex')}.csv`);
    writeFileSync(file, `${csv}\n`);
    const args = ['--config', this.config, ...this.globalArgs, 'admin', 'legacy', 'import', '--bank', bankId, file, '--json'];
    const { code, stdout, stderr } = await new Promise((res) => {
      execFile(BIN, args, { cwd: this.dir, env: this.env, timeout: 30_000 }, (err, out, errOut) => {
        res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: out, stderr: errOut });
      });
    });
    rmSync(file, { force: true });
    assert.ok(code === 0 || code === 2, `admin legacy import failed (exit ${code}): ${stderr || stdout}`);
    const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
    assert.ok(line, `admin legacy import printed no JSON: ${stdout}${stderr}`);
    return JSON.parse(line);
  }

  /** `GET /dev/outbox`: every SMS and email, newest last. */
  async outbox() {
    const r = await fetch(`${this.url}/dev/outbox`);
    assert.equal(r.status, 200, 'GET /dev/outbox');
    return r.json();
  }

  /** What the outbox holds now; pass it as `since` to look only at what comes later. */
  async mark() {
    return new Set((await this.outbox()).map(msgKey));
  }

  /** Messages not in `since` (what arrived after that mark), oldest first. */
  async newMessages(since) {
    return (await this.outbox()).filter((m) => !since.has(msgKey(m)));
  }

  /** Messages matching `pred` that are not in `since`, waiting (polling) until at least
   *  one is there. Returns them oldest first. */
  async waitForMessages(pred, { since = new Set(), timeout = 5000 } = {}) {
    const deadline = Date.now() + timeout;
    let last = [];
    for (;;) {
      last = await this.outbox();
      const found = last.filter((m) => !since.has(msgKey(m)) && pred(m));
      if (found.length > 0) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching message in the outbox after ${timeout} ms; outbox: ${JSON.stringify(last.slice(-8), null, 1)}`);
      }
      await sleep(50);
    }
  }

  /** The newest message matching `pred` (not in `since`). */
  async waitForMessage(pred, opts) {
    const found = await this.waitForMessages(pred, opts);
    return found[found.length - 1];
  }

  /** The 6-digit code in the newest SMS to `phone` (not in `since`). */
  async smsCode(phone, since, textPart = null) {
    const m = await this.waitForMessage(
      (m) => m.channel === 'sms' && m.to === phone && /\b\d{6}\b/.test(m.text) && (!textPart || m.text.includes(textPart)),
      { since },
    );
    return m.text.match(/\b(\d{6})\b/)[1];
  }

  /** The server's log so far. */
  logText() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  /** A JSON API call. */
  async api(method, path, body, token) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, json };
  }

  /** A user past first access, set up through the JSON API (not what is under test):
   *  password `password`, optional alias, email not yet validated. */
  async createActiveUser({ password = '58301649', alias = null } = {}) {
    const user = await this.createUser();
    const since = await this.mark();
    const login = await this.api('POST', '/api/v1/login', { username: user.user_code, password: user.initial_password });
    assert.equal(login.status, 200, `API login: ${JSON.stringify(login.json)}`);
    const sms = await this.api('POST', `/api/v1/login/${login.json.flow}/sms`);
    assert.equal(sms.status, 202, `API login sms: ${JSON.stringify(sms.json)}`);
    const code = await this.smsCode(user.phone, since);
    const otp = await this.api('POST', `/api/v1/login/${login.json.flow}/otp`, { code });
    assert.equal(otp.status, 200, `API login otp: ${JSON.stringify(otp.json)}`);
    assert.equal(otp.json.must_change_password, true);
    const body = { current: user.initial_password, new: password };
    if (alias) body.alias = alias;
    const pw = await this.api('POST', '/api/v1/password', body, otp.json.token);
    assert.equal(pw.status, 204, `API first password: ${JSON.stringify(pw.json)}`);
    await this.api('POST', '/api/v1/logout', undefined, otp.json.token);
    return { ...user, password, alias };
  }

  /** A full API session (password, then the SMS code from the outbox) of a user past
   *  first access: its bearer token. */
  async apiLogin(user, username = user.user_code, password = user.password) {
    const since = await this.mark();
    const login = await this.api('POST', '/api/v1/login', { username, password });
    assert.equal(login.status, 200, `API login: ${JSON.stringify(login.json)}`);
    const sms = await this.api('POST', `/api/v1/login/${login.json.flow}/sms`);
    assert.equal(sms.status, 202, `API login sms: ${JSON.stringify(sms.json)}`);
    const code = await this.smsCode(user.phone, since);
    const otp = await this.api('POST', `/api/v1/login/${login.json.flow}/otp`, { code });
    assert.equal(otp.status, 200, `API login otp: ${JSON.stringify(otp.json)}`);
    assert.equal(otp.json.must_change_password, false, 'the user is past first access');
    return otp.json.token;
  }

  /** A phone with the sigillo app, played by `sigillo-device` with its own state file in
   *  this server's directory. */
  phone(name) {
    return new Phone(this, name);
  }

  /** A user past first access with one phone bound (through the JSON API, which is not
   *  what these tests are about): `{ user, phone }`, the phone's Smart PIN being `pin`.
   *  The phone is left with nothing to approve. */
  async createUserWithPhone({ alias = null, phoneName = 'Pixel 8', pin = '24680' } = {}) {
    const user = await this.createActiveUser({ alias });
    const token = await this.apiLogin(user);
    const issued = await this.api('POST', '/api/v1/devices/activation', undefined, token);
    assert.equal(issued.status, 201, `activation: ${JSON.stringify(issued.json)}`);
    const phone = this.phone(`${phoneName} ${user.user_code}`);
    const bound = await phone.activate(issued.json.code, pin);
    assert.equal(bound.status, 'active');
    await this.api('POST', '/api/v1/logout', undefined, token);
    return { user, phone, pin };
  }

  /** Stops the server, then removes its directory and drops its PostgreSQL database
   *  (unless SIGILLO_E2E_KEEP=1), whatever went wrong before. */
  async stop() {
    try {
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
        await this.exitPromise;
        clearTimeout(killer);
      }
      await new Promise((r) => this.log.end(r));
    } finally {
      if (process.env.SIGILLO_E2E_KEEP !== '1') {
        await rm(this.dir, { recursive: true, force: true });
      }
      await dropDatabase(this.database?.name);
    }
  }
}

function msgKey(m) {
  return JSON.stringify([m.channel, m.to, m.subject ?? null, m.text, m.at]);
}

/**
 * A phone: `sigillo-device --state <file> --json --name <name> …` against one server.
 * `run` gives `{ code, json }` whatever happened; `ok` expects success, `fails` a refusal
 * (`{"error", "message"}` and a non-zero exit).
 */
export class Phone {
  constructor(server, name) {
    if (!existsSync(DEVICE_BIN)) {
      throw new Error(`sigillo-device binary not found at ${DEVICE_BIN}: run \`cargo build -p sigillo-device\` or set SIGILLO_DEVICE_BIN`);
    }
    this.server = server;
    this.name = name;
    this.state = join(server.dir, `phone-${slug(name)}.json`);
  }

  /** Runs one command; its JSON output (the last line that is JSON) and exit code. */
  async run(...args) {
    const argv = ['--state', this.state, '--json', '--name', this.name, ...args.map(String)];
    const result = await new Promise((res) => {
      execFile(DEVICE_BIN, argv, { cwd: this.server.dir, env: serverEnv(), timeout: 30_000 }, (err, stdout, stderr) => {
        res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
    });
    const line = result.stdout.trim().split('\n').reverse().find((l) => /^[[{]/.test(l.trim()));
    let json = null;
    try { json = line ? JSON.parse(line) : null; } catch { json = null; }
    return { ...result, json, argv };
  }

  /** Runs a command that must succeed; its JSON. */
  async ok(...args) {
    const r = await this.run(...args);
    assert.equal(r.code, 0, `sigillo-device ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
    assert.ok(r.json !== null, `sigillo-device ${args.join(' ')} printed no JSON: ${r.stdout}`);
    return r.json;
  }

  /** Runs a command that must be refused; its `{error, message}`. */
  async fails(...args) {
    const r = await this.run(...args);
    assert.notEqual(r.code, 0, `sigillo-device ${args.join(' ')} should have failed: ${r.stdout}`);
    assert.ok(r.json && r.json.error, `sigillo-device ${args.join(' ')} printed no {error}: ${r.stdout}${r.stderr}`);
    return r.json;
  }

  /** The one pending operation of `kind` (`login`, `payment.credit_transfer`, …), as
   *  `pending` lists it: `{ id, kind, fields, numbers? }`. */
  async pendingOne(kind) {
    const ops = (await this.ok('pending')).filter((op) => op.kind === kind);
    assert.equal(ops.length, 1, `one pending ${kind}: ${JSON.stringify(ops)}`);
    return ops[0];
  }

  /** `activate --server <this server> <code|QR payload|png> --pin <pin>`. */
  activate(codeOrQr, pin, ...more) {
    return this.ok('activate', '--server', this.server.url, codeOrQr, '--pin', pin, ...more);
  }
}

/**
 * Starts `sigillo-3ds-sim serve`, the 3DS Server + Directory Server (and the merchant's
 * checkout page) for the ACS tests, and waits for its `listening on …` line. It listens
 * on 127.0.0.1 but calls itself `http://localhost:PORT` (`--public-url`), so the
 * merchant's pages and sigillo (on 127.0.0.1) are different sites, as in production: the
 * challenge runs in a third-party iframe. Its output goes to artifacts/sim-<name>.log.
 */
export async function startSim(name) {
  if (!existsSync(SIM_BIN)) {
    throw new Error(`sigillo-3ds-sim binary not found at ${SIM_BIN}: run \`cargo build -p sigillo-3ds-sim\` or set SIGILLO_3DS_SIM_BIN`);
  }
  const logPath = join(ARTIFACTS, `sim-${slug(name)}.log`);
  const log = createWriteStream(logPath, { flags: 'w' });
  let lastError;
  // The port must be known before the start (it is in the public URL): another process
  // may take it meanwhile, hence the retries.
  for (let tryNo = 1; tryNo <= 3; tryNo++) {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', url];
    log.write(`### try ${tryNo}: ${SIM_BIN} ${args.join(' ')}\n`);
    const child = spawn(SIM_BIN, args, { env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.pipe(log, { end: false });
    const exitPromise = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const started = await new Promise((res) => {
      let out = '';
      const timer = setTimeout(() => res(null), 30_000);
      const onData = (chunk) => {
        out += chunk;
        log.write(chunk);
        const line = out.split('\n').find((l) => l.startsWith('listening on '));
        if (line) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.pipe(log, { end: false });
          res(line.slice('listening on '.length).trim());
        }
      };
      child.stdout.on('data', onData);
      exitPromise.then(() => { clearTimeout(timer); res(null); });
    });
    if (started) {
      assert.equal(started, url, 'the simulator names itself by its public URL');
      running.add(child);
      child.once('exit', () => running.delete(child));
      return new Sim({ name, url, port, child, exitPromise, log, logPath });
    }
    lastError = new Error(`sigillo-3ds-sim did not start; see ${logPath}`);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitPromise;
  }
  log.end();
  throw lastError;
}

/** The running simulator and its JSON control endpoints (`/sim/…`). */
export class Sim {
  constructor({ name, url, port, child, exitPromise, log, logPath }) {
    Object.assign(this, { name, url, port, child, exitPromise, log, logPath });
  }

  async call(method, path, body) {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  /** `POST /sim/purchase`: an AReq for `purchase` (snake_case `Purchase` fields: `pan`,
   *  `amount_minor`, `merchant_name`, `window_size`, …) sent to the ACS of `server`:
   *  `{areq, response, http_status, checkout_url, problems}`. */
  purchase(server, purchase) {
    return this.call('POST', '/sim/purchase', { acs: server.url, ...purchase });
  }

  /** `GET /sim/rreqs`: the RReqs the DS processed, oldest first. */
  rreqs() {
    return this.call('GET', '/sim/rreqs');
  }

  /** `GET /sim/notifications`: the merchant's notifications (CRes posts), oldest first. */
  notifications() {
    return this.call('GET', '/sim/notifications');
  }

  /** `POST /sim/fail-next-rreqs`: the next `n` RReqs get HTTP 500. */
  failNextRreqs(n) {
    return this.call('POST', '/sim/fail-next-rreqs', { n });
  }

  /** The RReq for the ACS transaction `acsTransID`, waiting (polling) for it. */
  async waitForRreq(acsTransID, { timeout = 10_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = (await this.rreqs()).find((r) => r.acsTransID === acsTransID);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no RReq for ${acsTransID} after ${timeout} ms`);
      await sleep(100);
    }
  }

  /** The merchant's notification for `threeDSServerTransID`, waiting (polling) for it. */
  async waitForNotification(threeDSServerTransID, { timeout = 10_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = (await this.notifications()).find((n) => n.cres?.threeDSServerTransID === threeDSServerTransID);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no notification for ${threeDSServerTransID} after ${timeout} ms`);
      await sleep(100);
    }
  }

  logText() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exitPromise;
      clearTimeout(killer);
    }
    await new Promise((r) => this.log.end(r));
  }
}

/** Debian's Chromium, headless, with nothing that would reach the network by itself. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** A page name for screenshots, from a URL: `/` → home, `/login/otp` → login-otp. */
function pageName(url) {
  try {
    const path = new URL(url).pathname;
    return path === '/' ? 'home' : slug(path);
  } catch {
    return 'blank';
  }
}

/**
 * One test's browser: a fresh context (Italian unless `locale` says otherwise), one page,
 * and a screenshot of every page it visits (artifacts/<test>-<nn>-<page>.png).
 */
export class Visitor {
  constructor(server, name, context, page) {
    this.server = server;
    this.name = slug(name);
    this.context = context;
    this.page = page;
    this.shots = 0;
    this.console = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') this.console.push(msg.text());
    });
    page.on('pageerror', (err) => this.console.push(String(err)));
  }

  /** A screenshot of the page as it is now. */
  async snap(label) {
    this.shots += 1;
    const nn = String(this.shots).padStart(2, '0');
    const file = join(ARTIFACTS, `${this.name}-${nn}-${slug(label || pageName(this.page.url()))}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /** Opens a path of the server (or an absolute URL); returns the final response. */
  async goto(pathOrUrl, label) {
    const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : `${this.server.url}${pathOrUrl}`;
    const resp = await this.page.goto(url);
    await this.snap(label);
    return resp;
  }

  /** Clicks what submits a form or follows a link, waits for the page it leads to,
   *  screenshots it and returns its response (after redirects). */
  async click(selector, label) {
    const [resp] = await Promise.all([
      this.page.waitForNavigation({ waitUntil: 'load' }),
      this.page.click(selector),
    ]);
    await this.snap(label);
    return resp;
  }

  /** Submits a form by pressing its submit button. */
  submit(formSelector, label) {
    return this.click(`${formSelector} button[type=submit]`, label);
  }

  path() {
    return new URL(this.page.url()).pathname;
  }

  async text(selector) {
    return (await this.page.locator(selector).innerText()).trim();
  }

  async h1() {
    return this.text('h1');
  }

  /** The login form: username and password. Returns the response of the post. */
  async loginForm(username, password) {
    if (this.path() !== '/login' || (await this.page.locator('#login-form').count()) === 0) {
      await this.goto('/login');
    }
    await this.page.fill('#username', username);
    await this.page.fill('#password', password);
    return this.submit('#login-form');
  }

  /** A whole web login: password, then the SMS code from the outbox. Ends on the page
   *  the login leads to (home, or first access). */
  async login(user, username = user.user_code, password = user.password) {
    const since = await this.server.mark();
    const r = await this.loginForm(username, password);
    assert.equal(this.path(), '/login/otp', `after the password (status ${r.status()}): ${await this.page.locator('main').innerText()}`);
    const code = await this.server.smsCode(user.phone, since, 'accedere');
    await this.page.fill('#code', code);
    return this.submit('#otp-form');
  }

  /** Step one of a login with a bound phone: the password, then the page that waits for
   *  the push. Returns the number it shows (two digits, as a number). */
  async loginToPush(user, username = user.user_code, password = user.password) {
    const r = await this.loginForm(username, password);
    assert.equal(this.path(), '/login/push', `after the password (status ${r.status()}): ${await this.page.locator('main').innerText()}`);
    const shown = await this.text('#match-number');
    assert.match(shown, /^\d{2}$/, 'the page shows a two-digit number');
    return Number(shown);
  }

  /** Messages the browser logged that say the CSP blocked something. */
  cspViolations() {
    return this.console.filter((t) => /Content Security Policy/i.test(t));
  }

  async close() {
    await this.context.close();
  }
}

/** A fresh context and page for one test. */
export async function openPage(browser, server, name, { locale, headers } = {}) {
  // Italian unless the test says otherwise; a test that sends its own Accept-Language
  // gets no locale, since Chromium's locale would replace that header.
  const ownLanguage = Object.keys(headers ?? {}).some((h) => h.toLowerCase() === 'accept-language');
  locale ??= ownLanguage ? undefined : 'it-IT';
  // Screenshots of an earlier run of this test would mix with this run's.
  const stale = new RegExp(`^${slug(name)}-\\d{2}-.*\\.png$`);
  for (const f of readdirSync(ARTIFACTS)) {
    if (stale.test(f)) rmSync(join(ARTIFACTS, f), { force: true });
  }
  const context = await browser.newContext({
    locale,
    extraHTTPHeaders: headers,
    viewport: { width: 900, height: 800 },
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  return new Visitor(server, name, context, page);
}

/**
 * Runs `fn(visitor)` in a fresh browser context; on failure a last screenshot is kept
 * (…-failure.png). The context is always closed. Also checks that no page tripped the CSP.
 */
export async function withPage(browser, server, name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  const v = await openPage(browser, server, name, opts);
  try {
    await fn(v);
    assert.deepEqual(v.cspViolations(), [], 'no page was blocked by its own Content-Security-Policy');
  } catch (e) {
    await v.snap('failure').catch(() => {});
    throw e;
  } finally {
    await v.close();
  }
}

/** A 6-digit code that is surely not `code`. */
export function wrongCode(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/** Per-file setup: a server and a browser, stopped after the file's tests.
 *  `serverOpts` go to `startServer` (e.g. `{ config: '[security.lockout]\n…' }`). */
export function setup(node, name, serverOpts = {}) {
  const ctx = { server: null, browser: null };
  node.before(async () => {
    ctx.server = await startServer(name, serverOpts);
    ctx.browser = await launchBrowser();
  });
  node.after(async () => {
    try {
      await ctx.browser?.close();
    } finally {
      await ctx.server?.stop();
    }
  });
  return ctx;
}

/** Whether `pan` passes the Luhn check. */
export function luhn(pan) {
  let sum = 0;
  [...pan].reverse().forEach((c, i) => {
    let d = Number(c);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  });
  return sum % 10 === 0;
}

/** A Luhn-valid 16-digit Visa PAN that ends with `tail`, with `middle` (and the `filler`
 *  digit) to tell a test file's cards apart: each test gets its own card. */
export function visaPan(tail, middle, filler = '5') {
  const body = `4${filler.repeat(10 - middle.length)}${middle}`;
  for (let d = 0; d <= 9; d++) {
    const pan = `${body}${d}${tail}`.slice(0, 16);
    if (pan.length === 16 && luhn(pan)) return pan;
  }
  throw new Error(`no Luhn-valid PAN for ${tail}`);
}
