//! Bounds on what reaches Cedar, checked before Cedar sees it.
//!
//! Cedar's parsers (policy text, schema text) and its entity-graph code (transitive
//! closure) recurse; its evaluator and validator check the remaining stack, the rest do
//! not. A key holder's input must not be able to overflow a thread's stack (which aborts
//! the whole process) or make one call cost seconds of CPU, so every text and value is
//! measured here first, with a 400 that names the limit, and Cedar's work then runs on a
//! stack of its own ([`on_cedar_stack`]) that is far larger than the bounded input needs.
//!
//! The measures are written here (not taken from a crate) because they must mirror what
//! makes Cedar recurse: brackets and `if` expressions in its text, nested arrays and
//! objects in its JSON, parent chains in its entity graphs.

use std::collections::HashMap;
use std::hash::Hash;

/// How deep brackets (`(`, `[`, `{`, and `<` in schemas) and `if` expressions may nest in
/// a rule's conditions, a stored rule's text and a schema.
pub const MAX_CEDAR_NESTING: usize = 32;

/// How deep arrays and objects may nest in a context (counted from the context object)
/// and in one entity's JSON (counted from the entity object).
pub const MAX_JSON_NESTING: usize = 32;

/// The longest chain of ancestors (parent, its parent, …) an entity may have.
pub const MAX_ANCESTRY_DEPTH: usize = 32;

/// Request-scoped entities of one decision request.
pub const MAX_REQUEST_ENTITIES: usize = 100;

/// Request-scoped entities over all requests of one batch.
pub const MAX_BATCH_ENTITIES: usize = 1_000;

/// Requests of one batch that bring request-scoped entities: adding them copies the
/// tenant's stored entities once per request, a cost that grows with the store.
pub const MAX_BATCH_REQUESTS_WITH_ENTITIES: usize = 10;

/// How many operator characters (`.`, `[`, `&`, `|`, `+`, `-`, `*`, `<`, `>`, `=`, `!`) a
/// rule's conditions may hold. Cedar folds a chain such as `a && b && …` or `x.a.a.a…`
/// into one expression level per operand, with no bracket to count; its evaluator, on a
/// request worker's 2 MiB stack, gives up ("recursion limit reached") on chains of about
/// 450 levels in a release build, so a rule accepted is a rule that can be evaluated.
pub const MAX_CEDAR_OPERATORS: usize = 200;

/// The same bound for a rule's stored text, written perhaps by an earlier version: only
/// what Cedar's parser and the drop of its tree need (a deeper chain that evaluates to an
/// error fails that rule closed, not the tenant).
pub const MAX_STORED_OPERATORS: usize = 1_000;

/// Characters of all `like` patterns of a rule together: Cedar's wildcard matching costs a
/// pattern's length times the text's, on the request path (128 against a string of
/// [`MAX_STRING_CHARS`]: 0.7 ms in a release build).
pub const MAX_LIKE_PATTERN: usize = 128;

/// Declarations (`entity`, `action` and `type` statements) in one schema. Cedar resolves
/// chains of them (`entity A in [B]; entity B in [C]; …`, `type A = {a: B}; …`) with work
/// and memory that grow faster than their number, and frees nested types recursively.
pub const MAX_SCHEMA_DECLARATIONS: usize = 256;

/// Names a schema's `entity` and `action` declarations declare (one declaration may name
/// many: `action "a", "b", "c";`).
pub const MAX_SCHEMA_NAMES: usize = 512;

/// Hierarchy edges a schema's `entity … in […]` and `action … in […]` declarations make
/// (names × parents per declaration): Cedar computes their closure with work and memory
/// that grow faster than their number (2,000 names under 2,000 parents took 54 s).
pub const MAX_SCHEMA_EDGES: usize = 2_048;

/// The same bound for a stored schema, written perhaps by an earlier version: only what
/// Cedar can build and free safely (a type chain of 9,000 links still did).
pub const MAX_STORED_DECLARATIONS: usize = 2_000;

/// Attributes (`name: Type`, counted as the colons that are not `::`) in one schema:
/// Cedar's schema parser takes time that grows with the square of a record's attributes
/// (10,000 in one record: 0.7 s; 40,000: 6 s; 90,000: 16–42 s, paid again at every
/// compilation of the tenant's set).
pub const MAX_SCHEMA_ATTRIBUTES: usize = 4_096;

