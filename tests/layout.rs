//! The layering the code keeps, checked on its source: database crates only in `store/`,
//! and `cedar/` and `domain/` never calling up into services, stores or HTTP (their unit
//! tests may).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The file's code before its unit tests, without comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn database_crates_are_named_only_in_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let store = src.join("store");
    for f in files.iter().filter(|f| !f.starts_with(&store)) {
        let c = code(f);
        for word in ["sqlx", "rusqlite", "Sqlite", "Postgres", "PgPool"] {
            assert!(!c.contains(word), "{} names {word}", f.display());
        }
    }
}

#[test]
fn cedar_and_domain_do_not_call_up_the_tree() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for dir in ["cedar", "domain"] {
        let mut files = Vec::new();
        sources(&src.join(dir), &mut files);
        for f in &files {
            let c = code(f);
            for up in [
                "crate::service",
                "crate::store",
                "crate::http",
                "crate::audit",
            ] {
                assert!(!c.contains(up), "{} uses {up}", f.display());
            }
            if dir == "domain" {
                assert!(
                    !c.contains("crate::cedar"),
                    "{} uses crate::cedar",
                    f.display()
                );
            }
        }
    }
}
