//! The load.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Conversation,
    ThreadReply,
    Reaction,
    Click,
    Webhook,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Conversation => "new conversations",
            Kind::ThreadReply => "thread replies",
            Kind::Reaction => "‼️ reactions",
            Kind::Click => "approval clicks",
            Kind::Webhook => "webhook calls",
        }
    }
}

/// A conversation whose first message was acknowledged.
#[derive(Clone)]
pub(crate) struct Opened {
    pub(crate) i: usize,
    pub(crate) requester: String,
}

/// One operation the load sent, and what came of it.
pub(crate) struct Sent {
    pub(crate) kind: Kind,
    /// The Slack event id, the webhook's idempotency key, or the approval id.
    pub(crate) id: String,
    /// The automations it must have run (Slack events).
    pub(crate) expects: Vec<&'static str>,
    /// The answer of each acknowledged attempt (webhooks: the run id).
    pub(crate) acked: Vec<Value>,
    pub(crate) attempts: u32,
    /// Non-2xx answers other than 5xx and 429 (not retried: a bug).
    pub(crate) refused: Vec<String>,
    pub(crate) latency: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct LoadState {
    pub(crate) next_conversation: usize,
    pub(crate) next_reply: usize,
    pub(crate) next_webhook: usize,
    pub(crate) opened: Vec<Opened>,
    pub(crate) unreacted: Vec<Opened>,
    pub(crate) clickable: VecDeque<interactions::PostedRequest>,
    pub(crate) sent: Vec<Sent>,
    pub(crate) skipped_clicks: usize,
}

pub(crate) struct Load {
    pub(crate) fleet: Arc<Fleet>,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) db: Db,
    pub(crate) hook_path: String,
    pub(crate) client: reqwest::Client,
    pub(crate) state: Mutex<LoadState>,
    pub(crate) rng: Mutex<StdRng>,
}

/// What to send.
pub(crate) enum Op {
    Conversation(usize),
    ThreadReply(usize, Opened),
    Reaction(Opened),
    Click,
    Webhook(usize),
}

/// How an attempt went.
pub(crate) enum Attempt {
    Acked(Value),
    /// Not acknowledged: the server was down, killed during the request, or said 5xx.
    Failed,
    Refused(String),
}

impl Load {
    /// How many operations sent so far were acknowledged.
    pub(crate) fn acknowledged(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.sent.iter().filter(|s| !s.acked.is_empty()).count()
    }