/// The same bound for a stored schema (about 2 s of parsing at worst).
pub const MAX_STORED_ATTRIBUTES: usize = 20_000;

/// The bounds a Cedar text is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub nesting: usize,
    pub operators: usize,
    pub declarations: usize,
    pub attributes: usize,
}

/// What an author may write now.
pub const AUTHORED: Bounds = Bounds {
    nesting: MAX_CEDAR_NESTING,
    operators: MAX_CEDAR_OPERATORS,
    declarations: MAX_SCHEMA_DECLARATIONS,
    attributes: MAX_SCHEMA_ATTRIBUTES,
};

/// What Cedar may parse of a stored text (see [`MAX_STORED_OPERATORS`]).
pub const STORED: Bounds = Bounds {
    nesting: MAX_CEDAR_NESTING,
    operators: MAX_STORED_OPERATORS,
    declarations: MAX_STORED_DECLARATIONS,
    attributes: MAX_STORED_ATTRIBUTES,
};

/// Characters of one string value in a context or an entity: values are matched against
/// `like` patterns on the request path.
pub const MAX_STRING_CHARS: usize = 4_096;

/// The stack Cedar's parsing, validation and entity loading run on. The inputs above keep
/// their recursion to a small fraction of it; it is reserved address space, touched only
/// as deep as the work goes.
const CEDAR_STACK: usize = 32 * 1024 * 1024;

/// Runs `f` (Cedar work on key holders' input: parsing, validation, entity loading) on a
/// stack of its own, so that no input, however nested, can overflow the calling thread's
/// stack (an async worker has 2 MiB); and, on an async worker of a multi-threaded runtime,
/// as blocking work (`block_in_place`), so that the worker's other tasks move to another
/// thread while Cedar works: a costly schema or policy write does not stall `/healthz` or
/// other tenants' requests.
pub fn on_cedar_stack<R>(f: impl FnOnce() -> R) -> R {
    let run = || stacker::grow(CEDAR_STACK, f);
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(run)
        }
        _ => run(),
    }
}

/// Which kind of Cedar text is measured: `<` nests only in schemas (`Set<…>`), and is a
/// comparison in policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Policy,
    Schema,
}

/// Which limit of a Cedar text was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Brackets and `if` expressions nest deeper than allowed.
    Nesting,
    /// More than [`MAX_CEDAR_OPERATORS`] operator characters (policy text only).
    Operators,
    /// `like` patterns longer than [`MAX_LIKE_PATTERN`] together (policy text only).
    LikePattern,
    /// More than [`MAX_SCHEMA_DECLARATIONS`] declarations, [`MAX_SCHEMA_NAMES`] declared
    /// names or [`MAX_SCHEMA_EDGES`] hierarchy edges (schema text only).
    Declarations,
    /// More than [`MAX_SCHEMA_ATTRIBUTES`] attributes (schema text only).
    Attributes,
}

/// Where the scanner is in an `entity` or `action` declaration of a schema.
#[derive(Clone, Copy)]
enum Decl {
    /// Reading the declared names, at this bracket depth.
    Head { names: usize, depth: usize },
    /// After `in`: a list or one parent follows.
    AfterIn { names: usize, depth: usize },
    /// In the parents' list opened at `depth`.
    Parents {
        names: usize,
        parents: usize,
        depth: usize,
    },
}

