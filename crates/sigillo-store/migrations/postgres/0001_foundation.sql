-- sigillo foundation schema (PostgreSQL). Kept in lockstep with migrations/sqlite.
-- Instants are integer unix milliseconds; ids are UUIDv7 text; digests and sealed keys are BYTEAs.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    user_code           TEXT NOT NULL UNIQUE,
    alias               TEXT,
    alias_norm          TEXT UNIQUE,
    password_hash       TEXT NOT NULL,
    security_code_hash  TEXT NOT NULL,
    -- 1 while the password is an envelope's initial one: it must be changed at first use.
    password_initial    BIGINT NOT NULL DEFAULT 1,
    phone               TEXT NOT NULL,
    phone_certified     BIGINT NOT NULL DEFAULT 0,
    email               TEXT,
    email_verified      BIGINT NOT NULL DEFAULT 0,
    status              TEXT NOT NULL CHECK (status IN ('active', 'must_change_password', 'locked', 'blocked')),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- RTS art. 4(3)(b): consecutive failures per secret and subject.
CREATE TABLE attempt_counters (
    subject       TEXT NOT NULL,
    secret        TEXT NOT NULL,
    failures      BIGINT NOT NULL DEFAULT 0,
    lock_count    BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    permanent     BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (subject, secret)
);

-- A login, recovery or password change in progress: the second factor is pending.
CREATE TABLE auth_flows (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    purpose         TEXT NOT NULL,
    status          TEXT NOT NULL,
    otp_digest      BYTEA,
    otp_expires_at  BIGINT,
    otp_sends       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    completed_at    BIGINT
);
CREATE INDEX auth_flows_user ON auth_flows(user_id);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    token_digest   BYTEA NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id),
    scope          TEXT NOT NULL,
    channel        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    ended_at       BIGINT,
    end_reason     TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE email_verifications (
    token_digest  BYTEA PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    email         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

-- Written in the same transaction as the event that causes the message. The body can
-- hold a one-time code or link, so it is sealed under the key-encryption key (P7) and,
-- outside dev mode, wiped once delivered.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient        TEXT NOT NULL,
    subject          TEXT,
    body             BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    claimed_until    BIGINT,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);

-- P11: append-only, hash-chained. audit_head remembers the last record so that
-- cutting records off the end is detected too.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
