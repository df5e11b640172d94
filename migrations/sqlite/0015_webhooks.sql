-- Webhooks and their outbox (see `domain::webhook`). A delivery row is written in the
-- transaction of the grant change it reports (with the audit event it stands for), so none
-- is lost and none is sent for a change that rolled back.
CREATE TABLE webhooks (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    id          TEXT NOT NULL,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,          -- JSON array of event types
    channel     TEXT,                   -- only grants whose policy's notification_channel is this
    description TEXT,
    secret      TEXT NOT NULL,          -- whsec_…, signs every delivery
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,      -- the webhook-id header of every attempt
    webhook_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    grant_id        TEXT NOT NULL,
    -- the audit event's seq in its tenant's chain, and the type's place among the event's
    -- types: the order deliveries of one grant to one webhook are sent in
    seq             INTEGER NOT NULL,
    ord             INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,      -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (tenant_id, webhook_id, id);
CREATE INDEX webhook_deliveries_by_grant ON webhook_deliveries (webhook_id, grant_id, seq, ord)
    WHERE status = 'pending';
