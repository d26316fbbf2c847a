//! The webhook door: signature checks on their own, and whole calls of `/hooks/{token}`
//! against the running server, whose answer, stored trigger and idempotency are
//! predicted from what was sent.

use std::collections::{BTreeMap, HashMap, HashSet};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard::trigger::{Trigger, TriggerEvent};
use switchboard::webhooks;

use crate::harness::{Target, Verdict, ensure};
use crate::served::{Served, serve};
use crate::{mutate, samples};

const SECRET: &str = "It's a Secret to Everybody";
/// Stands for the signature of the body as sent, computed when the call is made.
const SIGNATURE_OF_BODY: &str = "{{signature}}";

fn hmac_of(body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(body);
    mac
}

fn github_signature(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_of(body).finalize().into_bytes())
    )
}

/// Whether one of the comma-separated `sha256=<hex>` parts of `header` signs `body`.
fn genuine(header: &str, body: &[u8]) -> bool {
    header.split(',').any(|part| {
        part.trim()
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h.trim()).ok())
            .is_some_and(|tag| hmac_of(body).verify_slice(&tag).is_ok())
    })
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A signature header and a body, as `header\nbody`.
fn signed_body(parts: &Value) -> Vec<u8> {
    let part = |i: usize| parts.get(i).map(text).unwrap_or_default();
    format!("{}\n{}", part(0), part(1)).into_bytes()
}

#[test]
fn webhook_signature() {
    let samples: Vec<Value> = samples::webhook_bodies()
        .iter()
        .map(|body| {
            let body = body.to_string();
            let valid = github_signature(body.as_bytes());
            json!([format!("sha256=00, {valid}"), body])
        })
        .collect();
    let inputs = mutate::documents(samples, signed_body, &mutate::JSON);
    Target::new("webhook_signature").run(inputs, || {
        |input: &[u8]| {
            let (header, body) = match input.iter().position(|b| *b == b'\n') {
                Some(i) => (&input[..i], &input[i + 1..]),
                None => (input, &[][..]),
            };
            let header = String::from_utf8_lossy(header);
            let accepted = webhooks::signed(SECRET.as_bytes(), body, &header, "sha256=");
            ensure!(
                accepted == genuine(&header, body),
                "signed() says {accepted} for a header that {} the body",
                if accepted { "does not sign" } else { "signs" }
            );
            Ok(())
        }
    });
}

/// A call as text: `hook?query`, header lines, a blank line, the body.
fn call_text(view: &Value) -> Vec<u8> {
    let query = String::from_utf8(mutate::form(&view["query"])).unwrap_or_default();
    let headers: Vec<String> = match &view["headers"] {
        Value::Array(pairs) => pairs
            .iter()
            .map(|pair| format!("{}: {}", text(&pair[0]), text(&pair[1])))
            .collect(),
        other => vec![text(other)],
    };
    let body = match &view["body"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    format!(
        "{}?{query}\n{}\n\n{body}",
        text(&view["hook"]),
        headers.join("\n")
    )
    .into_bytes()
}

/// A call, read back from its text.
struct Call {
    signed_hook: bool,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Call {
    fn parse(input: &[u8]) -> Self {
        let (head, body) = match input.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&input[..i], &input[i + 2..]),
            None => (input, &[][..]),
        };
        let mut lines = head.split(|b| *b == b'\n');
        let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
        let (hook, query) = first.split_once('?').unwrap_or((first.as_str(), ""));
        let headers = lines
            .filter_map(|line| {
                let colon = line.iter().position(|b| *b == b':')?;
                let name = String::from_utf8_lossy(&line[..colon])
                    .trim()
                    .to_ascii_lowercase();
                Some((name, line[colon + 1..].trim_ascii().to_vec()))
            })
            .collect();
        let mut call = Self {
            signed_hook: hook == "signed",
            query: query.to_owned(),
            headers,
            body: body.to_vec(),
        };
        let signature = github_signature(&call.body);
        for (_, value) in &mut call.headers {
            if value == SIGNATURE_OF_BODY.as_bytes() {
                *value = signature.clone().into_bytes();
            }
        }
        call
    }

    /// The headers as the server reads them: names in lower case, the last value that
    /// is text, framing headers left to the HTTP client.
    fn received_headers(&self) -> BTreeMap<String, String> {
        self.sendable_headers()
            .filter_map(|(name, value)| Some((name.to_owned(), value.to_str().ok()?.to_owned())))
            .collect()
    }

    fn sendable_headers(&self) -> impl Iterator<Item = (&str, reqwest::header::HeaderValue)> {
        const FRAMING: &[&str] = &[
            "content-length",
            "transfer-encoding",
            "host",
            "connection",
            "expect",
            "te",
            "upgrade",
            "keep-alive",
            "trailer",
            "proxy-connection",
        ];
        self.headers.iter().filter_map(|(name, value)| {
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()?;
            if FRAMING.contains(&name.as_str()) {
                return None;
            }
            Some((
                name.as_str(),
                reqwest::header::HeaderValue::from_bytes(value).ok()?,
            ))
        })
    }
}

