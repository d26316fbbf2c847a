//! Slack's deliveries: Events API bodies, interactivity forms, slash command forms,
//! request signatures and Socket Mode frames, decoded by `switchboard::slack`.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use switchboard::edits::form as edit_form;
use switchboard::manual::{inputs, modal};
use switchboard::slack::interactions::{self, Interaction};
use switchboard::slack::{commands, events, signature, socket};

use crate::harness::{Target, Verdict, ensure};
use crate::{mutate, samples};

#[test]
fn slack_events() {
    let samples = samples::events();
    for sample in &samples {
        events::decode(&mutate::json(sample)).expect("the samples decode");
    }
    let inputs = mutate::documents(samples, mutate::json, &mutate::JSON);
    Target::new("slack_events").run(inputs, || {
        |body: &[u8]| {
            let over_http = events::decode(body);
            if let Err(e) = &over_http {
                ensure!(has_reason(&e.to_string()), "an error without a reason: {e}");
            }
            // What the HTTP door takes, the Socket Mode door takes the same way (it gets
            // the body already parsed, which forgives duplicate fields).
            if let (Ok(http), Ok(value)) = (&over_http, serde_json::from_slice::<Value>(body)) {
                let socket = events::decode_payload(value);
                ensure!(
                    socket.as_ref().ok() == Some(http),
                    "the doors disagree: HTTP {http:?}, Socket Mode {socket:?}"
                );
            }
            Ok(())
        }
    });
}

#[test]
fn slack_interactions() {
    let samples: Vec<Value> = samples::interactions()
        .into_iter()
        .map(|payload| json!([["payload", payload]]))
        .collect();
    for sample in &samples {
        interactions::decode(&mutate::form(sample)).expect("the samples decode");
    }
    let inputs = mutate::documents(samples, mutate::form, &mutate::FORM);
    Target::new("slack_interactions").run(inputs, || {
        let manual = manual_inputs();
        move |body: &[u8]| {
            let over_http = interactions::decode(body);
            let payload = url::form_urlencoded::parse(body)
                .find(|(k, _)| k == "payload")
                .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
            if let Some(payload) = payload {
                let socket = interactions::decode_payload(&payload);
                ensure!(
                    agree(&over_http, &socket),
                    "the doors disagree: HTTP {over_http:?}, Socket Mode {socket:?}"
                );
            }
            match over_http {
                Err(e) => ensure!(has_reason(&e.to_string()), "an error without a reason: {e}"),
                Ok(interaction) => desks_read(&interaction, &manual)?,
            }
            Ok(())
        }
    });
}

/// What the desks decode from a submitted form: where a manual run was asked for,
/// which conversation an edit form edits, and the values of both forms.
fn desks_read(
    interaction: &Interaction,
    manual: &[switchboard::automations::definition::InputSpec],
) -> Verdict {
    let Interaction::Submission {
        private_metadata,
        values,
        ..
    } = interaction
    else {
        return Ok(());
    };
    let _ = modal::Origin::decode(private_metadata);
    let _ = edit_form::Target::decode(private_metadata);
    if let Err(problems) = edit_form::submitted(values) {
        ensure!(
            !problems.is_empty() && problems.values().all(|p| !p.is_empty()),
            "an edit form refused without saying why: {problems:?}"
        );
    }
    let given: BTreeMap<String, Value> =
        values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    match inputs::validate(manual, &given) {
        Ok(checked) => {
            for field in manual {
                ensure!(
                    checked.contains_key(&field.name),
                    "input {} is missing from {checked:?}",
                    field.name
                );
            }
        }
        Err(problems) => ensure!(
            problems.values().all(|p| !p.is_empty()),
            "inputs refused without saying why: {problems:?}"
        ),
    }
    Ok(())
}

/// The inputs of the README's manual automation.
pub fn manual_inputs() -> Vec<switchboard::automations::definition::InputSpec> {
    let automation = switchboard::automations::compile(
        std::path::Path::new("laptop.toml"),
        samples::MANUAL,
        &switchboard::automations::StoredScripts::default(),
    )
    .expect("the manual sample checks out");
    automation.trigger.manual.expect("it is manual").inputs
}

#[test]
fn slack_commands() {
    let samples: Vec<Value> = samples::commands()
        .iter()
        .map(|c| mutate::form_view(c))
        .collect();
    for sample in &samples {
        commands::decode(&mutate::form(sample)).expect("the samples decode");
    }
    let inputs = mutate::documents(samples, mutate::form, &mutate::FORM);
    Target::new("slack_commands").run(inputs, || {
        |body: &[u8]| {
            let over_http = commands::decode(body);
            let fields: Map<String, Value> = url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            let socket = commands::decode_payload(&Value::Object(fields.clone()));
            ensure!(
                agree(&over_http, &socket),
                "the doors disagree: HTTP {over_http:?}, Socket Mode {socket:?}"
            );
            match over_http {
                // What the desk needs is there: a channel to answer in, a trigger id
                // to open a form with.
                Ok(c) => ensure!(
                    [&c.command, &c.user, &c.channel, &c.trigger_id]
                        .iter()
                        .all(|f| !f.is_empty()),
                    "a command with an empty required field: {c:?}"
                ),
                Err(e) => {
                    let message = e.to_string();
                    let named = ["command", "user_id", "channel_id", "trigger_id"]
                        .iter()
                        .find(|f| message.contains(&format!("`{f}`")));
                    let missing = |f: &str| fields.get(f).is_none_or(|v| v == "");
                    ensure!(
                        named.is_some_and(|f| missing(f)),
                        "the error does not name a missing field: {message}"
                    );
                }
            }
            Ok(())
        }
    });
}

