-- Issue 5: the card holders' portal ("Area Riservata", DESIGN flow 9).

-- A portal user is a user of its own realm: a UserID (ten digits, so never a web banking
-- user code or alias), a password and the card's 3-D Secure phone. Web banking never
-- finds a portal user, nor the portal a web banking one.
ALTER TABLE users ADD COLUMN realm TEXT NOT NULL DEFAULT 'banking' CHECK (realm IN ('banking', 'card_portal'));

-- A registration in progress (also the way back for a forgotten password): the card data
-- were typed, an SMS OTP went to the card's phone. `card_id` is NULL when the data matched
-- no card: the flow then looks the same and can never complete (P9: no card-data oracle).
CREATE TABLE portal_registrations (
    id              TEXT PRIMARY KEY,
    card_id         TEXT REFERENCES cards(id),
    otp_digest      BLOB,
    otp_expires_at  INTEGER,
    otp_sends       INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
