//! Everything Cedar: assembling a rule's text from typed input (escaping, and proving the
//! text parses back into exactly the intended rule), validating rules against a tenant's
//! schema, and checking that a schema still offers what grantd relies on.

pub mod assemble;
pub mod candidates;
pub mod engine;
pub mod limits;
pub mod schema;
pub mod validate;

/// `T::"id"` as Cedar writes it (escaped).
pub fn uid_text(etype: &str, id: &str) -> String {
    match <cedar_policy::EntityTypeName as std::str::FromStr>::from_str(etype) {
        Ok(t) => cedar_policy::EntityUid::from_type_name_and_id(t, cedar_policy::EntityId::new(id))
            .to_string(),
        Err(_) => format!("{etype}::{id:?}"),
    }
}
