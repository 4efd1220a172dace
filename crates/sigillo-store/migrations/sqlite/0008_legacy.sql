-- Issue 6: customers of acquired banks (DESIGN flow 10), imported with their old
-- credentials (`sigillo admin legacy import --bank ID FILE`) and activated once.

-- One legacy customer of one acquired bank. The old password hash is sealed under the
-- key-encryption key (P7: many of these formats are fast to attack offline), with the
-- bank and code as associated data. `row_digest` (a keyed digest of what the file said)
-- tells a re-import whether anything changed, without opening the seal. Once activated
-- the credential is consumed: a re-import leaves it alone and a second activation fails.
CREATE TABLE legacy_credentials (
    bank_id         TEXT NOT NULL,
    legacy_code     TEXT NOT NULL,
    hash_sealed     BLOB NOT NULL,
    hash_scheme     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    email           TEXT,
    name            TEXT NOT NULL,
    token           TEXT NOT NULL CHECK (token IN ('app', 'hardware', 'none')),
    row_digest      BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'activated')),
    user_id         TEXT REFERENCES users(id),
    imported_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    activated_at    INTEGER,
    PRIMARY KEY (bank_id, legacy_code)
);

-- An activation in progress (DESIGN flow 10): the old credentials were right, then the SMS
-- code to the certified phone, the phone confirmed, the email validated by a link, and at
-- the end the new password. The id is the digest of the handle the browser holds. The new
-- user is created, and the credential consumed, only at the end: an abandoned activation
-- can start again.
CREATE TABLE legacy_activations (
    id              TEXT PRIMARY KEY,
    bank_id         TEXT NOT NULL,
    legacy_code     TEXT NOT NULL,
    step            TEXT NOT NULL CHECK (step IN ('otp', 'confirm', 'email', 'password', 'done', 'failed')),
    otp_digest      BLOB,
    otp_expires_at  INTEGER,
    otp_sends       INTEGER NOT NULL DEFAULT 0,
    otp_failures    INTEGER NOT NULL DEFAULT 0,
    email           TEXT,
    email_token     BLOB UNIQUE,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    user_id         TEXT REFERENCES users(id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    FOREIGN KEY (bank_id, legacy_code) REFERENCES legacy_credentials(bank_id, legacy_code)
);

-- A hardware-token customer of an acquired bank keeps SMS OTP until a phone is bound; the
-- login then recommends the app.
ALTER TABLE users ADD COLUMN recommend_app INTEGER NOT NULL DEFAULT 0;
