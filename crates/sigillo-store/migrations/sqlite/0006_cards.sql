-- Issue 5: payment cards, Key6 and the 3-D Secure Access Control Server.

-- A payment card enrolled (or not) in 3-D Secure. The PAN is never stored in clear:
-- `pan_lookup` is a keyed digest (HMAC-SHA256 under a key derived from the key-encryption
-- key) that finds the card from an AReq, `pan_sealed` the AEAD-sealed number (P7).
-- Only `last4` is ever shown.
CREATE TABLE cards (
    id              TEXT PRIMARY KEY,
    pan_lookup      BLOB NOT NULL UNIQUE,
    pan_sealed      BLOB NOT NULL,
    last4           TEXT NOT NULL,
    brand           TEXT NOT NULL CHECK (brand IN ('visa', 'mastercard')),
    kind            TEXT NOT NULL CHECK (kind IN ('debit', 'credit', 'prepaid')),
    corporate       INTEGER NOT NULL DEFAULT 0,
    -- The holder's web banking (or card portal) user; NULL until a portal-only holder registers.
    holder_user_id  TEXT REFERENCES users(id),
    -- The 3-D Secure phone: SMS OTPs of purchases go here, not to the user's phone.
    phone           TEXT NOT NULL,
    expiry          TEXT,
    enrolled        INTEGER NOT NULL DEFAULT 1,
    -- Key6 sealed under the key-encryption key (it must be viewable, so not hashed).
    key6_sealed     BLOB,
    key6_set_at     INTEGER,
    -- RTS art. 16: low-value purchases exempted since the last SCA with this card.
    lv_count        INTEGER NOT NULL DEFAULT 0,
    lv_eur_cents    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX cards_holder ON cards(holder_user_id);

-- One AReq the ACS answered for a known card, and its challenge if it had one.
CREATE TABLE threeds_transactions (
    acs_trans_id      TEXT PRIMARY KEY,
    server_trans_id   TEXT NOT NULL,
    ds_trans_id       TEXT NOT NULL UNIQUE,
    card_id           TEXT NOT NULL REFERENCES cards(id),
    message_version   TEXT NOT NULL,
    message_category  TEXT NOT NULL,
    amount_minor      INTEGER,
    currency          INTEGER,
    exponent          INTEGER,
    merchant_name     TEXT NOT NULL,
    purchase_date     TEXT,
    ds_url            TEXT NOT NULL,
    notification_url  TEXT,
    -- The ARes transStatus, then (after a challenge) the final one: Y, N, U or R.
    status            TEXT NOT NULL,
    status_reason     TEXT,
    exemption         TEXT,
    -- NULL: no challenge; 'awaiting' (ARes C sent, no CReq yet), 'open', 'done'.
    challenge         TEXT CHECK (challenge IN ('awaiting', 'open', 'done')),
    window_size       TEXT,
    -- The browser's threeDSSessionData, returned unchanged with the CRes.
    session_data      TEXT,
    -- Digest of the token the challenge pages carry (cookies may not reach a third-party iframe).
    page_token        BLOB,
    method            TEXT,
    operation_id      TEXT,
    otp_digest        BLOB,
    otp_expires_at    INTEGER,
    otp_sends         INTEGER NOT NULL DEFAULT 0,
    interactions      INTEGER NOT NULL DEFAULT 0,
    challenge_cancel  TEXT,
    auth_value        TEXT,
    eci               TEXT,
    -- The RReq to the DS: NULL (none due), 'pending', 'delivered', 'failed'.
    rreq_state        TEXT,
    rreq_attempts     INTEGER NOT NULL DEFAULT 0,
    rreq_next_at      INTEGER,
    rreq_error        TEXT,
    created_at        INTEGER NOT NULL,
    -- Until when the challenge may run (the first CReq must come sooner, see the service).
    expires_at        INTEGER NOT NULL,
    finished_at       INTEGER
);
CREATE INDEX threeds_card ON threeds_transactions(card_id, created_at);
-- The sweep finds challenges that timed out and RReqs still to deliver without a scan.
CREATE INDEX threeds_open_challenges ON threeds_transactions(expires_at) WHERE challenge IN ('awaiting', 'open');
CREATE INDEX threeds_rreq_due ON threeds_transactions(rreq_next_at) WHERE rreq_state = 'pending';

-- When an approved operation was used up: an approval that lets a holder see or unlock
-- a Key6 is good for one view or one unlock (P8).
ALTER TABLE operations ADD COLUMN consumed_at INTEGER;
