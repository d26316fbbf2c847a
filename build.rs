//! Lets the test suite say which tests it skips: PostgreSQL variants are `#[ignore]`d
//! (and listed as such by `cargo test`) unless TEST_DATABASE_URL is set at build time.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
