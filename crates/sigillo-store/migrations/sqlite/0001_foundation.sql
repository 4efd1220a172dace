-- sigillo foundation schema (SQLite). Kept in lockstep with migrations/postgres.
-- Instants are integer unix milliseconds; ids are UUIDv7 text; digests and sealed keys are BLOBs.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    user_code           TEXT NOT NULL UNIQUE,
    alias               TEXT,
    alias_norm          TEXT UNIQUE,
    password_hash       TEXT NOT NULL,
    security_code_hash  TEXT NOT NULL,
    -- 1 while the password is an envelope's initial one: it must be changed at first use.
    password_initial    INTEGER NOT NULL DEFAULT 1,
    phone               TEXT NOT NULL,
    phone_certified     INTEGER NOT NULL DEFAULT 0,
    email               TEXT,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL CHECK (status IN ('active', 'must_change_password', 'locked', 'blocked')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- RTS art. 4(3)(b): consecutive failures per secret and subject.
CREATE TABLE attempt_counters (
    subject       TEXT NOT NULL,
    secret        TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    lock_count    INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    permanent     INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (subject, secret)
);

-- A login, recovery or password change in progress: the second factor is pending.
CREATE TABLE auth_flows (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    purpose         TEXT NOT NULL,
    status          TEXT NOT NULL,
    otp_digest      BLOB,
    otp_expires_at  INTEGER,
    otp_sends       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    completed_at    INTEGER
);
CREATE INDEX auth_flows_user ON auth_flows(user_id);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    token_digest   BLOB NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id),
    scope          TEXT NOT NULL,
    channel        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    ended_at       INTEGER,
    end_reason     TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE email_verifications (
    token_digest  BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    email         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);

-- Written in the same transaction as the event that causes the message. The body can
-- hold a one-time code or link, so it is sealed under the key-encryption key (P7) and,
-- outside dev mode, wiped once delivered.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient        TEXT NOT NULL,
    subject          TEXT,
    body             BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claimed_until    INTEGER,
    delivered_at     INTEGER,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);

-- P11: append-only, hash-chained. audit_head remembers the last record so that
-- cutting records off the end is detected too.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
);
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
