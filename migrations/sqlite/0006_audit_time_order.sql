-- Each tenant's events get non-decreasing `at` in `seq` order (an event is never stamped
-- earlier than the one before it), so a time window is a contiguous range of `seq` and a
-- "since last week" read is a range scan, not a sort.
ALTER TABLE audit_heads ADD COLUMN last_at TEXT;
DROP INDEX audit_events_by_time;
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at, seq);
