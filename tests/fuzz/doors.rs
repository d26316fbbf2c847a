//! Slack's three HTTP doors (`/slack/events`, `/slack/interactions`,
//! `/slack/commands`) of the running server, with signed, mutated bodies: the answer is
//! 200 exactly when the decoder takes the body, 400 when it does not, 413 over the
//! limit; never a 5xx, a dropped connection, a panic anywhere in the server, or a call
//! to Slack that Slack would refuse.

use serde_json::{Value, json};
use switchboard::slack::{commands, events, interactions, signature};

use crate::harness::{Target, Verdict, ensure};
use crate::helpers::SIGNING_SECRET;
use crate::served::{Served, serve};
use crate::{mutate, samples};

const EVENTS: &str = "/slack/events";
const INTERACTIONS: &str = "/slack/interactions";
const COMMANDS: &str = "/slack/commands";
const MAX_BODY: usize = 512 * 1024;

/// A delivery as text: the door's path on the first line, then the body (JSON for
/// events, a form for the others).
fn delivery(view: &Value) -> Vec<u8> {
    let door = view["door"].as_str().unwrap_or_default();
    let body = if door == EVENTS {
        mutate::json(&view["body"])
    } else {
        mutate::form(&view["body"])
    };
    let mut text = format!("{door}\n").into_bytes();
    text.extend(body);
    text
}

#[test]
fn slack_doors() {
    let events = samples::events()
        .into_iter()
        .map(|body| json!({ "door": EVENTS, "body": body }));
    let clicks = samples::interactions()
        .into_iter()
        .map(|payload| json!({ "door": INTERACTIONS, "body": [["payload", payload]] }));
    let commands = samples::commands()
        .into_iter()
        .map(|body| json!({ "door": COMMANDS, "body": mutate::form_view(&body) }));
    let samples: Vec<Value> = events.chain(clicks).chain(commands).collect();
    let inputs = mutate::documents(samples, delivery, &mutate::JSON);
    Target::new("slack_doors").run(inputs, || {
        let mut served = serve("slack_doors", |app| {
            app.automation("laptop", samples::MANUAL)
                .example("acknowledge-new-request")
                .env("SWITCHBOARD_ADMINS", "U0ADMIN001")
                .env("SWITCHBOARD_SUPPORT_CHANNELS", "C0SUPPORT1")
        });
        move |input: &[u8]| deliver(&mut served, input)
    });
}

fn deliver(served: &mut Served, input: &[u8]) -> Verdict {
    let (door, body) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&input[..i]).into_owned(),
            &input[i + 1..],
        ),
        None => (String::new(), input),
    };
    let door = [INTERACTIONS, COMMANDS]
        .into_iter()
        .find(|d| *d == door)
        .unwrap_or(EVENTS);
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let request = served
        .app
        .client
        .post(served.app.url(door))
        .header(
            "content-type",
            if door == EVENTS {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            },
        )
        .header(signature::TIMESTAMP_HEADER, &timestamp)
        .header(
            signature::SIGNATURE_HEADER,
            signature::sign(SIGNING_SECRET.as_bytes(), &timestamp, body),
        )
        .body(body.to_vec());
    let answer = match served.send(request) {
        // Refused (413) before it was all sent: the client sees the connection close.
        Err(_) if body.len() > MAX_BODY => return served.stayed_sound(),
        sent => sent?,
    };
    let Some(answer) = answer else {
        return Ok(());
    };
    served.stayed_sound()?;

    let decoded = match door {
        EVENTS => events::decode(body)
            .map(|p| match p {
                events::EventsPayload::UrlVerification { challenge } => Some(challenge),
                _ => None,
            })
            .map_err(|e| e.to_string()),
        INTERACTIONS => interactions::decode(body)
            .map(|_| None)
            .map_err(|e| e.to_string()),
        _ => commands::decode(body)
            .map(|_| None)
            .map_err(|e| e.to_string()),
    };
    let expected = match &decoded {
        _ if body.len() > MAX_BODY => 413,
        Ok(_) => 200,
        Err(_) => 400,
    };
    let shown = String::from_utf8_lossy(&answer.body);
    ensure!(
        answer.status == expected,
        "{door} answered {} where {expected} was due: {shown}",
        answer.status
    );
    let json = answer.json();
    match (answer.status, door, decoded) {
        (200, EVENTS, Ok(Some(challenge))) => {
            ensure!(
                json.is_some_and(|j| j["challenge"] == challenge.as_str()),
                "the challenge was not echoed: {shown}"
            );
        }
        (200, COMMANDS, _) => {
            let answered = json.is_some_and(|j| {
                j["response_type"] == "ephemeral"
                    && j["text"].as_str().is_some_and(|t| !t.is_empty())
            });
            ensure!(answered, "a command without an answer: {shown}");
        }
        (200, _, _) => ensure!(
            answer.body.is_empty() || json.is_some(),
            "an answer that is not JSON: {shown}"
        ),
        _ => {
            let refused = json.is_some_and(|j| {
                j["ok"] == false && j["error"].as_str().is_some_and(|e| !e.is_empty())
            });
            ensure!(refused, "a refusal without a reason: {shown}");
        }
    }
    Ok(())
}