const SIGNING_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
const SIGNED_AT: i64 = 1_531_420_618;

/// A signed request as `timestamp\nsignature\nbody`.
fn request(parts: &Value) -> Vec<u8> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let parts: Vec<String> = match parts {
        Value::Array(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    };
    parts.join("\n").into_bytes()
}

#[test]
fn slack_signature() {
    let bodies: Vec<Vec<u8>> = samples::commands()
        .into_iter()
        .map(String::into_bytes)
        .chain(samples::events().iter().map(mutate::json))
        .collect();
    let samples: Vec<Value> = bodies
        .iter()
        .map(|body| {
            let ts = SIGNED_AT.to_string();
            let sig = signature::sign(SIGNING_SECRET, &ts, body);
            json!([ts, sig, String::from_utf8_lossy(body)])
        })
        .collect();
    let inputs = mutate::documents(samples, request, &mutate::JSON);
    Target::new("slack_signature").run(inputs, || {
        |input: &[u8]| {
            let mut parts = input.splitn(3, |b| *b == b'\n');
            let (timestamp, sig) = (header(parts.next()), header(parts.next()));
            let body = parts.next().unwrap_or_default();
            let now = SIGNED_AT + 10;
            let verdict = signature::verify(SIGNING_SECRET, timestamp, sig, body, now);
            if verdict.is_ok() {
                let (timestamp, sig) = (timestamp.unwrap_or_default(), sig.unwrap_or_default());
                let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET).expect("any key");
                mac.update(format!("v0:{timestamp}:").as_bytes());
                mac.update(body);
                let genuine = sig
                    .strip_prefix("v0=")
                    .and_then(|h| hex::decode(h).ok())
                    .is_some_and(|tag| mac.verify_slice(&tag).is_ok());
                let fresh = timestamp
                    .trim()
                    .parse::<i64>()
                    .is_ok_and(|ts| (now - ts).abs() <= signature::MAX_SKEW_SECS);
                ensure!(genuine && fresh, "accepted a forged or stale request");
            } else {
                ensure!(
                    verdict.is_err_and(|e| !e.to_string().is_empty()),
                    "a refusal without a reason"
                );
            }
            Ok(())
        }
    });
}

#[test]
fn socket_frames() {
    let samples = samples::socket_frames();
    for sample in &samples {
        socket::decode(&sample.to_string()).expect("the samples decode");
    }
    let inputs = mutate::documents(samples, mutate::json, &mutate::JSON);
    Target::new("socket_frames").run(inputs, || {
        |frame: &[u8]| {
            // WebSocket text frames are UTF-8 (tungstenite checks).
            let Ok(text) = std::str::from_utf8(frame) else {
                return Ok(());
            };
            let envelope = match socket::decode(text) {
                Err(e) => {
                    ensure!(has_reason(&e.to_string()), "an error without a reason: {e}");
                    return Ok(());
                }
                Ok(socket::Inbound::Envelope(envelope)) => envelope,
                Ok(_) => return Ok(()),
            };
            ensure!(!envelope.id.is_empty(), "an envelope without an id");
            // Decoded as socket::envelope does, by kind.
            let decoded = match envelope.kind {
                socket::EnvelopeKind::Events => events::decode_payload(envelope.payload.clone())
                    .err()
                    .map(|e| e.to_string()),
                socket::EnvelopeKind::Interactive => {
                    interactions::decode_payload(&envelope.payload)
                        .err()
                        .map(|e| e.to_string())
                }
                socket::EnvelopeKind::Command => commands::decode_payload(&envelope.payload)
                    .err()
                    .map(|e| e.to_string()),
            };
            if let Some(e) = decoded {
                ensure!(has_reason(&e), "an error without a reason: {e}");
            }
            let answer = json!({ "response_action": "clear" });
            let ack: Value = serde_json::from_str(&socket::ack(&envelope, Some(answer)))
                .map_err(|e| format!("the ack is not JSON: {e}"))?;
            ensure!(
                ack["envelope_id"] == envelope.id.as_str(),
                "the ack names another envelope: {ack}"
            );
            ensure!(
                ack.get("payload").is_some() == envelope.accepts_response_payload,
                "the ack carries an answer Slack does not take: {ack}"
            );
            Ok(())
        }
    });
}

/// A header's value as the HTTP door reads it: absent unless it is text.
fn header(part: Option<&[u8]>) -> Option<&str> {
    part.and_then(|p| std::str::from_utf8(p).ok())
}

/// Whether two doors decoded alike: the same value, or both refused.
fn agree<T: PartialEq, E>(a: &Result<T, E>, b: &Result<T, E>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// Whether an error message says more than its prefix (`malformed …: `).
pub fn has_reason(message: &str) -> bool {
    message
        .split_once(": ")
        .map_or(!message.trim().is_empty(), |(_, reason)| {
            !reason.trim().is_empty()
        })
}
