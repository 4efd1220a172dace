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
    hash_sealed     BYTEA NOT NULL,
    hash_scheme     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    email           TEXT,
    name            TEXT NOT NULL,
    token           TEXT NOT NULL CHECK (token IN ('app', 'hardware', 'none')),
    row_digest      BYTEA NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'activated')),
    user_id         TEXT REFERENCES users(id),
    imported_at     BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    activated_at    BIGINT,
    PRIMARY KEY (bank_id, legacy_code)
);
