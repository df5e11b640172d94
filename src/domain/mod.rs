//! Plain types and the rules of the system: no I/O, no axum, no sqlx. Values here are
//! parsed at the boundary ("parse, don't validate"), so the rest of the code never sees an
//! unchecked string.

pub mod audit;
pub mod decision;
pub mod grant;
pub mod grant_count;
pub mod grant_query;
pub mod ids;
pub mod key;
pub mod page;
pub mod patch;
pub mod policy;
pub mod role;
