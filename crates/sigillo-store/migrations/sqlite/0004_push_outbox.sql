-- Push notifications go through the outbox like SMS and email (issue 4), and so do the
-- integration API's webhooks: the channel check gains 'push' and 'webhook'. SQLite
-- cannot alter a CHECK constraint, so the table is rebuilt with the same columns and
-- index and its rows copied over.
CREATE TABLE outbox_new (
    id               TEXT PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'push', 'webhook')),
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
INSERT INTO outbox_new (id, channel, recipient, subject, body, created_at, attempts, next_attempt_at,
                        claimed_until, delivered_at, last_error)
SELECT id, channel, recipient, subject, body, created_at, attempts, next_attempt_at,
       claimed_until, delivered_at, last_error
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);
