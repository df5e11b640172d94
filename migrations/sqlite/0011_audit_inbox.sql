-- The decision inbox: the audit writer commits decision events here first, already placed
-- in their tenant's chain (seq, hashes, `audit_heads` updated in the same transaction), and
-- moves them into `audit_events` in bulk, a few thousand at a time.
--
-- Why: a row in `audit_events` is an entry in six B-trees (the table, its primary key, `id`,
-- and the three read indexes). An index entry lands in the middle of its index, at the end
-- of its tenant's range, so a group commit of a handful of events dirtied ~16 pages, each
-- written whole to the WAL and synced. A row here dirties the end of one B-tree, about
-- four pages a commit; the bulk move writes each index page once for many events.
--
-- Every read of the log moves the inbox first (or, for verification, reads both tables in
-- one snapshot), so nothing committed is ever missing from a read. Same columns as
-- `audit_events`; no indexes (the move takes everything, in rowid order).
CREATE TABLE audit_inbox (
    tenant_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    decision     TEXT,
    body         TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
