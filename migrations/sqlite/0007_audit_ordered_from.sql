-- Event times are non-decreasing along `seq` only for events appended since migration 0006.
-- `ordered_from` is the first seq from which that holds; time-window reads use the faster
-- seq-range plan only when it covers the whole chain (0 for every tenant created since).
ALTER TABLE audit_heads ADD COLUMN ordered_from INTEGER NOT NULL DEFAULT 0;
UPDATE audit_heads SET ordered_from = seq + 1
    WHERE EXISTS (SELECT 1 FROM audit_events e WHERE e.tenant_id = audit_heads.tenant_id);
