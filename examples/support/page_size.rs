//! `GRANTD_BENCH_PAGE_SIZE=<bytes>` for the benchmark examples: the database file is created
//! with that page size instead of the store's default (`grantd::store::sqlite::PAGE_SIZE`),
//! so that the two can be compared in one session.

/// Creates the database file at `path` with the page size the environment asks for, if
/// any. A page size is fixed once a file has a table; the store's own applies only to a
/// new, empty file.
pub fn create_if_asked(path: &std::path::Path) {
    let Ok(size) = std::env::var("GRANTD_BENCH_PAGE_SIZE") else {
        return;
    };
    let size: u32 = size
        .parse()
        .expect("GRANTD_BENCH_PAGE_SIZE: a power of two from 512 to 65536");
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA page_size = {size}; CREATE TABLE bench_page_size (x); DROP TABLE bench_page_size;"
    ))
    .unwrap();
    let got: u32 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(got, size, "SQLite refused the page size");
    println!("database created with {size}-byte pages");
}
