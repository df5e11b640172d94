-- Grants that wait for approval (a policy's `approval`): their approval state, as JSON
-- (`domain::grant::ApprovalState`); NULL for grants that were active at once.
ALTER TABLE grants ADD COLUMN approval TEXT;

-- The sweeper's second walk: pending grants past their approval deadline (`expires_at`).
CREATE INDEX grants_pending_due ON grants (expires_at) WHERE status = 'PENDING_APPROVAL';