#[test]
fn webhook_door() {
    let mut samples = Vec::new();
    for body in samples::webhook_bodies() {
        let stale = github_signature(body.to_string().as_bytes());
        for (hook, signature) in [
            ("signed", SIGNATURE_OF_BODY),
            ("signed", stale.as_str()),
            ("plain", ""),
        ] {
            samples.push(json!({
                "hook": hook,
                "query": [["source", "ci"], ["env", "prod"]],
                "headers": [
                    ["content-type", "application/json"], ["x-github-event", "push"],
                    ["x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"],
                    ["x-hub-signature-256", signature], ["authorization", "Bearer s3cr3t"],
                ],
                "body": body,
            }));
        }
    }
    samples.push(json!({ "hook": "plain", "query": [], "headers": [["idempotency-key", "delivery-7"]], "body": "" }));
    let inputs = mutate::documents(samples, call_text, &mutate::JSON);
    Target::new("webhook_door").run(inputs, || {
        let mut door = Door::open();
        move |input: &[u8]| door.call(&Call::parse(input))
    });
}

/// The running server with a signed and a plain webhook, and what it answered so far.
struct Door {
    served: Served,
    signed_token: String,
    plain_token: String,
    /// The run of each idempotency key, by hook.
    runs_by_key: HashMap<(bool, String), i64>,
    runs: HashSet<i64>,
}

const PLAIN_WEBHOOK: &str = "[trigger]\ntype = \"webhook\"\n[[actions]]\ntype = \"post\"\nchannel = \"C0ALERTS01\"\ntext = \"alert\"\n";
const MAX_BODY: usize = 256 * 1024;
/// Below hyper's limits on a request's head (its buffer is 417,792 bytes; at most 100
/// headers), nothing may be refused as too large.
const MAX_HEAD_BYTES: usize = 400 * 1024;
const MAX_HEADERS: usize = 100;
/// Deepest body the door takes: its run must be able to read the stored trigger.
const MAX_NESTING: usize = 64;

fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

impl Door {
    fn open() -> Self {
        let served = serve("webhook_door", |app| {
            app.automation("signed", samples::SIGNED_WEBHOOK)
                .automation("plain", PLAIN_WEBHOOK)
                .secret("GITHUB_WEBHOOK_SECRET", SECRET)
                .env("SWITCHBOARD_WEBHOOK_PER_MINUTE", "100000000")
                .env("SWITCHBOARD_WEBHOOK_BURST", "100000000")
        });
        let token = |id: &str| {
            served.runtime.block_on(async {
                let secrets = served.app.secrets().await;
                webhooks::reveal(&served.app.db, &secrets, id)
                    .await
                    .expect("the token is readable")
                    .expect("the webhook has a token")
                    .0
            })
        };
        Self {
            signed_token: token("signed"),
            plain_token: token("plain"),
            served,
            runs_by_key: HashMap::new(),
            runs: HashSet::new(),
        }
    }

