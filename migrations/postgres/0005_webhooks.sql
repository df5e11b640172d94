-- Webhooks and their outbox (see the SQLite 0015).
CREATE TABLE webhooks (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    url         text NOT NULL,
    event_types jsonb NOT NULL,
    channel     text,
    description text,
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    webhook_id      uuid NOT NULL,
    event_type      text NOT NULL,
    grant_id        uuid NOT NULL,
    seq             bigint NOT NULL,
    ord             bigint NOT NULL,
    payload         text NOT NULL,
    status          text NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status     bigint,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (tenant_id, webhook_id, id);
CREATE INDEX webhook_deliveries_by_grant ON webhook_deliveries (webhook_id, grant_id, seq, ord)
    WHERE status = 'pending';
