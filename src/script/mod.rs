//! Custom TypeScript actions: transpiled in Rust, run in Boa inside sandbox processes.

pub mod address;
pub mod context;
pub mod fetch;
pub mod host;
pub mod journal;
pub mod pool;
pub mod protocol;
pub mod sandbox;
pub mod transpile;
pub mod types;
