//! Files people write: automations (TOML → definition → `check`), their filters,
//! business-hours calendars and SLA policies. Every error names the file, and a line
//! and column inside it; what checks out can be used (filters evaluate, calendars
//! count working time consistently).

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard::automations::calendars::{self, Calendars};
use switchboard::automations::{Diagnostic, StoredScripts, compile, slas};
use switchboard::conversations::Conversation;
use switchboard::rules;
use switchboard::trigger::Trigger;

use crate::harness::{Target, Verdict, ensure};
use crate::{mutate, samples};

/// That every diagnostic names `file` and a line and column inside `source`.
pub fn located(diagnostics: &[Diagnostic], file: &Path, source: &str) -> Verdict {
    ensure!(!diagnostics.is_empty(), "refused without a diagnostic");
    let lines: Vec<&str> = source.split('\n').collect();
    for d in diagnostics {
        ensure!(d.file == file, "{d} names another file");
        ensure!(!d.message.trim().is_empty(), "{d} says nothing");
        let line = d.line.checked_sub(1).and_then(|i| lines.get(i));
        let columns = line.map_or(0, |l| l.chars().count() + 1);
        ensure!(
            d.column >= 1 && d.column <= columns,
            "{d} points outside the file ({} lines)",
            lines.len()
        );
    }
    Ok(())
}

