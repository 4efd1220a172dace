-- Device bindings (docs/PROTOCOL.md). Public keys are uncompressed SEC1 P-256 points;
-- the secrets are the sealed OTP keys (P7) and digests of codes and challenges. The
-- knowledge public key is sealed too: with a copy of the phone's storage it would let
-- PINs be tested offline.

-- An activation code: `id` is the code's 40-bit look-up half in hex; the secret half is
-- kept as an HMAC. Single use, 5 wrong tries (P2), 10 minutes.
CREATE TABLE activations (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    secret_digest  BYTEA NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'used', 'failed', 'canceled')),
    failures       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    binding_id     TEXT
);
CREATE INDEX activations_user ON activations(user_id);

CREATE TABLE bindings (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES users(id),
    status                TEXT NOT NULL CHECK (status IN ('pending_approval', 'pending_commit', 'active', 'blocked', 'removed')),
    device_name           TEXT NOT NULL,
    platform              TEXT NOT NULL,
    possession_key        BYTEA NOT NULL,
    knowledge_key         BYTEA NOT NULL,  -- sealed under the KEK
    biometry_key          BYTEA,
    -- The server's ECDH public keys for the possession and the knowledge OTP keys.
    server_key            BYTEA NOT NULL,
    knowledge_server_key  BYTEA NOT NULL,
    -- K_possession || K_knowledge, sealed under the key-encryption key.
    otp_keys              BYTEA NOT NULL,
    fingerprint           TEXT NOT NULL,
    -- 1 after an unblock: the phone must register a new knowledge key (a new PIN).
    pin_reset             BIGINT NOT NULL DEFAULT 0,
    is_primary            BIGINT NOT NULL DEFAULT 1,
    push_provider         TEXT,
    push_token            TEXT,
    created_at            BIGINT NOT NULL,
    committed_at          BIGINT,
    last_used_at          BIGINT,
    removed_at            BIGINT,
    removed_reason        TEXT
);
CREATE INDEX bindings_user ON bindings(user_id, status);

-- Server challenges for device requests and approvals: each is used once (P8).
CREATE TABLE device_challenges (
    digest      BYTEA PRIMARY KEY,
    binding_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX device_challenges_expiry ON device_challenges(expires_at);

-- Things a bound phone approves. `data` is the canonical encoding the phone signs (P5).
CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL,
    subject     TEXT,
    data        BYTEA NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'failed', 'canceled')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT
);
CREATE INDEX operations_user ON operations(user_id, status);