/// The first place where `text` nests deeper than `max` or passes another limit of its
/// kind ([`Exceeded`]), as `(which, line, column)` (1-based, columns in characters).
/// Brackets and `if` expressions count; string literals and `//` comments do not. An `if`
/// counts until the bracket around it closes, so sequential `if`s at one level add up: an
/// over-approximation, never an under-approximation. In policies, `.`, `[` and the
/// operator characters count towards [`MAX_CEDAR_OPERATORS`] (each adds a level to Cedar's
/// tree); in schemas, `entity`, `action` and `type` words towards
/// [`MAX_SCHEMA_DECLARATIONS`] (as attribute names too: an over-approximation).
pub fn text_too_deep(text: &str, kind: Text, bounds: Bounds) -> Option<(Exceeded, usize, usize)> {
    let max = bounds.nesting;
    // One entry per open bracket: the `if`s seen inside it so far.
    let mut frames: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let (mut line, mut col) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    let mut operators = 0usize;
    let mut declarations = 0usize;
    // The word being read (only its first few characters matter: keywords are short),
    // and whether the last word was `like` with nothing but blanks since.
    let mut word = String::new();
    let mut after_like = false;
    let mut like_chars = 0usize;
    let (mut decl, mut names, mut edges) = (None::<Decl>, 0usize, 0usize);
    let mut attributes = 0usize;
    let schema_total = |names: usize, edges: usize, declarations: usize| {
        declarations > bounds.declarations
            || names > MAX_SCHEMA_NAMES.max(bounds.declarations)
            || edges > MAX_SCHEMA_EDGES.max(bounds.declarations * 8)
    };
    while let Some(c) = chars.next() {
        col += 1;
        if c.is_alphanumeric() || c == '_' {
            // Past 8 bytes a word is none of the keywords: it is only marked as long (a
            // `_`, which no keyword holds), never cut (a cut could split a character).
            if word.len() < 8 {
                word.push(c);
            } else if !word.ends_with('_') {
                word.push('_');
            }
            continue;
        }
        if !word.is_empty() {
            after_like = word == "like";
            match (word.as_str(), kind) {
                ("if", _) => {
                    if let Some(top) = frames.last_mut() {
                        *top += 1;
                    }
                    depth += 1;
                }
                ("entity" | "action" | "type", Text::Schema) => {
                    declarations += 1;
                    if word != "type" {
                        names += 1;
                        decl = Some(Decl::Head { names: 1, depth });
                    }
                }
                ("in", Text::Schema) => {
                    if let Some(Decl::Head { names: n, depth: d }) = decl {
                        decl = Some(Decl::AfterIn { names: n, depth: d });
                    }
                }
                (_, Text::Schema) => match decl {
                    // One parent, named.
                    Some(Decl::AfterIn { names: n, .. }) => {
                        edges += n;
                        decl = None;
                    }
                    Some(Decl::Head { .. }) if word == "appliesTo" => decl = None,
                    _ => {}
                },
                _ => {}
            }
            if kind == Text::Schema && schema_total(names, edges, declarations) {
                return Some((Exceeded::Declarations, line, col.max(1)));
            }
            word.clear();
            if depth > max {
                return Some((Exceeded::Nesting, line, col.max(1)));
            }
        }
        let like_pattern = after_like && c == '"';
        // A comment is blank to Cedar: it keeps a `like` waiting for its pattern.
        let comment = c == '/' && chars.peek() == Some(&'/');
        if !c.is_whitespace() && !comment {
            after_like = false;
        }
        if kind == Text::Schema && !c.is_whitespace() && !comment {
            decl = match (decl, c) {
                (Some(Decl::Head { names: n, depth: d }), ',') if depth == d => {
                    names += 1;
                    Some(Decl::Head {
                        names: n + 1,
                        depth: d,
                    })
                }
                (Some(Decl::Head { .. }), ';' | '{' | '=') => None,
                (Some(Decl::AfterIn { names: n, depth: d }), '[') => Some(Decl::Parents {
                    names: n,
                    parents: 1,
                    depth: d,
                }),
                // One parent, quoted (an action).
                (Some(Decl::AfterIn { names: n, .. }), '"') => {
                    edges += n;
                    None
                }
                (
                    Some(Decl::Parents {
                        names: n,
                        parents: p,
                        depth: d,
                    }),
                    ',',
                ) if depth == d + 1 => Some(Decl::Parents {
                    names: n,
                    parents: p + 1,
                    depth: d,
                }),
                (
                    Some(Decl::Parents {
                        names: n,
                        parents: p,
                        depth: d,
                    }),
                    ']',
                ) if depth == d + 1 => {
                    edges += n * p;
                    None
                }
                (state, _) => state,
            };
            if schema_total(names, edges, declarations) {
                return Some((Exceeded::Declarations, line, col.max(1)));
            }
        }
        match c {
            '\n' => {
                line += 1;
                col = 0;
            }
            '"' => {
                // A string literal, with backslash escapes.
                while let Some(s) = chars.next() {
                    col += 1;
                    if like_pattern && kind == Text::Policy && s != '"' {
                        like_chars += 1;
                        if like_chars > MAX_LIKE_PATTERN {
                            return Some((Exceeded::LikePattern, line, col.max(1)));
                        }
                    }
                    match s {
                        '\\' => {
                            if chars.next() == Some('\n') {
                                line += 1;
                                col = 0;
                            } else {
                                col += 1;
                            }
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            col = 0;
                        }
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                // Cedar ends a comment at either line break.
                for s in chars.by_ref() {
                    if s == '\n' {
                        line += 1;
                        col = 0;
                        break;
                    }
                    if s == '\r' {
                        break;
                    }
                }
            }
            '[' if kind == Text::Policy => {
                frames.push(0);
                depth += 1;
                operators += 1;
                if operators > bounds.operators {
                    return Some((Exceeded::Operators, line, col.max(1)));
                }
            }
            '(' | '[' | '{' => {
                frames.push(0);
                depth += 1;
            }
            '<' if kind == Text::Schema => {
                frames.push(0);
                depth += 1;
            }
            ':' if kind == Text::Schema => {
                if chars.peek() == Some(&':') {
                    // a namespace path, `A::B`
                    chars.next();
                    col += 1;
                } else {
                    attributes += 1;
                    if attributes > bounds.attributes {
                        return Some((Exceeded::Attributes, line, col.max(1)));
                    }
                }
            }
            ')' | ']' | '}' => {
                pop(&mut frames, &mut depth);
            }
            '>' if kind == Text::Schema => {
                pop(&mut frames, &mut depth);
            }
            '.' | '&' | '|' | '+' | '-' | '*' | '<' | '>' | '=' | '!' if kind == Text::Policy => {
                operators += 1;
                if operators > bounds.operators {
                    return Some((Exceeded::Operators, line, col.max(1)));
                }
            }
            _ => {}
        }
        if depth > max {
            return Some((Exceeded::Nesting, line, col.max(1)));
        }
    }
    // A text that ends in a word: only `if` could still count.
    if word == "if" && depth + 1 > max {
        return Some((Exceeded::Nesting, line, col.max(1)));
    }
    None
}

fn pop(frames: &mut Vec<usize>, depth: &mut usize) {
    if frames.len() > 1 {
        let ifs = frames.pop().unwrap_or(0);
        *depth = depth.saturating_sub(ifs + 1);
    }
}

/// `text_too_deep` of an author's text (conditions, a schema), as the message a 400
/// carries.
pub fn check_text(text: &str, kind: Text) -> Result<(), String> {
    explain(text_too_deep(text, kind, AUTHORED), AUTHORED)
}

/// `check_text` for a stored text: what Cedar may parse at all.
pub fn check_stored(text: &str, kind: Text) -> Result<(), String> {
    explain(text_too_deep(text, kind, STORED), STORED)
}

fn explain(found: Option<(Exceeded, usize, usize)>, b: Bounds) -> Result<(), String> {
    let Bounds {
        nesting,
        operators,
        declarations,
        attributes,
    } = b;
    match found {
        None => Ok(()),
        Some((Exceeded::Nesting, line, column)) => Err(format!(
            "nests deeper than {nesting} levels of brackets and `if` expressions (at line \
             {line}, column {column}); the limit is {nesting}"
        )),
        Some((Exceeded::Operators, line, column)) => Err(format!(
            "holds more than {operators} operator characters (`.[&|+-*<>=!`; at line {line}, \
             column {column}); the limit is {operators}"
        )),
        Some((Exceeded::LikePattern, line, column)) => Err(format!(
            "has `like` patterns longer than {MAX_LIKE_PATTERN} characters together (at line \
             {line}, column {column}); the limit is {MAX_LIKE_PATTERN}"
        )),
        Some((Exceeded::Attributes, line, column)) => Err(format!(
            "declares more than {attributes} attributes (`name: Type`; at line {line}, column \
             {column}); the limit is {attributes}"
        )),
        Some((Exceeded::Declarations, line, column)) => Err(format!(
            "has more than {declarations} declarations (`entity`, `action`, `type`), \
             {} declared names or {} hierarchy edges (names × parents; at line {line}, \
             column {column}); the limit is {declarations} declarations",
            MAX_SCHEMA_NAMES.max(declarations),
            MAX_SCHEMA_EDGES.max(declarations * 8)
        )),
    }
}

/// How deep arrays and objects nest in `v` (a scalar is 0, `{}` and `[]` are 1), and the
/// characters of its longest string (object keys included).
fn json_measure(v: &serde_json::Value) -> (usize, usize) {
    use serde_json::Value;
    let (mut deepest, mut longest) = (0, 0);
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d + 1);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(d + 1);
                for (k, i) in map {
                    longest = longest.max(k.chars().count());
                    stack.push((i, d + 1));
                }
            }
            Value::String(s) => longest = longest.max(s.chars().count()),
            _ => {}
        }
    }
    (deepest, longest)
}