    pub(crate) fn new(
        fleet: Arc<Fleet>,
        ledger: Arc<Ledger>,
        db: Db,
        hook_path: String,
        seed: u64,
    ) -> Load {
        Load {
            fleet,
            ledger,
            db,
            hook_path,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            state: Mutex::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Sends `rate` operations a second until `until`, then waits for the last ones
    /// (and their retries).
    pub(crate) async fn drive(self: Arc<Self>, rate: u64, until: Instant) {
        let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tasks = tokio::task::JoinSet::new();
        while Instant::now() < until {
            interval.tick().await;
            while tasks.try_join_next().is_some() {}
            let op = self.choose();
            tasks.spawn(self.clone().send(op));
        }
        while tasks.join_next().await.is_some() {}
    }

    /// The next operation: a mix of new conversations (35 %), thread replies (25 %),
    /// reactions (15 %), clicks (10 %) and webhook calls (15 %); a new conversation
    /// while there is nothing to reply or react to.
    pub(crate) fn choose(&self) -> Op {
        let roll = self.rng.lock().unwrap().random_range(0..100);
        let mut state = self.state.lock().unwrap();
        let new = |state: &mut LoadState| {
            state.next_conversation += 1;
            Op::Conversation(state.next_conversation - 1)
        };
        match roll {
            0..35 => new(&mut state),
            35..60 if !state.opened.is_empty() => {
                let pick = self.rng.lock().unwrap().random_range(0..state.opened.len());
                let on = state.opened[pick].clone();
                state.next_reply += 1;
                Op::ThreadReply(state.next_reply - 1, on)
            }
            60..75 if !state.unreacted.is_empty() => {
                let pick = self
                    .rng
                    .lock()
                    .unwrap()
                    .random_range(0..state.unreacted.len());
                Op::Reaction(state.unreacted.swap_remove(pick))
            }
            75..85 => Op::Click,
            85..100 => {
                state.next_webhook += 1;
                Op::Webhook(state.next_webhook - 1)
            }
            _ => new(&mut state),
        }
    }

    pub(crate) async fn send(self: Arc<Self>, op: Op) {
        let sent = match op {
            Op::Conversation(i) => {
                let password = i % 5 == 4;
                let requester = format!("U0REQ{i:05}");
                let text = if password {
                    format!(
                        "Hi, I forgot my password and I'm locked out, please reset it (request {i})"
                    )
                } else {
                    format!("The printer on floor {i} jams on every page (request {i})")
                };
                let id = format!("EvSoakMsg{i}");
                let body = events::message(&id, SUPPORT, &requester, &message_ts(i), &text);
                let mut expects = vec!["acknowledge-new-request"];
                if password {
                    expects.push("password-reset");
                }
                let sent = self
                    .slack_event(Kind::Conversation, id, expects, body)
                    .await;
                if !sent.acked.is_empty() {
                    let opened = Opened { i, requester };
                    let mut state = self.state.lock().unwrap();
                    state.opened.push(opened.clone());
                    state.unreacted.push(opened);
                }
                sent
            }
            Op::ThreadReply(j, on) => {
                let id = format!("EvSoakReply{j}");
                let ts = format!("{}.{:06}", 1_650_000_000 + j / 1000, j % 1000);
                let body = events::reply(
                    &id,
                    SUPPORT,
                    &on.requester,
                    &message_ts(on.i),
                    &ts,
                    &format!("reply {j}"),
                );
                self.slack_event(Kind::ThreadReply, id, vec!["soak-thread-reply"], body)
                    .await
            }
            Op::Reaction(on) => {
                let id = format!("EvSoakReact{}", on.i);
                let body =
                    events::reaction_added(&id, AGENT, "bangbang", SUPPORT, &message_ts(on.i));
                self.slack_event(Kind::Reaction, id, vec!["escalate-bangbang"], body)
                    .await
            }
            Op::Click => match self.next_click().await {
                Some(request) => self.click(request).await,
                None => {
                    self.state.lock().unwrap().skipped_clicks += 1;
                    return;
                }
            },
            Op::Webhook(n) => self.webhook(n).await,
        };
        self.state.lock().unwrap().sent.push(sent);
    }

    /// A Slack event, redelivered as Slack does until acknowledged (three retries).
    pub(crate) async fn slack_event(
        &self,
        kind: Kind,
        id: String,
        expects: Vec<&'static str>,
        body: Value,
    ) -> Sent {
        let body = serde_json::to_vec(&body).unwrap();
        self.with_retries(kind, id, expects, |retry| {
            let request = support::signed(
                &self.client,
                &self.fleet.pick(),
                "/slack/events",
                "application/json",
                body.clone(),
                retry,
            );
            async move { outcome(request.send().await).await }
        })
        .await
    }

    /// The oldest posted request that is open for decisions; requests still being
    /// sent are kept for later (a click on them would be told to try again).
    pub(crate) async fn next_click(&self) -> Option<interactions::PostedRequest> {
        let fresh = self.ledger.take_requests();
        let candidates: Vec<interactions::PostedRequest> = {
            let mut state = self.state.lock().unwrap();
            state.clickable.extend(fresh);
            state.clickable.drain(..).collect()
        };
        let mut chosen = None;
        let mut keep = VecDeque::new();
        for request in candidates {
            if chosen.is_some() {
                keep.push_back(request);
                continue;
            }
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM approvals WHERE id = $1")
                    .bind(request.approval_id)
                    .fetch_optional(self.db.reader())
                    .await
                    .ok()
                    .flatten();
            match status.as_deref() {
                Some("pending") => chosen = Some(request),
                Some("opening") | None => keep.push_back(request),
                // Decided already (the same request posted again by a repeated step).
                Some(_) => {}
            }
        }
        let mut state = self.state.lock().unwrap();
        keep.extend(state.clickable.drain(..));
        state.clickable = keep;
        chosen
    }

    /// Approve, clicked by the approver; clicked again when it was not acknowledged.
    pub(crate) async fn click(&self, request: interactions::PostedRequest) -> Sent {
        let payload = interactions::click(&request, APPROVER, true).to_string();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload)
            .finish()
            .into_bytes();
        self.with_retries(
            Kind::Click,
            request.approval_id.to_string(),
            Vec::new(),
            |_| {
                let request = support::signed(
                    &self.client,
                    &self.fleet.pick(),
                    "/slack/interactions",
                    "application/x-www-form-urlencoded",
                    body.clone(),
                    0,
                );
                async move { outcome(request.send().await).await }
            },
        )
        .await
    }

    /// A webhook call, retried with the same idempotency key until acknowledged.
    pub(crate) async fn webhook(&self, n: usize) -> Sent {
        let key = format!("soak-{n}");
        self.with_retries(Kind::Webhook, key.clone(), Vec::new(), |_| {
            let request = self
                .client
                .post(format!("{}{}", self.fleet.pick(), self.hook_path))
                .header("content-type", "application/json")
                .header("idempotency-key", &key)
                .body(json!({ "n": n }).to_string());
            async move {
                match outcome(request.send().await).await {
                    Attempt::Acked(body) => Attempt::Acked(body["run_id"].clone()),
                    other => other,
                }
            }
        })
        .await
    }

    /// Sends with `attempt` until a 2xx, at most four times, 1, 2 and 4 s apart.
    pub(crate) async fn with_retries<F, Fut>(
        &self,
        kind: Kind,
        id: String,
        expects: Vec<&'static str>,
        attempt: F,
    ) -> Sent
    where
        F: Fn(u32) -> Fut,
        Fut: std::future::Future<Output = Attempt>,
    {
        let mut sent = Sent {
            kind,
            id,
            expects,
            acked: Vec::new(),
            attempts: 0,
            refused: Vec::new(),
            latency: None,
        };
        for retry in 0..4 {
            if retry > 0 {
                tokio::time::sleep(Duration::from_secs(1 << (retry - 1))).await;
            }
            sent.attempts += 1;
            let started = Instant::now();
            match attempt(retry).await {
                Attempt::Acked(answer) => {
                    sent.acked.push(answer);
                    sent.latency = Some(started.elapsed());
                    break;
                }
                Attempt::Failed => {}
                Attempt::Refused(why) => {
                    sent.refused.push(why);
                    break;
                }
            }
        }
        sent
    }
}

/// What an answer means for the sender.
pub(crate) async fn outcome(response: reqwest::Result<reqwest::Response>) -> Attempt {
    let Ok(response) = response else {
        return Attempt::Failed;
    };
    let status = response.status();
    if status.is_success() {
        // A connection cut while the body was on its way: not an answer.
        return match response.bytes().await {
            Ok(body) => Attempt::Acked(serde_json::from_slice(&body).unwrap_or(Value::Null)),
            Err(_) => Attempt::Failed,
        };
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Attempt::Failed;
    }
    let body = response.text().await.unwrap_or_default();
    Attempt::Refused(format!("{status} {body}"))
}
