//! A running server for the targets that go through HTTP: the real app on port 0 with a
//! fresh SQLite database and a fake Slack, as the API tests start it, on a runtime of
//! its own whose threads are named `app-<target>` (so that their panics are seen). Its
//! workers are off: runs are queued, not executed.

use std::time::Duration;

use crate::harness::{Verdict, ensure, server_panics};
use crate::helpers::{self, Backend, TestApp, TestAppBuilder};

/// The server and the runtime it runs on.
pub struct Served {
    pub runtime: tokio::runtime::Runtime,
    pub app: TestApp,
    target: String,
    panics_seen: usize,
    violations_seen: usize,
    requests: u64,
}

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Starts the app that `build` describes for `target`.
pub fn serve(target: &str, build: impl FnOnce(TestAppBuilder) -> TestAppBuilder) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("app-{target}"))
        .enable_all()
        .build()
        .expect("a runtime");
    let builder = build(helpers::app(Backend::Sqlite).env("SWITCHBOARD_WORKERS", "0"));
    let app = runtime.block_on(builder.spawn());
    Served {
        runtime,
        app,
        target: target.to_owned(),
        panics_seen: server_panics().len(),
        violations_seen: 0,
        requests: 0,
    }
}

impl Served {
    /// Sends `request`; `None` when it cannot be sent at all (an address or header
    /// HTTP cannot carry), an error when the server dropped the connection.
    pub fn send(&mut self, request: reqwest::RequestBuilder) -> Result<Option<Answer>, String> {
        let Ok(request) = request.timeout(Duration::from_secs(10)).build() else {
            return Ok(None);
        };
        self.requests += 1;
        if self.requests.is_multiple_of(1000) {
            // A long run would keep every call the fake Slack was sent.
            self.app.slack.forget_calls();
        }
        self.runtime.block_on(async {
            let response = match self.app.client.execute(request).await {
                Ok(response) => response,
                // Refused by the client itself (an address longer than HTTP carries).
                Err(e) if e.is_builder() => return Ok(None),
                Err(e) => return Err(format!("no answer: {e}")),
            };
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map_err(|e| format!("the answer broke off: {e}"))?;
            Ok(Some(Answer {
                status,
                body: body.to_vec(),
            }))
        })
    }

    /// That the server neither panicked nor sent Slack a call Slack would refuse since
    /// the last look.
    pub fn stayed_sound(&mut self) -> Verdict {
        let panics = server_panics();
        let ours = format!("app-{}", self.target);
        let new: Vec<&String> = panics[self.panics_seen.min(panics.len())..]
            .iter()
            .filter(|p| p.starts_with(&ours) || !p.starts_with("app-"))
            .collect();
        self.panics_seen = panics.len();
        ensure!(new.is_empty(), "the server panicked: {new:?}");
        let violations = self.app.slack.violations();
        let new = &violations[self.violations_seen.min(violations.len())..];
        self.violations_seen = violations.len();
        ensure!(
            new.is_empty(),
            "switchboard sent Slack calls it would refuse: {new:?}"
        );
        Ok(())
    }
}
