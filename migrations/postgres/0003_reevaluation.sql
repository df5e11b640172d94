-- Re-evaluation of active grants when a tenant's configuration changes (issue 26).
-- What a committed policy, schema or entity write does to the grants it no longer allows:
-- `none`, `flag` (the default), `clamp` or `revoke`.
ALTER TABLE tenants ADD COLUMN on_change text NOT NULL DEFAULT 'flag'
    CHECK (on_change IN ('none', 'flag', 'clamp', 'revoke'));
-- Set when a re-evaluation found the grant no longer allowed (on_change `flag`, `clamp`).
ALTER TABLE grants ADD COLUMN review_required boolean NOT NULL DEFAULT false;
CREATE INDEX grants_review_required ON grants (tenant_id, id) WHERE review_required;

-- One per committed configuration write, named by the revision it committed; created in
-- the write's transaction, worked through in batches of grants in id order (`cursor`: the
-- last grant handled, advanced in the batch's transaction), superseded by the tenant's
-- next one (which examines every grant again, under the newer set).
CREATE TABLE reevaluations (
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    version         bigint NOT NULL,
    on_change       text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'superseded')),
    cursor          uuid,
    -- grants of an applied step that changed under it, to decide again (a JSON list of ids)
    pending         text,
    examined        bigint NOT NULL DEFAULT 0,
    denied          bigint NOT NULL DEFAULT 0,
    clamp_found     bigint NOT NULL DEFAULT 0,
    policy_changed  bigint NOT NULL DEFAULT 0,
    flagged         bigint NOT NULL DEFAULT 0,
    clamped         bigint NOT NULL DEFAULT 0,
    revoked         bigint NOT NULL DEFAULT 0,
    cleared         bigint NOT NULL DEFAULT 0,
    moved           bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, version)
);
CREATE INDEX reevaluations_open ON reevaluations (status) WHERE status IN ('pending', 'running');
