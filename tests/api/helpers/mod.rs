//! `spawn_app()`: the real server on port 0 against a fresh database and a fake Slack.

pub mod database;
pub mod events;
pub mod fake_kms;
pub mod fake_slack;
pub mod fake_socket;
pub mod fake_vendors;
pub mod interactions;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::app::App;
use switchboard::clock::{Clock, SystemClock};
use switchboard::config::Config;
use switchboard::db::Db;
use switchboard::db::runs::{self, RunQuery, RunRecord};

pub use database::{Backend, TestDatabase};
pub use fake_slack::FakeSlack;
pub use fake_vendors::FakeVendors;

pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789";

/// Runs the same test body against SQLite and PostgreSQL. The PostgreSQL variant is
/// listed as ignored unless TEST_DATABASE_URL was set when the tests were built.
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($backend: $crate::helpers::Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    case($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(pg_tests), ignore = "PostgreSQL: set TEST_DATABASE_URL to run")]
                async fn postgres() {
                    case($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// How to build a test app.
pub struct TestAppBuilder {
    backend: Backend,
    automations: Vec<(String, String)>,
    files: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    env: HashMap<String, String>,
    clock: Arc<dyn Clock>,
}

pub fn app(backend: Backend) -> TestAppBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if std::env::var("TEST_LOG").is_ok() {
        switchboard::telemetry::init();
    }
    TestAppBuilder {
        backend,
        automations: Vec::new(),
        files: Vec::new(),
        secrets: Vec::new(),
        env: HashMap::new(),
        clock: Arc::new(SystemClock),
    }
}

/// The shipped example automation `name` (from `automations/`).
pub fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("automations")
        .join(format!("{name}.toml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl TestAppBuilder {
    /// Adds an automation file.
    pub fn automation(mut self, id: &str, toml: &str) -> Self {
        self.automations.push((id.to_owned(), toml.to_owned()));
        self
    }

    /// Adds a shipped example automation, with the scripts it runs.
    pub fn example(self, name: &str) -> Self {
        self.example_with(name, &[])
    }

    /// Adds a shipped example with text replaced in it and in its scripts.
    pub fn example_with(mut self, name: &str, replace: &[(&str, &str)]) -> Self {
        let edit = |mut text: String| {
            for (from, to) in replace {
                text = text.replace(from, to);
            }
            text
        };
        let text = example(name);
        for line in text.lines() {
            if let Some(file) = line
                .trim()
                .strip_prefix("file = \"")
                .and_then(|r| r.strip_suffix('"'))
            {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("automations")
                    .join(file);
                let script = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                self.files.push((file.to_owned(), edit(script)));
            }
        }
        self.automation(name, &edit(text))
    }

    /// Adds a file (a script) to the automations directory.
    pub fn file(mut self, name: &str, text: &str) -> Self {
        self.files.push((name.to_owned(), text.to_owned()));
        self
    }

    /// Points the integrations at `vendors`, with their credentials as secrets.
    pub fn vendors(mut self, vendors: &FakeVendors) -> Self {
        self.env.extend(vendors.env());
        for (name, value) in FakeVendors::secrets() {
            self.secrets.push((name.to_owned(), value));
        }
        self
    }

    /// Stores a secret (as `switchboard secrets set` would).
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a configuration variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Receives Slack's deliveries over Socket Mode from the fake, with no signing
    /// secret (Slack's HTTP endpoints are then off).
    pub fn socket_mode(self) -> Self {
        self.env("SLACK_APP_TOKEN", fake_socket::APP_TOKEN)
            .env("SLACK_SIGNING_SECRET", "")
    }

    pub async fn spawn(self) -> TestApp {
        self.try_spawn().await.expect("the app starts")
    }

    /// Starts the app, or says why it would not start.
    pub async fn try_spawn(self) -> anyhow::Result<TestApp> {
        let database = TestDatabase::create(self.backend).await;
        let slack = FakeSlack::start().await;
        let automations = tempfile::tempdir().unwrap();
        for (id, text) in &self.automations {
            std::fs::write(automations.path().join(format!("{id}.toml")), text).unwrap();
        }
        for (name, text) in &self.files {
            let path = automations.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut env: HashMap<String, String> = [
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
            ("SLACK_BOT_TOKEN", fake_slack::TOKEN.to_owned()),
            ("SLACK_API_URL", slack.api_url()),
            ("DATABASE_URL", database.url.clone()),
            ("SWITCHBOARD_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "SWITCHBOARD_AUTOMATIONS",
                automations.path().display().to_string(),
            ),
            ("SWITCHBOARD_WORKERS", "4".to_owned()),
            ("SWITCHBOARD_POLL_INTERVAL_MS", "50".to_owned()),
            ("SWITCHBOARD_RETRY_BASE_MS", "100".to_owned()),
            ("SWITCHBOARD_LEASE_SECONDS", "3".to_owned()),
            ("SWITCHBOARD_SLACK_TIMEOUT_SECONDS", "2".to_owned()),
            (
                "SWITCHBOARD_SANDBOX_BINARY",
                env!("CARGO_BIN_EXE_switchboard").to_owned(),
            ),
            ("SWITCHBOARD_SCRIPT_PROCESSES", "2".to_owned()),
            (
                "SWITCHBOARD_SECRET_KEY_FILE",
                automations
                    .path()
                    .join("switchboard.key")
                    .display()
                    .to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.env);
        let config = Config::load_from(None, &env)?;
        let app = App::build_with_clock(config.clone(), self.clock.clone()).await?;
        let db = Db::connect(&config.database).await.unwrap();
        let provider = switchboard::secrets::open_provider(&config.secrets)
            .await
            .unwrap();
        let secrets = switchboard::secrets::SecretStore::new(db.clone(), provider);
        for (name, value) in &self.secrets {
            secrets
                .set("*", name, value.as_bytes(), "tests", self.clock.now_ms())
                .await
                .unwrap();
        }
        Ok(TestApp {
            addr: app.addr(),
            app: Some(app),
            config,
            clock: self.clock,
            env,
            db,
            slack,
            automations,
            client: reqwest::Client::new(),
            _database: database,
        })
    }
}

/// Runs the command line with the environment `env` (and nothing else).
pub fn cli_with(env: &HashMap<String, String>, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_clear()
        .envs(env.iter())
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    app: Option<App>,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub env: HashMap<String, String>,
    pub db: Db,
    pub slack: FakeSlack,
    pub automations: tempfile::TempDir,
    pub client: reqwest::Client,
    _database: TestDatabase,
}

impl TestApp {
    /// The secret store as the server opens it (the key as configured now).
    pub async fn secrets(&self) -> switchboard::secrets::SecretStore {
        let provider = switchboard::secrets::open_provider(&self.config.secrets)
            .await
            .unwrap();
        switchboard::secrets::SecretStore::new(self.db.clone(), provider)
    }

    /// Runs the command line with the app's configuration.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        cli_with(&self.env, args)
    }

    /// `switchboard serve` as its own process, with the app's configuration (stop the
    /// in-process server first: both would take Slack's deliveries).
    pub fn serve_process(&self, overrides: &[(&str, &str)]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env_clear()
            .envs(self.env.iter())
            .envs(overrides.iter().copied())
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a body signed as Slack signs it, now.
    pub async fn post_event(&self, event: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(event).unwrap();
        self.post_signed("/slack/events", body, &[]).await
    }

    /// Posts an interactivity payload (a click, a dialog), form-encoded and signed.
    pub async fn post_interaction(&self, payload: &Value) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes();
        self.post_signed(
            "/slack/interactions",
            body,
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    /// Posts a slash command as Slack sends it.
    pub async fn post_command(&self, user: &str, channel: &str, text: &str) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "ZZZZZZWSxiZZZ2yIvs3peJ")
            .append_pair("team_id", fake_slack::TEAM_ID)
            .append_pair("team_domain", "acme-support")
            .append_pair("channel_id", channel)
            .append_pair("channel_name", "support")
            .append_pair("user_id", user)
            .append_pair("user_name", "someone")
            .append_pair("command", "/switchboard")
            .append_pair("text", text)
            .append_pair("api_app_id", "A0SWITCHB1")
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &self.slack.response_url())
            .append_pair("trigger_id", "1700000000.111111.command0123456789")
            .finish()
            .into_bytes();
        self.post_signed(
            "/slack/commands",
            body,
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    /// Posts a delivery retry, as Slack marks them.
    pub async fn post_event_retry(&self, event: &Value, retry_num: u32) -> reqwest::Response {
        let body = serde_json::to_vec(event).unwrap();
        let retry = retry_num.to_string();
        self.post_signed(
            "/slack/events",
            body,
            &[
                ("x-slack-retry-num", retry.as_str()),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await
    }

    pub async fn post_signed(
        &self,
        path: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let ts = self.clock.now().timestamp().to_string();
        let signature = switchboard::slack::signature::sign(SIGNING_SECRET.as_bytes(), &ts, &body);
        let form = extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let mut request = self.client.post(self.url(path));
        if !form {
            request = request.header("content-type", "application/json");
        }
        let mut request = request
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature);
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        request
            .body(body)
            .send()
            .await
            .expect("request reaches the server")
    }

    /// Runs, newest first.
    pub async fn runs(&self) -> Vec<RunRecord> {
        runs::list(
            self.db.reader(),
            &RunQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    /// Waits until every run has reached a final state; returns them oldest first.
    pub async fn wait_for_runs_to_finish(&self, within: Duration) -> Vec<RunRecord> {
        let deadline = Instant::now() + within;
        loop {
            let runs = self.runs().await;
            if runs
                .iter()
                .all(|r| r.status == "succeeded" || r.status == "failed")
            {
                return runs.into_iter().rev().collect();
            }
            if Instant::now() > deadline {
                panic!("runs did not finish within {within:?}: {runs:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a run is in `status`; returns it.
    pub async fn wait_for_status(&self, status: &str, within: Duration) -> RunRecord {
        let deadline = Instant::now() + within;
        loop {
            let runs = self.runs().await;
            if let Some(run) = runs.iter().find(|r| r.status == status) {
                return run.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no run became {status} within {within:?}: {runs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.db.reader())
            .await
            .unwrap()
    }

    /// Stops at once, as a crash would, and starts again.
    pub async fn kill_and_restart_with(&mut self, overrides: &[(&str, &str)]) {
        self.kill().await;
        self.start_again(overrides).await;
    }

    /// Stops at once, as a crash would; `start_again` brings it back.
    pub async fn kill(&mut self) {
        if let Some(app) = self.app.take() {
            app.kill().await;
        }
    }

    /// A second server on the same database, automations and clock (another replica).
    pub async fn replica(&self) -> App {
        App::build_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("the replica starts")
    }

    pub async fn start_again(&mut self, overrides: &[(&str, &str)]) {
        for (k, v) in overrides {
            self.env.insert((*k).to_owned(), (*v).to_owned());
        }
        self.config = Config::load_from(None, &self.env).unwrap();
        let app = App::build_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("the app starts again");
        self.addr = app.addr();
        self.app = Some(app);
    }

    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}
