-- A grant is used after it is granted, unless its `granted_at` was later moved past its
-- last use (an update may set it). A page of grants newest first, last used by some time T,
-- reads the grants granted by T through `grants_by_granted_at`, and these few through this
-- index (see `list_query` in `store/postgres/grants.rs`), instead of walking past every
-- grant of the time since T.
CREATE INDEX grants_used_before_granted ON grants (tenant_id, granted_at, id)
    INCLUDE (status, expires_at, last_used_at)
    WHERE last_used_at < granted_at;
