-- Grants and the idempotency records of grant requests.
CREATE TABLE grants (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    id               TEXT NOT NULL,
    principal_type   TEXT NOT NULL,
    principal_id     TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    app              TEXT,
    scopes           TEXT NOT NULL,          -- JSON array of strings
    status           TEXT NOT NULL,          -- stored status; expiry is applied on read
    policy_id        TEXT NOT NULL,
    requested_by     TEXT,
    granted_by       TEXT,
    reason           TEXT,
    granted_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    extension_count  INTEGER NOT NULL,
    last_used_at     TEXT,
    revoked_at       TEXT,
    revoked_by       TEXT,
    revoke_reason    TEXT,
    audit_session    INTEGER NOT NULL,
    notices          TEXT NOT NULL,          -- JSON array of strings
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The access check: one principal's grants on a resource or its ancestors.
CREATE INDEX grants_by_holder ON grants (tenant_id, principal_type, principal_id, resource_type, resource_id);
-- The sweeper: active grants by expiry.
CREATE INDEX grants_due ON grants (expires_at) WHERE status IN ('GRANTED', 'EXTENDED');
-- DELETE policy: is it still governing active grants?
CREATE INDEX grants_by_policy ON grants (tenant_id, policy_id, status);

-- `Idempotency-Key` of POST /v1/grants, per API key, kept 24 hours.
CREATE TABLE idempotency (
    key_id       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    body_hash    TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);
