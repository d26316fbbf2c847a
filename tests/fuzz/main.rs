//! Fuzz targets for every decoder of outside input. `cargo test` runs each for two
//! seconds; `SWITCHBOARD_FUZZ_SECONDS=600 cargo test --release --test fuzz --
//! --test-threads 2` for ten minutes each (see `harness` for the other settings).
//! Each target starts from real samples, mutates them (`mutate`), checks that nothing
//! panics or hangs and, where there is an oracle, that the answer is right. Inputs that
//! once failed are kept in `regressions/<target>/` and replayed first.

// How a target runs, and what it is fed.
mod harness;
mod mutate;
mod samples;

// The targets, by what they decode.

/// Files people write: automations, their filters, calendars and SLA policies.
mod automations;
/// Slack's HTTP doors of the running server.
mod doors;
/// Signed run links.
mod links;
/// Commands typed to the bot in a message, and manual runs' inputs.
mod manual;
/// The TypeScript transpiler and both sides of the sandbox protocol.
mod scripts;
/// Sealed secrets, tampered with.
mod secrets;
/// Slack's deliveries: events, interactions, commands, signatures, Socket Mode frames.
mod slack;
/// Message templates.
mod templates;
/// The webhook door: signatures, and calls of the running server.
mod webhooks;

// The running server, for the targets that go through HTTP.

/// `spawn_app()` of the API tests: the server, a fresh database, a fake Slack.
#[path = "../api/helpers/mod.rs"]
#[allow(dead_code)]
mod helpers;
/// The server on a runtime of its own, and what it may not do.
mod served;
