-- How a grant's last decision was made (`{"action": "request"|"extend", "context": {...}}`,
-- the caller's extra context): what a change preview and re-evaluation re-decide it with.
-- NULL for grants decided before this column existed (re-decided with no extra context).
ALTER TABLE grants ADD COLUMN last_decision TEXT;
