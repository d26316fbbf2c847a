//! What Slack received.

use super::*;

/// What the fake Slack received, reduced to what the checks need: each side effect
/// (a message, an update, a reaction) by what it is, with the times it happened.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) state: Mutex<LedgerState>,
}

#[derive(Default)]
pub(crate) struct LedgerState {
    pub(crate) effects: HashMap<String, Vec<Instant>>,
    /// The texts posted in each thread, for the checks of what runs did.
    pub(crate) threads: HashMap<String, Vec<String>>,
    /// The conversation links in messages outside threads (pages).
    pub(crate) links: HashSet<String>,
    /// Approval requests posted to the clicking approver, in order, with where.
    pub(crate) requests: VecDeque<interactions::PostedRequest>,
    pub(crate) calls: usize,
    pub(crate) last: Option<Instant>,
}

impl Ledger {
    pub(crate) fn follow(slack: &FakeSlack) -> Arc<Ledger> {
        let ledger = Arc::new(Ledger::default());
        let mut calls = slack.watch();
        let follower = ledger.clone();
        let slack = slack.clone();
        tokio::spawn(async move {
            while let Some(call) = calls.recv().await {
                follower.record(&call);
                // The ledger keeps what is needed; a long soak would keep every call.
                if follower.state.lock().unwrap().calls.is_multiple_of(1000) {
                    slack.forget_calls();
                }
            }
        });
        ledger
    }

    pub(crate) fn record(&self, call: &Call) {
        let mut state = self.state.lock().unwrap();
        state.calls += 1;
        state.last = Some(call.at);
        if let Some(id) = interactions::request_id(call)
            && call.answer["channel"] == format!("D{APPROVER}")
        {
            state.requests.push_back(interactions::PostedRequest {
                approval_id: id,
                channel: call.answer["channel"].as_str().unwrap_or_default().into(),
                ts: call.answer["ts"].as_str().unwrap_or_default().into(),
            });
        }
        if let Some(effect) = effect(call) {
            state.effects.entry(effect).or_default().push(call.at);
        }
        if call.method == "chat.postMessage" {
            let (thread, text) = (call.arg("thread_ts"), call.arg("text"));
            if thread.is_empty() {
                let links = text.split_whitespace().filter(|w| w.contains("/archives/"));
                state.links.extend(links.map(str::to_owned));
            } else {
                let texts = state.threads.entry(thread.to_owned()).or_default();
                texts.push(text.to_owned());
            }
        }
    }

    pub(crate) fn take_requests(&self) -> Vec<interactions::PostedRequest> {
        self.state.lock().unwrap().requests.drain(..).collect()
    }

    pub(crate) fn has(&self, want: &Expected) -> bool {
        let state = self.state.lock().unwrap();
        match want {
            Expected::Exactly(effect) => state.effects.contains_key(effect),
            Expected::InThread(thread, start) => state
                .threads
                .get(thread)
                .is_some_and(|texts| texts.iter().any(|t| t.starts_with(start.as_str()))),
            Expected::Link(link) => state.links.contains(link),
        }
    }

    pub(crate) fn silent_for(&self) -> Duration {
        self.state
            .lock()
            .unwrap()
            .last
            .map_or(Duration::MAX, |at| at.elapsed())
    }

    pub(crate) fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    /// Side effects that happened more than once, with their times.
    pub(crate) fn repeated(&self) -> Vec<(String, Vec<Instant>)> {
        let state = self.state.lock().unwrap();
        let mut repeated: Vec<(String, Vec<Instant>)> = state
            .effects
            .iter()
            .filter(|(_, times)| times.len() > 1)
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        repeated.sort();
        repeated
    }
}

/// What a Slack call did, named so that the same side effect has the same name
/// whichever attempt made it; `None` for calls that change nothing in Slack (reads,
/// opening a DM, the Home tab, which is published again on purpose) and for ephemeral
/// notes (sent after the answer, not journaled).
pub(crate) fn effect(call: &Call) -> Option<String> {
    let text = call.arg("text");
    let thread = call.arg("thread_ts");
    let channel = call.arg("channel");
    match call.method.as_str() {
        "reactions.add" => Some(format!(
            "reaction {} on {channel} {}",
            call.arg("name"),
            call.arg("timestamp")
        )),
        "chat.postMessage" => {
            if let Some(id) = interactions::request_id(call) {
                return Some(format!("approval request {id} to {channel}"));
            }
            let what = if thread.is_empty() {
                text.to_owned()
            } else {
                format!("in {thread}: {text}")
            };
            Some(format!("message to {channel} {what}"))
        }
        "chat.update" => Some(format!("update of {channel} {}: {text}", call.arg("ts"))),
        _ => None,
    }
}

/// A side effect a run must have had.
#[derive(Debug)]
pub(crate) enum Expected {
    /// The effect of this name (see `effect`).
    Exactly(String),
    /// A message in the thread that starts so.
    InThread(String, String),
    /// A message outside threads with this link (a page).
    Link(String),
}

/// What a succeeded run of `run.automation` on the conversation of `thread` must have
/// done in Slack.
pub(crate) fn expected_effects(thread: &str, run: &RunRow) -> Vec<Expected> {
    let in_thread = |start: &str| Expected::InThread(thread.to_owned(), start.to_owned());
    match run.automation.as_str() {
        "acknowledge-new-request" => vec![
            Expected::Exactly(format!("reaction eyes on {SUPPORT} {thread}")),
            in_thread("Thanks <@"),
        ],
        "escalate-bangbang" => vec![
            Expected::Link(format!(
                "{}archives/{SUPPORT}/p{}",
                fake_slack::WORKSPACE_URL,
                thread.replace('.', "")
            )),
            in_thread(":rotating_light:"),
        ],
        "critical-to-jira" => vec![in_thread(":ticket: Filed as")],
        "password-reset" => vec![in_thread("Done: Okta sent")],
        "soak-thread-reply" => {
            let j = run.event_id.trim_start_matches("EvSoakReply");
            vec![in_thread(&format!("Noted: reply {j}"))]
        }
        "soak-alert" => {
            let n = run.event_id.rsplit("soak-").next().unwrap_or_default();
            vec![Expected::Exactly(format!("message to {ALERTS} alert {n}"))]
        }
        _ => Vec::new(),
    }
}