/// How deep arrays and objects nest in `v` (a scalar is 0, `{}` and `[]` are 1).
pub fn json_depth(v: &serde_json::Value) -> usize {
    json_measure(v).0
}

/// `json_depth` against [`MAX_JSON_NESTING`], as the message a 400 carries: what Cedar may
/// load at all (stored entities too).
pub fn check_json(v: &serde_json::Value) -> Result<(), String> {
    let depth = json_depth(v);
    if depth > MAX_JSON_NESTING {
        return Err(format!(
            "arrays and objects nest {depth} levels deep; the limit is {MAX_JSON_NESTING}"
        ));
    }
    Ok(())
}

/// What a context or an entity sent to grantd may be: [`check_json`]'s nesting, and no
/// string longer than [`MAX_STRING_CHARS`].
pub fn check_input(v: &serde_json::Value) -> Result<(), String> {
    let (depth, longest) = json_measure(v);
    if depth > MAX_JSON_NESTING {
        return Err(format!(
            "arrays and objects nest {depth} levels deep; the limit is {MAX_JSON_NESTING}"
        ));
    }
    if longest > MAX_STRING_CHARS {
        return Err(format!(
            "a string has {longest} characters; the limit is {MAX_STRING_CHARS}"
        ));
    }
    Ok(())
}

