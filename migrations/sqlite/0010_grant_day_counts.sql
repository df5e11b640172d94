-- How many of a tenant's grants have each stored status and, on each UTC day, a value in the
-- columns dashboards filter by range: expires_at ("expiring within P7D", and the expiry
-- half of the effective status), last_used_at ("unused since"), granted_at. Kept by
-- triggers in the writing transaction. The `total` of a grants/list whose filters are a
-- status and a range on one of these columns sums whole days here and counts only the
-- grants of the range's end days (and of today, where expiry decides the status) in
-- `grants`, instead of counting every matching grant (see `store::sqlite::count_query`).
CREATE TABLE grant_day_counts (
    tenant_id TEXT NOT NULL,
    col       TEXT NOT NULL,
    day       TEXT NOT NULL,
    status    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, col, day, status)
) WITHOUT ROWID;

INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
    SELECT tenant_id, 'expires_at', substr(expires_at, 1, 10), status, COUNT(*)
    FROM grants GROUP BY tenant_id, substr(expires_at, 1, 10), status;
INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
    SELECT tenant_id, 'last_used_at', substr(last_used_at, 1, 10), status, COUNT(*)
    FROM grants WHERE last_used_at IS NOT NULL
    GROUP BY tenant_id, substr(last_used_at, 1, 10), status;
INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
    SELECT tenant_id, 'granted_at', substr(granted_at, 1, 10), status, COUNT(*)
    FROM grants GROUP BY tenant_id, substr(granted_at, 1, 10), status;

CREATE TRIGGER grant_day_counts_insert AFTER INSERT ON grants BEGIN
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'expires_at', substr(NEW.expires_at, 1, 10), NEW.status, 1
        WHERE NEW.expires_at IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'last_used_at', substr(NEW.last_used_at, 1, 10), NEW.status, 1
        WHERE NEW.last_used_at IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'granted_at', substr(NEW.granted_at, 1, 10), NEW.status, 1
        WHERE NEW.granted_at IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER grant_day_counts_delete AFTER DELETE ON grants BEGIN
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'expires_at'
          AND day = substr(OLD.expires_at, 1, 10) AND status = OLD.status;
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'last_used_at'
          AND day = substr(OLD.last_used_at, 1, 10) AND status = OLD.status;
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'granted_at'
          AND day = substr(OLD.granted_at, 1, 10) AND status = OLD.status;
END;

-- An update moves a grant between (day, status) cells only for the columns whose day or
-- whose status changed; a last-use stamp within the same day writes nothing here.
CREATE TRIGGER grant_day_counts_update
AFTER UPDATE OF tenant_id, status, expires_at, last_used_at, granted_at ON grants BEGIN
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'expires_at'
          AND day = substr(OLD.expires_at, 1, 10) AND status = OLD.status
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.expires_at, 1, 10) IS NOT substr(NEW.expires_at, 1, 10));
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'expires_at', substr(NEW.expires_at, 1, 10), NEW.status, 1
        WHERE NEW.expires_at IS NOT NULL
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.expires_at, 1, 10) IS NOT substr(NEW.expires_at, 1, 10))
        ON CONFLICT DO UPDATE SET n = n + 1;
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'last_used_at'
          AND day = substr(OLD.last_used_at, 1, 10) AND status = OLD.status
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.last_used_at, 1, 10) IS NOT substr(NEW.last_used_at, 1, 10));
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'last_used_at', substr(NEW.last_used_at, 1, 10), NEW.status, 1
        WHERE NEW.last_used_at IS NOT NULL
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.last_used_at, 1, 10) IS NOT substr(NEW.last_used_at, 1, 10))
        ON CONFLICT DO UPDATE SET n = n + 1;
    UPDATE grant_day_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND col = 'granted_at'
          AND day = substr(OLD.granted_at, 1, 10) AND status = OLD.status
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.granted_at, 1, 10) IS NOT substr(NEW.granted_at, 1, 10));
    INSERT INTO grant_day_counts (tenant_id, col, day, status, n)
        SELECT NEW.tenant_id, 'granted_at', substr(NEW.granted_at, 1, 10), NEW.status, 1
        WHERE NEW.granted_at IS NOT NULL
          AND (OLD.tenant_id IS NOT NEW.tenant_id OR OLD.status IS NOT NEW.status
               OR substr(OLD.granted_at, 1, 10) IS NOT substr(NEW.granted_at, 1, 10))
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
