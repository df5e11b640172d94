-- The text of every compiled policy set a tenant has had. A tenant's policy-set version is
-- its configuration revision; a row is written whenever a write changes the text, so the
-- text in force at version V is the row with the greatest version <= V.
CREATE TABLE policy_set_versions (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    version     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
INSERT INTO policy_set_versions (tenant_id, version, text, created_at)
    SELECT id, 0, '', created_at FROM tenants;
