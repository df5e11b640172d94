//! How the SQLite backend's errors are classified (see `store::errors`): a database held
//! by another process, or a disk that is full or refuses, is `unavailable` (503). The
//! audit appender's own connection (rusqlite) is mapped here too.

use crate::error::Error;

/// Whether a database error reported by SQLite means the database cannot be used now.
pub(crate) fn is_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && is_unavailable_code(db.code().as_deref())
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
