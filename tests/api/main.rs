//! Black-box tests: the real server on port 0, a fresh database per test (SQLite, and
//! PostgreSQL when TEST_DATABASE_URL is set), and fake Slack servers.

mod helpers;

mod agent_edits;
mod app_home;
mod approvals;
mod check;
mod conversations;
mod escalation;
mod fetch;
mod kv;
mod manual;
mod onboarding;
mod password_reset;
mod reload;
mod retention;
mod sandbox;
mod schedules;
mod script_approvals;
mod scripts;
mod secrets;
mod signature;
mod silences;
mod slas;
mod socket_mode;
mod wait_until;
mod webhooks;
