-- Tenants, API keys, the tenant's Cedar schema and the audit hash chain.
-- Timestamps are RFC 3339 UTC text with six fraction digits, so they sort as instants.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'author', 'requester', 'auditor')),
    name         TEXT,
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

CREATE TABLE tenant_schemas (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id),
    cedarschema  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- The head of each tenant's chain. Appends read and advance it inside their write
-- transaction, so one tenant's chain stays linear. The anchor is where verification starts
-- (seq 0 and the genesis hash until retention prunes older events).
CREATE TABLE audit_heads (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    anchor_seq   INTEGER NOT NULL,
    anchor_hash  TEXT NOT NULL
);

-- `body` is the canonical JSON that is hashed; the other columns are copies for filtering,
-- checked against the body by verification.
CREATE TABLE audit_events (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL UNIQUE,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    decision     TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