/// Mutations of TOML files: structural ones through their JSON view, and edits of
/// their text (comments, quoting, layout) as written.
fn toml_inputs(files: Vec<String>) -> BoxedStrategy<Vec<u8>> {
    let views = files.iter().map(|f| mutate::toml_view(f)).collect();
    prop_oneof![
        mutate::documents(views, mutate::toml, &mutate::TOML),
        mutate::texts(files, &mutate::TOML),
    ]
    .boxed()
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn automation_files() {
    let mut files: Vec<String> = samples::automation_files()
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    files.extend([
        samples::MANUAL.to_owned(),
        samples::SIGNED_WEBHOOK.to_owned(),
    ]);
    let scripts = StoredScripts::new(samples::scripts());
    for file in &files {
        compile(Path::new("sample.toml"), file, &scripts).expect("the samples check out");
    }
    Target::new("automation_files").run(toml_inputs(files), move || {
        let contexts = contexts();
        move |bytes: &[u8]| {
            let source = text_of(bytes);
            let file = Path::new("automations/fuzzed.toml");
            match compile(file, &source, &scripts) {
                Err(diagnostics) => located(&diagnostics, file, &source),
                Ok(automation) => {
                    ensure!(
                        automation.source == source,
                        "the stored source differs from the file"
                    );
                    for (trigger, conversation) in &contexts {
                        rules::matches(&automation, trigger, Some(conversation));
                    }
                    Ok(())
                }
            }
        }
    });
}

/// An automation whose filter is `filter` (a TOML table as JSON).
fn with_filter(filter: &Value) -> Vec<u8> {
    let mut text = b"[trigger]\ntype = \"conversation_created\"\n\n[[actions]]\ntype = \"reply\"\ntext = \"hi\"\n\n".to_vec();
    text.extend(mutate::toml(&json!({ "filter": filter })));
    text
}

#[test]
fn filter_expressions() {
    let filters = vec![
        json!({ "any": [
            { "field": "ticket_type", "is": "password_reset" },
            { "field": "text", "matches": "(?i)(reset|forgot|forgotten|locked out of|expired).{0,40}password|password.{0,40}(reset|expired|locked)" },
        ] }),
        json!({ "all": [
            { "field": "status", "is_not": "closed" },
            { "any": [{ "field": "tags", "contains": "vip" }, { "field": "customer", "in": ["Acme"] }] },
            { "not": { "field": "channel", "is": "C0123" } },
        ] }),
        json!({ "field": "priority", "not_in": ["low", "medium"] }),
        json!({ "field": "assignee", "exists": false }),
    ];
    let inputs = mutate::documents(filters, with_filter, &mutate::TOML);
    Target::new("filter_expressions").run(inputs, || {
        let contexts = contexts();
        move |bytes: &[u8]| {
            let source = text_of(bytes);
            let file = Path::new("filtered.toml");
            let checked = compile(file, &source, &StoredScripts::default());
            let automation = match checked {
                Err(diagnostics) => return located(&diagnostics, file, &source),
                Ok(a) => a,
            };
            // The filter's negation checks out too, and holds exactly where it does not.
            let Some(negated) = negation(&source) else {
                return Ok(());
            };
            let opposite = compile(file, &negated, &StoredScripts::default()).map_err(|e| {
                format!("the negation of a filter that checks out does not: {e:?}\n{negated}")
            })?;
            for (trigger, conversation) in &contexts {
                let holds = rules::matches(&automation, trigger, Some(conversation));
                let opposite_holds = rules::matches(&opposite, trigger, Some(conversation));
                ensure!(
                    holds != opposite_holds,
                    "the filter and its negation both {}",
                    if holds { "hold" } else { "fail" }
                );
            }
            Ok(())
        }
    });
}

/// The automation `source` with its filter `F` replaced by `not = F`.
fn negation(source: &str) -> Option<String> {
    let mut document: toml::Table = toml::from_str(source).ok()?;
    let filter = document.remove("filter")?;
    document.insert(
        "filter".into(),
        toml::Value::Table(toml::Table::from_iter([("not".to_owned(), filter)])),
    );
    toml::to_string(&document).ok()
}

/// Triggers with their conversation, for evaluating filters: a new conversation
/// about a password.
pub fn contexts() -> Vec<(Trigger, Conversation)> {
    let conversation: Conversation = serde_json::from_value(json!({
        "id": 1, "team_id": "T0TEST", "channel": "C0SUPPORT1", "thread_ts": "1355517523.000005",
        "requester": "U2147483697", "customer": "Acme", "title": "I forgot my password",
        "status": "open", "priority": "high", "ticket_type": "access", "assignee": null,
        "tags": ["VIP", "sso"], "permalink": "https://acme-support.slack.com/archives/C0SUPPORT1/p1355517523000005",
        "created_at": 0, "updated_at": 0
    }))
    .expect("a conversation");
    let created = |text: &str| -> Trigger {
        serde_json::from_value(json!({
            "event_id": "Ev1", "team_id": "T0TEST", "actor": "U2147483697", "conversation_id": 1, "depth": 0,
            "event": { "kind": "conversation_created", "message": {
                "channel": "C0SUPPORT1", "ts": "1355517523.000005", "thread_ts": null, "user": "U2147483697", "text": text } }
        }))
        .expect("a trigger")
    };
    let mut closed = conversation.clone();
    closed.status = switchboard::conversations::Status::Closed;
    closed.tags.clear();
    closed.customer = None;
    vec![
        (
            created("I forgot my PASSWORD, please reset it"),
            conversation.clone(),
        ),
        (created("VPN is down 🦀"), closed),
        (created(""), conversation),
    ]
}

#[test]
fn calendar_files() {
    let files: Vec<String> = samples::calendar_files()
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    Target::new("calendar_files").run(toml_inputs(files), || {
        |bytes: &[u8]| {
            let source = text_of(bytes);
            let file = Path::new("calendars/emea.toml");
            let calendar = match calendars::compile(file, &source) {
                Err(diagnostics) => return located(&diagnostics, file, &source),
                Ok(c) => c,
            };
            ensure!(calendar.opens(), "a calendar that never opens was taken");
            // Working time added and then measured comes back the same.
            let from = Utc.with_ymd_and_hms(2026, 3, 27, 16, 50, 0).single().expect("a time");
            for working in [Duration::minutes(30), Duration::hours(4), Duration::days(3)] {
                if let Some(due) = calendar.add(from, working) {
                    ensure!(due >= from, "{working} of working time from {from} ends before it, at {due}");
                    let measured = calendar.between(from, due);
                    ensure!(measured == working, "{working} from {from} is due {due}, but only {measured} is working time until then");
                }
            }
            Ok(())
        }
    });
}

#[test]
fn sla_files() {
    let files: Vec<String> = samples::sla_files()
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    Target::new("sla_files").run(toml_inputs(files), || {
        let (calendars, errors, _) = calendars::load(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("automations")
                .as_path(),
        );
        assert!(errors.is_empty(), "the sample calendars load: {errors:?}");
        let calendars: Calendars = calendars;
        move |bytes: &[u8]| {
            let source = text_of(bytes);
            let file = Path::new("slas/10-critical.toml");
            match slas::compile(file, &source, &calendars) {
                Err(diagnostics) => located(&diagnostics, file, &source),
                Ok(_) => Ok(()),
            }
        }
    });
}
