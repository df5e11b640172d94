//! How database errors become [`Error`]s, once for every backend (sqlx reports both
//! engines' errors as one type): connectivity problems are `unavailable` (503), a unique
//! constraint is a `conflict` (409), a value the engine cannot store `invalid_input`
//! (400), and each backend names the codes of its engine that
//! mean the database cannot be used right now (`sqlite::errors`, `postgres::errors`).

use crate::error::Error;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if let Some(message) = super::postgres::errors::unstorable(db.as_ref()) {
                return Error::invalid(message);
            }
        }
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(e.into()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("an object with the same unique value already exists".into())
            }
            sqlx::Error::Database(db)
                if super::sqlite::errors::is_unavailable(db.as_ref())
                    || super::postgres::errors::is_unavailable(db.as_ref()) =>
            {
                Error::Unavailable(e.into())
            }
            _ => Error::Internal(e.into()),
        }
    }
}
