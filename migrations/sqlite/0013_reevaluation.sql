-- Re-evaluation of active grants when a tenant's configuration changes (issue 26).
-- What a committed policy, schema or entity write does to the grants it no longer allows:
-- `none`, `flag` (the default), `clamp` or `revoke`.
ALTER TABLE tenants ADD COLUMN on_change TEXT NOT NULL DEFAULT 'flag'
    CHECK (on_change IN ('none', 'flag', 'clamp', 'revoke'));
-- Set when a re-evaluation found the grant no longer allowed (on_change `flag`, `clamp`).
ALTER TABLE grants ADD COLUMN review_required INTEGER NOT NULL DEFAULT 0;
CREATE INDEX grants_review_required ON grants (tenant_id, id) WHERE review_required = 1;

-- One per committed configuration write, named by the revision it committed; created in
-- the write's transaction, worked through in batches of grants in id order (`cursor`: the
-- last grant handled, advanced in the batch's transaction), superseded by the tenant's
-- next one (which examines every grant again, under the newer set).
CREATE TABLE reevaluations (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    version         INTEGER NOT NULL,
    on_change       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'superseded')),
    cursor          TEXT,
    -- grants of an applied step that changed under it, to decide again (a JSON list of ids)
    pending         TEXT,
    examined        INTEGER NOT NULL DEFAULT 0,
    denied          INTEGER NOT NULL DEFAULT 0,
    clamp_found     INTEGER NOT NULL DEFAULT 0,
    policy_changed  INTEGER NOT NULL DEFAULT 0,
    flagged         INTEGER NOT NULL DEFAULT 0,
    clamped         INTEGER NOT NULL DEFAULT 0,
    revoked         INTEGER NOT NULL DEFAULT 0,
    cleared         INTEGER NOT NULL DEFAULT 0,
    moved           INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT,
    PRIMARY KEY (tenant_id, version)
);
CREATE INDEX reevaluations_open ON reevaluations (status) WHERE status IN ('pending', 'running');