    fn call(&mut self, call: &Call) -> Verdict {
        let token = if call.signed_hook {
            &self.signed_token
        } else {
            &self.plain_token
        };
        let Ok(url) = url::Url::parse(&format!(
            "{}?{}",
            self.served.app.url(&format!("/hooks/{token}")),
            call.query
        )) else {
            return Ok(());
        };
        let mut request = self
            .served
            .app
            .client
            .post(url.clone())
            .body(call.body.clone());
        for (name, value) in call.sendable_headers() {
            request = request.header(name, value);
        }
        let answer = match self.served.send(request) {
            // Refused (413) before it was all sent: the client sees the connection close.
            Err(_) if call.body.len() > MAX_BODY => return self.served.stayed_sound(),
            sent => sent?,
        };
        let Some(answer) = answer else {
            return Ok(());
        };
        self.served.stayed_sound()?;
        if answer.status == 431 {
            // hyper refuses a head larger than its buffer (about 408 KiB) or with more
            // than 100 headers, before switchboard sees the request.
            let sent: Vec<_> = call.sendable_headers().collect();
            let head: usize = url.as_str().len()
                + sent
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 4)
                    .sum::<usize>();
            ensure!(
                head > MAX_HEAD_BYTES || sent.len() > MAX_HEADERS,
                "431 for a head of {head} bytes and {} headers",
                sent.len()
            );
            return Ok(());
        }

        let headers = call.received_headers();
        let signature_ok = !call.signed_hook
            || headers
                .get("x-hub-signature-256")
                .is_some_and(|h| genuine(h, &call.body));
        let body = if call.body.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice::<Value>(&call.body).ok()
        };
        let expected = if call.body.len() > MAX_BODY {
            413
        } else if !signature_ok {
            401
        } else if body.as_ref().is_none_or(|b| nesting(b) > MAX_NESTING) {
            400
        } else {
            202
        };
        ensure!(
            answer.status == expected,
            "answered {} where {expected} was due: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        let json = answer.json().ok_or("the answer is not JSON")?;
        if answer.status != 202 {
            let error = json["error"].as_str().unwrap_or_default();
            ensure!(
                json["ok"] == false && !error.is_empty(),
                "a refusal without a reason: {json}"
            );
            return Ok(());
        }
        let run = json["run_id"]
            .as_i64()
            .ok_or_else(|| format!("no run id in {json}"))?;
        let key = ["idempotency-key", "x-github-delivery", "x-request-id"]
            .iter()
            .find_map(|h| headers.get(*h));
        if let Some(key) = key {
            let first = *self
                .runs_by_key
                .entry((call.signed_hook, key.clone()))
                .or_insert(run);
            ensure!(
                run == first,
                "the delivery {key:?} started run {run}, after run {first}"
            );
            if run != first || !self.runs.insert(run) {
                return Ok(());
            }
        } else {
            ensure!(
                self.runs.insert(run),
                "run {run} was answered for another call before"
            );
        }
        let query: BTreeMap<String, String> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.check_trigger(run, body.unwrap_or_default(), &headers, &query)
    }

    /// The run got the body and query as sent, and the headers without credentials.
    fn check_trigger(
        &self,
        run: i64,
        body: Value,
        headers: &BTreeMap<String, String>,
        query: &BTreeMap<String, String>,
    ) -> Verdict {
        let record = self
            .served
            .runtime
            .block_on(switchboard::db::runs::get(self.served.app.db.reader(), run))
            .map_err(|e| format!("run {run}: {e}"))?
            .ok_or_else(|| format!("run {run} is not in the database"))?;
        let trigger: Trigger = serde_json::from_str(&record.trigger_json)
            .map_err(|e| format!("run {run}'s trigger: {e}"))?;
        let TriggerEvent::Webhook {
            body: got,
            headers: kept,
            query: got_query,
        } = trigger.event
        else {
            return Err(format!(
                "run {run} is not a webhook run: {}",
                record.trigger_json
            ));
        };
        ensure!(got == body, "run {run} got the body {got}, not {body}");
        ensure!(
            &got_query == query,
            "run {run} got the query {got_query:?}, not {query:?}"
        );
        for (name, value) in &kept {
            let credential = [
                "auth",
                "cookie",
                "token",
                "secret",
                "password",
                "signature",
                "key",
            ]
            .iter()
            .any(|part| name.contains(part));
            ensure!(
                !credential || name == "idempotency-key",
                "run {run} was handed the credential header {name}"
            );
            if let Some(sent) = headers.get(name) {
                ensure!(
                    sent == value,
                    "run {run} got {name}: {value:?}, not {sent:?}"
                );
            }
        }
        Ok(())
    }
}
