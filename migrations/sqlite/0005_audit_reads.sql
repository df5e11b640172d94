-- Reading the audit log by kind, subject or time stays fast on millions of events.
CREATE INDEX audit_events_by_kind ON audit_events (tenant_id, kind, seq);
CREATE INDEX audit_events_by_subject ON audit_events (tenant_id, subject_id, seq);
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at);
