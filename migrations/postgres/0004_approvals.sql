-- Grants that wait for approval (see the SQLite 0014).
ALTER TABLE grants ADD COLUMN approval jsonb;

CREATE INDEX grants_pending_due ON grants (expires_at) WHERE status = 'PENDING_APPROVAL';
