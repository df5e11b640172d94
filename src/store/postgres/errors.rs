//! How PostgreSQL's errors are classified (see `store::errors`): a server that is gone,
//! shutting down, out of disk or connections, read-only, or that cancelled a statement
//! at its timeout is `unavailable` (503) — it ends when the fault does; a deadlock or
//! serialization failure is too (the client retries). Codes are PostgreSQL's SQLSTATEs.

/// Whether a database error reported by PostgreSQL means the database cannot be used now.
pub(crate) fn is_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|e| unavailable_code(e.code()))
}

fn unavailable_code(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (disk full, out of memory, too
    // many connections); 57P01-57P05: the server shuts down, crashed, is starting, or
    // idle timeouts; 57014: a statement cancelled (our statement_timeout); 58: system
    // error (I/O); 40001/40P01: serialization failure, deadlock; 25006: read-only
    // transaction (a standby or a read-only server); 55P03: lock not available.
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "57014"
        || code.starts_with("58")
        || code == "40001"
        || code == "40P01"
        || code == "25006"
        || code == "55P03"
}

/// The message of a value PostgreSQL cannot store, which SQLite takes (a `400
/// invalid_input`, not a 500): a NUL character in text (22021, 22P05 in `jsonb`), or a
/// value too long for an index entry (54000; ids and names are bounded well below it).
pub(crate) fn unstorable(db: &dyn sqlx::error::DatabaseError) -> Option<&'static str> {
    let e = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    match e.code() {
        "22021" | "22P05" => Some("a text value contains a NUL character, which is not accepted"),
        "54000" => Some("a value is too long to be stored and indexed"),
        _ => None,
    }
}

fn code_is(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

/// A `NOWAIT` lock found the row held (55P03).
pub(crate) fn is_lock_not_available(e: &sqlx::Error) -> bool {
    code_is(e, "55P03")
}

/// The database the URL names does not exist (3D000).
pub(crate) fn is_missing_database(e: &sqlx::Error) -> bool {
    code_is(e, "3D000")
}

/// `CREATE DATABASE` of a name that exists (42P04), or that another session created at
/// the same moment (23505 on the catalog's unique index).
pub(crate) fn is_duplicate_database(e: &sqlx::Error) -> bool {
    code_is(e, "42P04") || code_is(e, "23505")
}

#[cfg(test)]
mod tests {
    #[test]
    fn faults_are_unavailable_and_bugs_are_not() {
        for code in [
            "08006", "08001", "53100", "53300", "57P01", "57014", "58030", "40P01",
        ] {
            assert!(super::unavailable_code(code), "{code}");
        }
        for code in ["23505", "23503", "42601", "42P01", "22P02"] {
            assert!(!super::unavailable_code(code), "{code}");
        }
    }
}