/// The longest ancestor chain of every node of a parent graph, computed without recursion.
/// `parents` gives each node's direct parents; a parent that is not a node of the graph has
/// the depth `outside` says (`0` when it knows nothing of it). A node without parents has
/// depth 0; a node's depth is one more than its deepest parent's. Cycles are not this
/// function's to report (Cedar refuses them); an edge that closes one counts as depth 0.
///
/// Stops at the first node deeper than `max` and returns it.
pub fn ancestry_depths<K: Hash + Eq + Clone>(
    parents: &HashMap<K, Vec<K>>,
    outside: impl Fn(&K) -> usize,
    max: usize,
) -> Result<HashMap<K, usize>, K> {
    let mut done: HashMap<K, usize> = HashMap::with_capacity(parents.len());
    let mut on_path: std::collections::HashSet<K> = std::collections::HashSet::new();
    for start in parents.keys() {
        if done.contains_key(start) {
            continue;
        }
        // (node, index of the next parent to look at, deepest parent seen so far)
        let mut stack: Vec<(&K, usize, usize)> = vec![(start, 0, 0)];
        on_path.insert(start.clone());
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            let list = &parents[node];
            if let Some(p) = list.get(top.1) {
                top.1 += 1;
                match parents.get_key_value(p) {
                    None => top.2 = top.2.max(outside(p) + 1),
                    Some(_) if on_path.contains(p) => {}
                    Some((k, _)) => match done.get(p) {
                        Some(d) => top.2 = top.2.max(d + 1),
                        None => {
                            on_path.insert(k.clone());
                            stack.push((k, 0, 0));
                        }
                    },
                }
                continue;
            }
            let depth = top.2;
            if depth > max {
                return Err(node.clone());
            }
            stack.pop();
            on_path.remove(node);
            done.insert(node.clone(), depth);
            if let Some(parent_frame) = stack.last_mut() {
                parent_frame.2 = parent_frame.2.max(depth + 1);
            }
        }
    }
    Ok(done)
}

