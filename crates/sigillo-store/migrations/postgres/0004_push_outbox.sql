-- Push notifications go through the outbox like SMS and email (issue 4), and so do the
-- integration API's webhooks: the channel check gains 'push' and 'webhook'. 0001 left
-- the constraint its default name, outbox_channel_check.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('sms', 'email', 'push', 'webhook'));
