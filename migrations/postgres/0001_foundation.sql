-- The PostgreSQL schema: the same tables, columns and meaning as the SQLite migrations
-- (migrations/sqlite, 0001-0010), created at once. Ids are `uuid`, times `timestamptz`
-- (microseconds, like the SQLite text form), the grant JSON that list filters query is
-- `jsonb`. Documents that are only read back whole (policy documents, entity bodies, audit
-- bodies, whose exact bytes are hashed) stay `text`.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    -- advances with every write of policies, schema or entities (see the SQLite 0002)
    revision    bigint NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    role         text NOT NULL CHECK (role IN ('admin', 'author', 'requester', 'auditor')),
    name         text,
    secret_hash  text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

CREATE TABLE tenant_schemas (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants(id),
    cedarschema  text NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- The head of each tenant's chain. Every append locks its tenant's row (`FOR UPDATE`) and
-- advances it in the appending transaction, so a chain stays linear however many
-- processes append to it, while other tenants' appends go on in parallel.
CREATE TABLE audit_heads (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants(id),
    seq           bigint NOT NULL,
    hash          text NOT NULL,
    anchor_seq    bigint NOT NULL,
    anchor_hash   text NOT NULL,
    -- the time of the last event: an event is never stamped earlier than the one before
    -- it, so `at` is non-decreasing along `seq` and a time window is a seq range
    last_at       timestamptz
);

CREATE TABLE audit_events (
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    seq          bigint NOT NULL,
    id           uuid NOT NULL UNIQUE,
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    subject_type text NOT NULL,
    subject_id   text NOT NULL,
    decision     text,
    body         text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_by_kind ON audit_events (tenant_id, kind, seq);
CREATE INDEX audit_events_by_subject ON audit_events (tenant_id, subject_id, seq);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at, seq);

CREATE TABLE policies (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    key         text,
    enabled     boolean NOT NULL,
    priority    bigint NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    doc         text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX policies_by_key ON policies (tenant_id, key) WHERE key IS NOT NULL;

-- `C` collation: entities list in byte order (with the cursor comparing alike) on every
-- server, as on SQLite, whatever the database's default collation.
CREATE TABLE entities (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    type        text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    body        text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, type, id)
);

-- Server-side secrets (the key that signs pagination cursors).
CREATE TABLE settings (
    name   text PRIMARY KEY,
    value  text NOT NULL
);

CREATE TABLE policy_set_versions (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    version     bigint NOT NULL,
    text        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE grants (
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    id               uuid NOT NULL,
    principal_type   text NOT NULL,
    principal_id     text NOT NULL,
    resource_type    text NOT NULL,
    resource_id      text NOT NULL,
    app              text,
    scopes           jsonb NOT NULL,          -- array of strings
    status           text NOT NULL,           -- stored status; expiry is applied on read
    policy_id        uuid NOT NULL,
    requested_by     text,
    granted_by       text,
    reason           text,
    granted_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    extension_count  bigint NOT NULL,
    last_used_at     timestamptz,
    revoked_at       timestamptz,
    revoked_by       text,
    revoke_reason    text,
    audit_session    boolean NOT NULL,
    notices          jsonb NOT NULL,          -- array of strings
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    version          bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX grants_by_holder ON grants (tenant_id, principal_type, principal_id, resource_type, resource_id);
CREATE INDEX grants_due ON grants (expires_at) WHERE status IN ('GRANTED', 'EXTENDED');
CREATE INDEX grants_by_policy ON grants (tenant_id, policy_id, status);
CREATE INDEX grants_by_granted_at ON grants (tenant_id, granted_at, id) INCLUDE (status, expires_at, last_used_at);
CREATE INDEX grants_by_expires_at ON grants (tenant_id, expires_at, id) INCLUDE (status);
CREATE INDEX grants_by_created_at ON grants (tenant_id, created_at, id);
CREATE INDEX grants_by_updated_at ON grants (tenant_id, updated_at, id);
CREATE INDEX grants_by_app ON grants (tenant_id, app, expires_at, id) INCLUDE (status);
CREATE INDEX grants_by_user ON grants (tenant_id, principal_id, granted_at, id);
CREATE INDEX grants_by_resource ON grants (tenant_id, resource_id, granted_at, id);
CREATE INDEX grants_by_status ON grants (tenant_id, status, last_used_at, expires_at, granted_at, id);
CREATE INDEX grants_by_last_used ON grants (tenant_id, last_used_at);
CREATE INDEX grants_by_scopes ON grants USING gin (scopes jsonb_path_ops);

-- `Idempotency-Key` of POST /v1/grants, per API key, kept 24 hours.
CREATE TABLE idempotency (
    key_id       uuid NOT NULL,
    idem_key     text NOT NULL,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    body_hash    text NOT NULL,
    status       bigint NOT NULL,
    response     text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);

-- How many grants each tenant holds, and how many have each stored status and a value on
-- each UTC day in the columns dashboards filter by range: the `total` of grants/list
-- without counting grant by grant (see the SQLite 0009 and 0010, and
-- `domain::grant_count`). Kept by triggers in the writing transaction. The rows are
-- touched in key order and only by writes that also append to the
-- tenant's chain (holding its head), or by a last-use stamp (holding it shared), so they
-- add no lock a write of the same tenant did not already wait for.
CREATE TABLE grant_counts (
    tenant_id uuid PRIMARY KEY REFERENCES tenants(id),
    n         bigint NOT NULL
);

CREATE TABLE grant_day_counts (
    tenant_id uuid NOT NULL,
    col       text NOT NULL,
    day       date NOT NULL,
    status    text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, col, day, status)
);

-- The days of a set of grant rows in the counted columns, for the triggers below.
CREATE FUNCTION grant_days(t uuid, expires_at timestamptz, granted_at timestamptz,
                           last_used_at timestamptz, status text)
RETURNS TABLE (tenant_id uuid, col text, day date, status text)
LANGUAGE sql STABLE AS $$
    SELECT t, 'expires_at', (expires_at AT TIME ZONE 'UTC')::date, status
    UNION ALL SELECT t, 'granted_at', (granted_at AT TIME ZONE 'UTC')::date, status
    UNION ALL SELECT t, 'last_used_at', (last_used_at AT TIME ZONE 'UTC')::date, status
        WHERE last_used_at IS NOT NULL
$$;

-- Statement-level triggers: a statement that writes many grants (a group commit of new
-- grants) moves each count row once, by the sum of its rows, in key order. (Bulk revoke
-- and expiry update grant by grant, each update a statement of its own.)
CREATE FUNCTION grants_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO grant_counts (tenant_id, n)
        SELECT r.tenant_id, COUNT(*) FROM new_rows r GROUP BY r.tenant_id ORDER BY r.tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET n = grant_counts.n + excluded.n;
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT d.tenant_id, d.col, d.day, d.status, COUNT(*)
        FROM new_rows r, grant_days(r.tenant_id, r.expires_at, r.granted_at, r.last_used_at, r.status) d
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, col, day, status) DO UPDATE SET n = grant_day_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION grants_counted_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO grant_counts (tenant_id, n)
        SELECT r.tenant_id, -COUNT(*) FROM old_rows r GROUP BY r.tenant_id ORDER BY r.tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET n = grant_counts.n + excluded.n;
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT d.tenant_id, d.col, d.day, d.status, -COUNT(*)
        FROM old_rows r, grant_days(r.tenant_id, r.expires_at, r.granted_at, r.last_used_at, r.status) d
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, col, day, status) DO UPDATE SET n = grant_day_counts.n + excluded.n;
    RETURN NULL;
END $$;

-- An update moves a grant between (day, status) cells only where its day or its status
-- changed: the old cells less one and the new ones plus one, netted, so a last-use stamp
-- within the same day writes nothing here.
CREATE FUNCTION grants_counted_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT d.tenant_id, d.col, d.day, d.status, SUM(d.delta)
        FROM (
            SELECT g.*, 1 AS delta FROM new_rows r,
                grant_days(r.tenant_id, r.expires_at, r.granted_at, r.last_used_at, r.status) g
            UNION ALL
            SELECT g.*, -1 FROM old_rows r,
                grant_days(r.tenant_id, r.expires_at, r.granted_at, r.last_used_at, r.status) g
        ) d
        GROUP BY 1, 2, 3, 4 HAVING SUM(d.delta) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, col, day, status) DO UPDATE SET n = grant_day_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE TRIGGER grants_counted_insert AFTER INSERT ON grants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION grants_counted_insert();
CREATE TRIGGER grants_counted_delete AFTER DELETE ON grants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION grants_counted_delete();
CREATE TRIGGER grants_counted_update AFTER UPDATE ON grants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grants_counted_update();