/// The `(type, id)` of a Cedar JSON entity reference (`{"type","id"}` or its `__entity`
/// escape), if it is one.
pub fn json_uid(v: &serde_json::Value) -> Option<(String, String)> {
    let v = v.get("__entity").unwrap_or(v);
    Some((
        v.get("type")?.as_str()?.to_string(),
        v.get("id")?.as_str()?.to_string(),
    ))
}

/// The direct parents a Cedar JSON entity names (malformed ones are Cedar's to report).
fn json_parents(entity: &serde_json::Value) -> Vec<(String, String)> {
    entity
        .get("parents")
        .and_then(serde_json::Value::as_array)
        .map(|ps| ps.iter().filter_map(json_uid).collect())
        .unwrap_or_default()
}

/// The ancestry depth of every entity of a list of Cedar JSON entities, by `(type, id)`,
/// from their JSON (before Cedar computes their ancestry, which recurses); a parent outside
/// the list has the depth `outside` says. An entity deeper than [`MAX_ANCESTRY_DEPTH`] is
/// the message a 400 carries.
pub fn entity_depths(
    entities: &[serde_json::Value],
    outside: impl Fn(&(String, String)) -> usize,
) -> Result<HashMap<(String, String), usize>, String> {
    let graph: HashMap<(String, String), Vec<(String, String)>> = entities
        .iter()
        .filter_map(|e| Some((json_uid(e.get("uid")?)?, json_parents(e))))
        .collect();
    ancestry_depths(&graph, outside, MAX_ANCESTRY_DEPTH).map_err(|(t, id)| {
        format!(
            "{} has a chain of more than {MAX_ANCESTRY_DEPTH} ancestors; the limit is \
             {MAX_ANCESTRY_DEPTH}",
            super::uid_text(&t, &id)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The authored bounds with another nesting limit.
    fn at(nesting: usize) -> Bounds {
        Bounds {
            nesting,
            ..AUTHORED
        }
    }

    fn parens(n: usize) -> String {
        format!("when {{ {}true{} }}", "(".repeat(n), ")".repeat(n))
    }

    #[test]
    fn brackets_and_ifs_count_strings_and_comments_do_not() {
        // `when { … }` is one level itself.
        assert_eq!(text_too_deep(&parens(31), Text::Policy, at(32)), None);
        assert_eq!(
            text_too_deep(&parens(32), Text::Policy, at(32)),
            Some((Exceeded::Nesting, 1, 39))
        );
        let strings = format!("when {{ \"{}\" == \"\\\"(\" }}", "(".repeat(500));
        assert_eq!(text_too_deep(&strings, Text::Policy, at(2)), None);
        let comment = format!("when {{ true // {}\n }}", "[".repeat(500));
        assert_eq!(text_too_deep(&comment, Text::Policy, at(2)), None);
        // Cedar ends a comment at `\r` too: what follows it counts.
        let cr = format!(
            "when {{ true // x\r && {}true{} }}",
            "(".repeat(40),
            ")".repeat(40)
        );
        assert!(text_too_deep(&cr, Text::Policy, at(32)).is_some());
        // Operator chains, which nest without brackets.
        let chain = format!("when {{ context{} }}", ".a".repeat(MAX_CEDAR_OPERATORS + 1));
        assert!(matches!(
            text_too_deep(&chain, Text::Policy, at(32)),
            Some((Exceeded::Operators, 1, _))
        ));
        let ok = format!("when {{ context{} }}", ".a".repeat(MAX_CEDAR_OPERATORS));
        assert_eq!(text_too_deep(&ok, Text::Policy, at(32)), None);
        let ifs = format!(
            "when {{ {} true {} }}",
            "if true then ".repeat(40),
            " else false".repeat(40)
        );
        assert!(text_too_deep(&ifs, Text::Policy, at(32)).is_some());
        // `if` inside an identifier or a longer word is no `if`.
        let words = "when { principal.ifx == \"a\" && context.elif && diff < 3 }";
        assert_eq!(text_too_deep(words, Text::Policy, at(1)), None);
        // `<` is a comparison in policies and a bracket in schemas.
        let lt = format!("when {{ {} }}", "1 < 2 && ".repeat(60) + "true");
        assert_eq!(text_too_deep(&lt, Text::Policy, at(1)), None);
        let sets = format!("type T = {}String{};", "Set<".repeat(33), ">".repeat(33));
        assert!(text_too_deep(&sets, Text::Schema, at(32)).is_some());
        assert_eq!(text_too_deep(&sets, Text::Schema, at(33)), None);
        // `[` counts as an operator (indexing nests like `.`), `like` patterns add up.
        let index = format!("when {{ N::\"x\"{} == N::\"x\" }}", "[\"m\"]".repeat(199));
        assert!(matches!(
            text_too_deep(&index, Text::Policy, at(32)),
            Some((Exceeded::Operators, 1, _))
        ));
        let like = |n: usize| {
            format!(
                "when {{ context.a like \"{}\" && context.b like  \"*{}\" }}",
                "a".repeat(n),
                "b".repeat(MAX_LIKE_PATTERN - n - 1)
            )
        };
        assert_eq!(text_too_deep(&like(60), Text::Policy, at(32)), None);
        let too_long = format!(
            "when {{ context.a like \"{}\" }}",
            "*".repeat(MAX_LIKE_PATTERN + 1)
        );
        assert!(matches!(
            text_too_deep(&too_long, Text::Policy, at(32)),
            Some((Exceeded::LikePattern, 1, _))
        ));
        // A string after another word is no pattern, however long.
        let not_like = format!("when {{ context.a == \"{}\" }}", "*".repeat(5000));
        assert_eq!(text_too_deep(&not_like, Text::Policy, at(32)), None);
        // A comment between `like` and its pattern hides nothing.
        let hidden = format!(
            "when {{ context.a like // x\n \"{}\" }}",
            "*".repeat(MAX_LIKE_PATTERN + 1)
        );
        assert!(matches!(
            text_too_deep(&hidden, Text::Policy, at(32)),
            Some((Exceeded::LikePattern, 2, _))
        ));
        // Schemas: one declaration may name many; names and their hierarchy edges count.
        let many = |w: usize| {
            let names = |p: &str| {
                (0..w)
                    .map(|i| format!("\"{p}{i}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "action {};\naction {} in [{}];",
                names("a"),
                names("x"),
                names("a")
            )
        };
        assert_eq!(text_too_deep(&many(40), Text::Schema, at(32)), None);
        assert!(matches!(
            text_too_deep(&many(60), Text::Schema, at(32)),
            Some((Exceeded::Declarations, 2, _))
        ));
        let entities = |w: usize| {
            let names = |p: &str| {
                (0..w)
                    .map(|i| format!("{p}{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "entity {};\nentity {} in [{}] {{ a: Long, b: Long }};",
                names("A"),
                names("B"),
                names("A")
            )
        };
        assert_eq!(text_too_deep(&entities(40), Text::Schema, at(32)), None);
        assert!(text_too_deep(&entities(300), Text::Schema, at(32)).is_some());
        // Attribute lists and `appliesTo` are no names.
        let attrs = format!(
            "entity U in [G] {{ {} }};",
            (0..2000)
                .map(|i| format!("a{i}: Long"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(text_too_deep(&attrs, Text::Schema, at(32)), None);
        // Schemas: declarations are counted (not in comments or strings).
        let decls = |n: usize| {
            (0..n)
                .map(|i| format!("entity K{i} in [K{}]; // entity action type\n", i + 1))
                .collect::<String>()
        };
        assert_eq!(
            text_too_deep(&decls(MAX_SCHEMA_DECLARATIONS), Text::Schema, at(32)),
            None
        );
        assert!(matches!(
            text_too_deep(&decls(MAX_SCHEMA_DECLARATIONS + 1), Text::Schema, at(32)),
            Some((Exceeded::Declarations, _, _))
        ));
        // Attributes are counted by their colons; namespace paths (`A::B`), strings and
        // comments do not count.
        let record = |n: usize| {
            format!(
                "entity U {{ {} }}; entity V in [NS::G]; // a: b\n type T = {{ \"x:y\": Long }};",
                (0..n)
                    .map(|i| format!("a{i}: Long"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        assert_eq!(
            text_too_deep(&record(MAX_SCHEMA_ATTRIBUTES - 1), Text::Schema, at(32)),
            None
        );
        assert!(matches!(
            text_too_deep(&record(MAX_SCHEMA_ATTRIBUTES + 1), Text::Schema, at(32)),
            Some((Exceeded::Attributes, 1, _))
        ));
        let refused = check_text(&record(MAX_SCHEMA_ATTRIBUTES + 1), Text::Schema).unwrap_err();
        assert!(refused.contains("attributes"), "{refused}");
        assert_eq!(
            check_stored(&record(MAX_SCHEMA_ATTRIBUTES + 1), Text::Schema),
            Ok(())
        );
        // Long words of any script are no keyword, and never split.
        let words = "when { context.ééééééééé == \"x\" && context.actionnnnn_if }";
        assert_eq!(text_too_deep(words, Text::Policy, at(1)), None);
        // The position names the line and column where the limit was passed.
        let multi = format!("when {{\n  {}", "(".repeat(40));
        assert_eq!(
            text_too_deep(&multi, Text::Policy, at(32)),
            Some((Exceeded::Nesting, 2, 34))
        );
    }

    #[test]
    fn json_depth_counts_arrays_and_objects() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({})), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}]})), 4);
        let mut v = json!(true);
        for _ in 0..40 {
            v = json!({ "x": v });
        }
        assert_eq!(json_depth(&v), 40);
        assert!(check_json(&v).is_err());
    }

    #[test]
    fn ancestry_depths_of_chains_diamonds_and_cycles() {
        let g = |edges: &[(&str, &[&str])]| -> HashMap<String, Vec<String>> {
            edges
                .iter()
                .map(|(k, ps)| (k.to_string(), ps.iter().map(|p| p.to_string()).collect()))
                .collect()
        };
        let chain: HashMap<String, Vec<String>> = (0..10_000)
            .map(|i| {
                (
                    format!("c{i}"),
                    if i == 0 {
                        vec![]
                    } else {
                        vec![format!("c{}", i - 1)]
                    },
                )
            })
            .collect();
        let d = ancestry_depths(&chain, |_| 0, usize::MAX).unwrap();
        assert_eq!(d["c9999"], 9999);
        assert!(ancestry_depths(&chain, |_| 0, 32).is_err());
        let diamond = g(&[
            ("u", &["a", "b"]),
            ("a", &["top"]),
            ("b", &["top"]),
            ("top", &[]),
        ]);
        let d = ancestry_depths(&diamond, |_| 0, 32).unwrap();
        assert_eq!((d["u"], d["a"], d["top"]), (2, 1, 0));
        // A stored parent outside the graph brings its own depth.
        let outside = g(&[("u", &["stored"])]);
        let d = ancestry_depths(&outside, |_| 5, 32).unwrap();
        assert_eq!(d["u"], 6);
        // A cycle terminates (Cedar reports it).
        let cycle = g(&[("a", &["b"]), ("b", &["a"])]);
        assert!(ancestry_depths(&cycle, |_| 0, 32).is_ok());
    }

    proptest! {
        /// The iterative depth equals a plain recursive definition on random DAGs.
        #[test]
        fn ancestry_depths_match_the_definition(edges in proptest::collection::vec((0usize..40, 0usize..40), 0..120)) {
            let mut parents: HashMap<usize, Vec<usize>> = (0..40).map(|i| (i, vec![])).collect();
            for (a, b) in edges {
                let (child, parent) = (a.max(b), a.min(b));
                if child != parent {
                    parents.get_mut(&child).unwrap().push(parent);
                }
            }
            fn depth(n: usize, p: &HashMap<usize, Vec<usize>>) -> usize {
                p[&n].iter().map(|q| depth(*q, p) + 1).max().unwrap_or(0)
            }
            let got = ancestry_depths(&parents, |_| 0, usize::MAX).unwrap();
            for n in 0..40 {
                prop_assert_eq!(got[&n], depth(n, &parents));
            }
        }

        /// Nested brackets are found at exactly the depth they reach.
        #[test]
        fn text_depth_is_exact_for_plain_brackets(n in 0usize..80, max in 1usize..64) {
            let t = format!("{}x{}", "(".repeat(n), ")".repeat(n));
            prop_assert_eq!(text_too_deep(&t, Text::Policy, at(max)).is_some(), n > max);
        }
    }
}
