//! How the SQLite backend's errors become [`Error`]s: connectivity problems and a disk
//! that is full or refuses are `unavailable` (503), constraint violations a `conflict`
//! (409) — mapped here once, not at each call site. Another backend classifies its own.

use crate::error::Error;

/// Errors from the pool's connections.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(e.into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("an object with the same unique value already exists".into())
            }
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
                Error::Unavailable(e.into())
            }
            _ => Error::Internal(e.into()),
        }
    }
}

/// The same mapping for the audit appender's own connection (see `appender`).
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
            {
                Error::Conflict("an object with the same unique value already exists".into())
            }
            rusqlite::Error::SqliteFailure(f, _)
                if is_unavailable_code(Some(&f.extended_code.to_string())) =>
            {
                Error::Unavailable(e.into())
            }
            _ => Error::Internal(e.into()),
        }
    }
}

/// SQLite's BUSY/LOCKED/IOERR/FULL/CANTOPEN families (primary codes 5, 6, 10, 13, 14): the
/// database could not be used right now (held by another process, or the disk refuses or
/// is full), which is not a bug and ends when the fault does.
fn is_unavailable_code(code: Option<&str>) -> bool {
    let Some(code) = code.and_then(|c| c.parse::<i64>().ok()) else {
        return false;
    };
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_is_unavailable() {
        assert!(is_unavailable_code(Some("5")));
        assert!(is_unavailable_code(Some("261"))); // SQLITE_BUSY_RECOVERY
        assert!(is_unavailable_code(Some("13"))); // SQLITE_FULL: the disk is full
        assert!(!is_unavailable_code(Some("19"))); // constraint
        assert!(!is_unavailable_code(None));
    }

    #[test]
    fn the_appender_connection_errors_map_like_the_pool_errors() {
        use rusqlite::ffi;
        let failure = |code| rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
        assert!(matches!(
            Error::from(failure(ffi::SQLITE_BUSY)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(failure(ffi::SQLITE_IOERR_FSYNC)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(failure(ffi::SQLITE_FULL)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(failure(ffi::SQLITE_CONSTRAINT_PRIMARYKEY)),
            Error::Conflict(_)
        ));
        assert!(matches!(
            Error::from(failure(ffi::SQLITE_CONSTRAINT_FOREIGNKEY)),
            Error::Internal(_)
        ));
        assert!(matches!(
            Error::from(rusqlite::Error::InvalidQuery),
            Error::Internal(_)
        ));
    }
}
