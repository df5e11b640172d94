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
-- `domain::grant_count`). Kept by a trigger in the writing transaction. The rows are
-- touched in a fixed order (col, then day) and only by writes that also append to the
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

CREATE FUNCTION grant_day_count_add(t uuid, c text, at timestamptz, s text, d bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF at IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        VALUES (t, c, (at AT TIME ZONE 'UTC')::date, s, d)
        ON CONFLICT (tenant_id, col, day, status) DO UPDATE SET n = grant_day_counts.n + d;
END $$;

CREATE FUNCTION grants_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO grant_counts (tenant_id, n) VALUES (NEW.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET n = grant_counts.n + 1;
        PERFORM grant_day_count_add(NEW.tenant_id, 'expires_at', NEW.expires_at, NEW.status, 1);
        PERFORM grant_day_count_add(NEW.tenant_id, 'granted_at', NEW.granted_at, NEW.status, 1);
        PERFORM grant_day_count_add(NEW.tenant_id, 'last_used_at', NEW.last_used_at, NEW.status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE grant_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id;
        PERFORM grant_day_count_add(OLD.tenant_id, 'expires_at', OLD.expires_at, OLD.status, -1);
        PERFORM grant_day_count_add(OLD.tenant_id, 'granted_at', OLD.granted_at, OLD.status, -1);
        PERFORM grant_day_count_add(OLD.tenant_id, 'last_used_at', OLD.last_used_at, OLD.status, -1);
    ELSE
        -- an update moves a grant between (day, status) cells only for the columns whose
        -- day or whose status changed; a last-use stamp within the same day writes nothing
        IF OLD.status IS DISTINCT FROM NEW.status
           OR (OLD.expires_at AT TIME ZONE 'UTC')::date IS DISTINCT FROM (NEW.expires_at AT TIME ZONE 'UTC')::date THEN
            PERFORM grant_day_count_add(OLD.tenant_id, 'expires_at', OLD.expires_at, OLD.status, -1);
            PERFORM grant_day_count_add(NEW.tenant_id, 'expires_at', NEW.expires_at, NEW.status, 1);
        END IF;
        IF OLD.status IS DISTINCT FROM NEW.status
           OR (OLD.granted_at AT TIME ZONE 'UTC')::date IS DISTINCT FROM (NEW.granted_at AT TIME ZONE 'UTC')::date THEN
            PERFORM grant_day_count_add(OLD.tenant_id, 'granted_at', OLD.granted_at, OLD.status, -1);
            PERFORM grant_day_count_add(NEW.tenant_id, 'granted_at', NEW.granted_at, NEW.status, 1);
        END IF;
        IF OLD.status IS DISTINCT FROM NEW.status
           OR (OLD.last_used_at AT TIME ZONE 'UTC')::date IS DISTINCT FROM (NEW.last_used_at AT TIME ZONE 'UTC')::date THEN
            PERFORM grant_day_count_add(OLD.tenant_id, 'last_used_at', OLD.last_used_at, OLD.status, -1);
            PERFORM grant_day_count_add(NEW.tenant_id, 'last_used_at', NEW.last_used_at, NEW.status, 1);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER grants_counted AFTER INSERT OR DELETE OR UPDATE OF status, expires_at, granted_at, last_used_at
    ON grants FOR EACH ROW EXECUTE FUNCTION grants_counted();
