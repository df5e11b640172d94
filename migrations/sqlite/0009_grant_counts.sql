-- How many grants each tenant holds, kept by triggers in the writing transaction, so the
-- `total` of an unfiltered grants/list is one row read instead of a count of the tenant.
CREATE TABLE grant_counts (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    n         INTEGER NOT NULL
);
INSERT INTO grant_counts (tenant_id, n) SELECT tenant_id, COUNT(*) FROM grants GROUP BY tenant_id;
CREATE TRIGGER grant_counts_insert AFTER INSERT ON grants BEGIN
    INSERT OR IGNORE INTO grant_counts (tenant_id, n) VALUES (NEW.tenant_id, 0);
    UPDATE grant_counts SET n = n + 1 WHERE tenant_id = NEW.tenant_id;
END;
CREATE TRIGGER grant_counts_delete AFTER DELETE ON grants BEGIN
    UPDATE grant_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id;
END;
