-- grants/list and bulk revoke. Every sort order is an index walk (ties by id); the default
-- order's index also carries the columns that status and last-use filters read, so those
-- filters are checked without visiting the table. The usual selective filters (user, app,
-- resource, status, last use) start from an index of their own, and the counts behind
-- `total` for the dashboard filters are index-only. All are tenant-first.
CREATE INDEX grants_by_granted_at ON grants (tenant_id, granted_at, id, status, expires_at, last_used_at);
CREATE INDEX grants_by_expires_at ON grants (tenant_id, expires_at, id, status);
CREATE INDEX grants_by_created_at ON grants (tenant_id, created_at, id);
CREATE INDEX grants_by_updated_at ON grants (tenant_id, updated_at, id);
CREATE INDEX grants_by_app ON grants (tenant_id, app, expires_at, id, status);
CREATE INDEX grants_by_user ON grants (tenant_id, principal_id, granted_at, id);
CREATE INDEX grants_by_resource ON grants (tenant_id, resource_id, granted_at, id);
CREATE INDEX grants_by_status ON grants (tenant_id, status, last_used_at, expires_at, granted_at, id);
CREATE INDEX grants_by_last_used ON grants (tenant_id, last_used_at);
