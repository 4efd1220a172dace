-- Issue 4: logins and payments approved on the phone, with the offline and SMS fallbacks.

-- The login flow a pushed login operation belongs to (flows.id).
ALTER TABLE operations ADD COLUMN flow_id TEXT;
-- The number the web page shows for number matching; the phone gets it among two others.
ALTER TABLE operations ADD COLUMN match_number INTEGER;
-- The transaction QR's nonce (its OCRA challenge covers the operation bytes and this).
ALTER TABLE operations ADD COLUMN nonce BLOB;
-- The master key's signature over the transaction QR's bytes (made once, at creation).
ALTER TABLE operations ADD COLUMN qr_signature BLOB;
-- Wrong codes and wrong numbers against this operation (P2: 5 fail it).
ALTER TABLE operations ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
-- How it was decided: push, transaction_otp, login_otp, sms.
ALTER TABLE operations ADD COLUMN method TEXT;
-- The operation's SMS OTP (keyed digest), bound to it: its expiry and how many were sent.
ALTER TABLE operations ADD COLUMN sms_digest BLOB;
ALTER TABLE operations ADD COLUMN sms_expires_at INTEGER;
ALTER TABLE operations ADD COLUMN sms_sends INTEGER NOT NULL DEFAULT 0;
-- Who asked: 'customer' (the customer's own session) or 'integration:<client>'.
ALTER TABLE operations ADD COLUMN requested_by TEXT;
-- The integration client's own reference and the webhook to call when it is decided.
ALTER TABLE operations ADD COLUMN client_ref TEXT;
ALTER TABLE operations ADD COLUMN callback_url TEXT;
-- When the outcome was queued for the integration client's webhook (once per operation).
ALTER TABLE operations ADD COLUMN notified_at INTEGER;
CREATE INDEX operations_flow ON operations(flow_id);
-- The sweep (every 2 s on every node) finds what expired and which outcomes a webhook
-- still waits for without reading the whole table.
CREATE INDEX operations_pending_expiry ON operations(expires_at) WHERE status = 'pending';
CREATE INDEX operations_unnotified ON operations(decided_at)
    WHERE notified_at IS NULL AND requested_by LIKE 'integration:%';

-- The last login-OTP time step a binding had accepted: each step is accepted once (P8).
ALTER TABLE bindings ADD COLUMN login_otp_step INTEGER;
