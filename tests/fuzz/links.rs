//! Signed run links (`/runs/<id>?until=…&key=…`), changed: only the link made for a
//! run opens it, and only until it expires.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use switchboard::config::SecretString;
use switchboard::runs::link::RunLinks;

use crate::harness::{Target, ensure};
use crate::mutate;

/// A link's parts as the page reads them: `run\nuntil\nkey`.
fn parts(view: &Value) -> Vec<u8> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match view {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("\n"),
        other => text(other),
    }
    .into_bytes()
}

#[test]
fn run_links() {
    let links = RunLinks::new(
        Some(url::Url::parse("https://switchboard.example.com/").expect("a URL")),
        &SecretString::new("8f742231b10e8888abcd99yyyzzz85a5"),
    );
    let now = Utc
        .with_ymd_and_hms(2026, 3, 27, 16, 50, 0)
        .single()
        .expect("a time");
    let genuine: Vec<(i64, i64, String)> = [7, 12345]
        .iter()
        .map(|run| {
            let link = url::Url::parse(&links.url(*run, now).expect("a link")).expect("a URL");
            let query = |k: &str| {
                link.query_pairs()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.into_owned())
                    .expect("a part")
            };
            (
                *run,
                query("until").parse().expect("a number"),
                query("key"),
            )
        })
        .collect();
    let samples = genuine
        .iter()
        .map(|(run, until, key)| json!([run.to_string(), until.to_string(), key]))
        .collect();
    Target::new("run_links").run(
        mutate::documents(samples, parts, &mutate::JSON),
        move || {
            move |input: &[u8]| {
                let text = String::from_utf8_lossy(input);
                let mut lines = text.split('\n');
                // As the page reads them: numbers that do not parse open nothing.
                let (Some(Ok(run)), Some(Ok(until)), Some(key)) = (
                    lines.next().map(str::parse::<i64>),
                    lines.next().map(str::parse::<i64>),
                    lines.next(),
                ) else {
                    return Ok(());
                };
                if links.check(run, until, key, now) {
                    let made = genuine.iter().any(|(r, u, k)| {
                        *r == run && *u == until && hex::decode(k).ok() == hex::decode(key).ok()
                    });
                    ensure!(
                        made,
                        "a link that was never made opens run {run} until {until} with key {key:?}"
                    );
                    ensure!(until >= now.timestamp(), "an expired link opens run {run}");
                }
                Ok(())
            }
        },
    );
}
