-- Policies (with their rules, as one JSON document) and entities.

-- `revision` advances with every write of policies, schema or entities. A write validates
-- against a snapshot and commits only if the revision is still the one it read, so a
-- schema change and a policy write can never each pass against the other's old state.
ALTER TABLE tenants ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE policies (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    id          TEXT NOT NULL,
    key         TEXT,
    enabled     INTEGER NOT NULL,
    priority    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX policies_by_key ON policies (tenant_id, key) WHERE key IS NOT NULL;

CREATE TABLE entities (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    type        TEXT NOT NULL,
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, type, id)
);

-- Server-side secrets (e.g. the key that signs pagination cursors).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
