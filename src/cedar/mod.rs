//! Everything Cedar: assembling a rule's text from typed input (escaping, and proving the
//! text parses back into exactly the intended rule), validating rules against a tenant's
//! schema, and checking that a schema still offers what grantd relies on.

pub mod assemble;
pub mod candidates;
pub mod engine;
pub mod limits;
pub mod schema;
pub mod validate;
