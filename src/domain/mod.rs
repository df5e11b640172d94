//! Plain types and the rules of the system: no I/O, no axum, no database. Values here are
//! parsed at the boundary ("parse, don't validate"), so the rest of the code never sees an
//! unchecked string.

pub mod audit;
pub mod config;
pub mod decision;
pub mod grant;
pub mod grant_count;
pub mod grant_query;
pub mod ids;
pub mod key;
pub mod page;
pub mod patch;
pub mod policy;
pub mod quota;
pub mod reevaluation;
pub mod role;
pub mod rule;
pub mod webhook;

/// SHA-256 of `parts`, one after the other, as 64 lower-case hex digits on the stack: the
/// form every stored hash takes (API key secrets, the audit chain).
pub fn sha256_hex(parts: &[&[u8]]) -> [u8; 64] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 64];
    hex::encode_to_slice(h.finalize(), &mut out).expect("a SHA-256 digest is 64 hex digits");
    out
}

/// [`sha256_hex`] as a `String`.
pub fn sha256_hex_string(parts: &[&[u8]]) -> String {
    String::from_utf8(sha256_hex(parts).to_vec()).expect("hex digits are ASCII")
}
