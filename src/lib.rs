//! switchboard: a self-hosted automation engine for support teams that live in Slack.
//!
//! The path of one event: `http` (or `socket`) receives and hands over to `inbox`, `slack` decodes into domain
//! values, `ingest` records the event, applies conversation changes and queues runs in
//! one transaction, `runs` executes them with leases and a step journal, and `actions`
//! does the work through `slack`'s Web API client. See `ARCHITECTURE.md` for the map.

/// Built-in actions: what a step of an automation does (reply, post, set fields, page…).
pub mod actions;
/// Builds pools, clients, router and workers; exposes the bound address.
pub mod app;
/// Approvals: requests with Approve / Deny buttons, and runs that wait for them.
pub mod approvals;
/// Automation definition files: format, validation with file/line/column, loading.
pub mod automations;
/// Business-hours calendars and deadlines in working time (pure).
pub mod calendar;
/// Command-line interface: `serve`, `migrate`, `check`, `runs`.
pub mod cli;
/// A clock that tests can control.
pub mod clock;
/// Typed configuration, loaded from the environment and an optional TOML file.
pub mod config;
/// The ticket model and its state changes (pure).
pub mod conversations;
/// All SQL: one file per table group, for SQLite and PostgreSQL.
pub mod db;
/// Changes to a conversation's timers, planned by silences and SLA clocks (pure).
pub mod deadlines;
/// Where the runs a trigger causes go: one per matching automation, in the database
/// or straight to one of this process's free workers.
pub mod dispatch;
/// Agents edit a conversation's fields from Slack: the "Edit conversation" form.
pub mod edits;
/// switchboard's Home tab in Slack, published for whoever opens it.
pub mod home;
/// The background chores: retention, old event ids and ticks, expired keys.
pub mod housekeeping;
/// Thin axum handlers: verify, decode, hand over, answer.
pub mod http;
/// Where Slack's deliveries go once a door (HTTP or Socket Mode) has vouched for them.
pub mod inbox;
/// The durable ingest: one transaction from event id to queued runs, before the ack.
pub mod ingest;
/// Clients for Jira, Okta and Google, used by scripts.
pub mod integrations;
/// The scripts' key-value store.
pub mod kv;
/// Starting a run of one named automation (manual runs, webhooks, schedules).
pub mod launch;
/// Manual runs: who may start what, input forms, `/switchboard` and the shortcut.
pub mod manual;
/// People as automation files name them (users, groups, channels), resolved via Slack.
pub mod principal;
/// How long history is kept: deleting finished runs, approval records and message
/// copies past their period, in small batches.
pub mod retention;
/// Trigger matching and filter evaluation (pure).
pub mod rules;
/// Run state machine, queue, workers, leases, retries and the step journal.
pub mod runs;
/// Scheduled automations: one run per cron tick, across servers and downtime.
pub mod schedules;
/// TypeScript actions: transpiling, the Boa sandbox processes, the host API.
pub mod script;
/// Managed secrets: envelope encryption, key providers, redaction.
pub mod secrets;
/// SLA policies and how a conversation's clocks move (pure).
pub mod sla;
/// Slack: request signatures, payload decoding into triggers, the Web API client.
pub mod slack;
/// Socket Mode: Slack's deliveries over WebSockets switchboard opens (no public URL).
pub mod socket;
/// The support team: whose messages count as the team's answers.
pub mod team;
/// Logging setup shared by the binary and the tests.
pub mod telemetry;
/// Message templates: `{{title}}`, `{{permalink}}` and friends.
pub mod template;
/// Automations that run when nothing happens: silences, kept as timers.
pub mod timers;
/// Domain types shared by every layer: triggers, events, ids.
pub mod trigger;
/// Per-automation webhook URLs: tokens, signatures, rate limits.
pub mod webhooks;
/// What switchboard knows about its workspaces, for ingest.
pub mod workspace;
