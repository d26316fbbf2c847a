//! Real, valid inputs the mutations start from: payloads as Slack documents and sends
//! them, webhook bodies as GitHub and PagerDuty send them, and the shipped automation
//! files of `automations/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Events API requests: <https://api.slack.com/apis/events-api#callback-field>.
pub fn events() -> Vec<Value> {
    let callback = |event: Value| {
        json!({
            "token": "XXYYZZ", "team_id": "T0TEST", "api_app_id": "A0SWITCHB1",
            "event": event, "type": "event_callback", "event_id": "Ev08MFMKH6",
            "event_time": 1_700_000_000,
            "authorizations": [{ "enterprise_id": null, "team_id": "T0TEST", "user_id": "U0BOT", "is_bot": true, "is_enterprise_install": false }],
            "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"
        })
    };
    vec![
        json!({ "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }),
        json!({ "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "app_rate_limited", "team_id": "T0TEST", "minute_rate_limited": 1_518_467_820, "api_app_id": "A0SWITCHB1" }),
        callback(json!({
            "type": "message", "channel": "C0SUPPORT1", "user": "U2147483697", "text": "VPN is down <@U0BOT>",
            "ts": "1355517523.000005", "channel_type": "channel", "client_msg_id": "a1b2c3", "team": "T0TEST",
            "blocks": [{ "type": "rich_text", "block_id": "x", "elements": [{ "type": "rich_text_section", "elements": [{ "type": "text", "text": "VPN is down" }] }] }],
            "event_ts": "1355517523.000005"
        })),
        callback(json!({
            "type": "message", "subtype": "thread_broadcast", "channel": "C0SUPPORT1", "user": "U0AGENT001",
            "text": "<@U0BOT> resolve", "ts": "1355517600.000007", "thread_ts": "1355517523.000005",
            "channel_type": "channel", "event_ts": "1355517600.000007"
        })),
        callback(json!({
            "type": "message", "subtype": "bot_message", "bot_id": "B0BOT", "channel": "C0SUPPORT1",
            "text": "automated", "ts": "1355517700.000001", "event_ts": "1355517700.000001"
        })),
        callback(json!({
            "type": "reaction_added", "user": "U024BE7LH", "reaction": "bangbang", "item_user": "U0G9QF9C6",
            "item": { "type": "message", "channel": "C0SUPPORT1", "ts": "1355517523.000005" },
            "event_ts": "1360782804.083113"
        })),
        callback(json!({
            "type": "team_join",
            "user": { "id": "U9NEWHIRE", "team_id": "T0TEST", "name": "ada", "real_name": "Ada Lovelace", "is_bot": false,
                      "profile": { "email": "ada@example.com", "title": "Engineer", "real_name": "Ada Lovelace", "display_name": "ada" } }
        })),
        callback(
            json!({ "type": "app_home_opened", "user": "U0AGENT001", "channel": "D0HOME", "tab": "home", "event_ts": "1.2" }),
        ),
    ]
}

/// Interactivity payloads: <https://api.slack.com/reference/interaction-payloads>.
pub fn interactions() -> Vec<Value> {
    vec![
        json!({
            "type": "block_actions", "user": { "id": "U0ITMGR001", "username": "ada", "team_id": "T0TEST" },
            "api_app_id": "A0SWITCHB1", "token": "x", "trigger_id": "123.456.abc",
            "team": { "id": "T0TEST", "domain": "acme-support" },
            "container": { "type": "message", "message_ts": "1.2", "channel_id": "D0ITMGR001", "is_ephemeral": false },
            "channel": { "id": "D0ITMGR001", "name": "directmessage" },
            "message": { "type": "message", "ts": "1.2", "text": "Approval needed" },
            "response_url": "https://hooks.slack.com/actions/T0TEST/1/x",
            "actions": [{ "action_id": "switchboard_approve", "block_id": "switchboard_approval", "value": "7",
                          "type": "button", "action_ts": "1.3", "text": { "type": "plain_text", "text": "Approve" } }]
        }),
        json!({
            "type": "view_submission", "user": { "id": "U0ITMGR002" }, "team": { "id": "T0TEST" }, "trigger_id": "1.2.x",
            "view": { "id": "V0REASON", "callback_id": "switchboard_approval_reason", "private_metadata": "7:deny",
                      "state": { "values": { "reason": { "reason": { "type": "plain_text_input", "value": "not now" } } } } }
        }),
        json!({
            "type": "view_submission", "user": { "id": "U0ADMIN001" }, "team": { "id": "T0TEST" },
            "view": { "id": "V0INPUTS", "callback_id": "switchboard_run_inputs",
                      "private_metadata": "{\"automation\":\"laptop\",\"channel\":\"C0SUPPORT1\",\"source\":\"slash_command\"}",
                      "state": { "values": {
                          "who": { "who": { "type": "users_select", "selected_user": "U0AGENT001" } },
                          "model": { "model": { "type": "static_select", "selected_option": { "value": "pro", "text": { "type": "plain_text", "text": "pro" } } } },
                          "count": { "count": { "type": "number_input", "value": "2" } },
                          "note": { "note": { "type": "plain_text_input", "value": null } },
                          "when": { "when": { "type": "datepicker", "selected_date": "2026-12-01" } }
                      } } }
        }),
        json!({
            "type": "view_submission", "user": { "id": "U0AGENT001" }, "team": { "id": "T0TEST" },
            "view": { "id": "V0EDIT", "callback_id": "switchboard_edit_form",
                      "private_metadata": "{\"conversation\":1,\"team_id\":\"T0TEST\",\"channel\":\"C0SUPPORT1\",\"thread_ts\":\"1355517523.000005\"}",
                      "state": { "values": {
                          "status": { "status": { "type": "static_select", "selected_option": { "value": "resolved" } } },
                          "priority": { "priority": { "type": "static_select", "selected_option": { "value": "high" } } },
                          "ticket_type": { "ticket_type": { "type": "plain_text_input", "value": "incident" } },
                          "assignee": { "assignee": { "type": "users_select", "selected_user": "U0AGENT001" } },
                          "tags": { "tags": { "type": "plain_text_input", "value": "vpn, urgent" } }
                      } } }
        }),
        json!({
            "type": "message_action", "callback_id": "switchboard_run", "trigger_id": "1.2.x", "team": { "id": "T0TEST" },
            "user": { "id": "U0ADMIN001" }, "channel": { "id": "C0SUPPORT1", "name": "support" },
            "message": { "type": "message", "ts": "1355517600.000007", "thread_ts": "1355517523.000005", "text": "hi" },
            "response_url": "https://hooks.slack.com/app/x"
        }),
        json!({ "type": "shortcut", "callback_id": "whatever", "trigger_id": "1.2.x", "user": { "id": "U1" }, "team": { "id": "T0TEST" } }),
        json!({ "type": "view_closed", "user": { "id": "U1" }, "view": { "id": "V1", "callback_id": "switchboard_run_pick" }, "is_cleared": false }),
    ]
}

/// A slash command body, as Slack's documentation shows one, for `/switchboard`.
pub fn commands() -> Vec<String> {
    let command = |text: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
            .append_pair("team_id", "T0TEST")
            .append_pair("team_domain", "acme-support")
            .append_pair("enterprise_id", "E0001")
            .append_pair("channel_id", "C0SUPPORT1")
            .append_pair("channel_name", "support")
            .append_pair("user_id", "U0ADMIN001")
            .append_pair("user_name", "ada")
            .append_pair("command", "/switchboard")
            .append_pair("text", text)
            .append_pair("api_app_id", "A0SWITCHB1")
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", "https://hooks.slack.com/commands/1234/5678")
            .append_pair("trigger_id", "13345224609.738474920.8088930838d88f008e0")
            .finish()
    };
    vec![
        command("run laptop"),
        command("run triage 42"),
        command(
            "run triage <https://acme-support.slack.com/archives/C0SUPPORT1/p1355517523000005>",
        ),
        command("list"),
        command(""),
    ]
}

/// Socket Mode messages: <https://api.slack.com/apis/socket-mode>.
pub fn socket_frames() -> Vec<Value> {
    let command: serde_json::Map<String, Value> =
        url::form_urlencoded::parse(commands()[0].as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    vec![
        json!({ "type": "hello", "num_connections": 2, "debug_info": { "host": "applink-1", "build_number": 10, "approximate_connection_time": 18060 }, "connection_info": { "app_id": "A0SWITCHB1" } }),
        json!({ "type": "disconnect", "reason": "warning", "debug_info": { "host": "applink-1" } }),
        json!({ "type": "disconnect", "reason": "link_disabled", "debug_info": { "host": "applink-1" } }),
        json!({ "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf", "payload": events()[2], "type": "events_api", "accepts_response_payload": false, "retry_attempt": 1, "retry_reason": "timeout" }),
        json!({ "envelope_id": "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545", "payload": interactions()[2], "type": "interactive", "accepts_response_payload": true, "retry_attempt": 0, "retry_reason": "" }),
        json!({ "envelope_id": "ae7c2c5b-3dc0-4b0c-8c8e-5c4d2c3a3f0e", "payload": command, "type": "slash_commands", "accepts_response_payload": true }),
    ]
}

/// Webhook bodies: GitHub's `push` (abridged), PagerDuty's v3 webhook, a plain alert.
pub fn webhook_bodies() -> Vec<Value> {
    vec![
        json!({
            "ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "after": "0000000000000000000000000000000000000000", "created": false, "deleted": true, "forced": false,
            "repository": { "id": 186_853_002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "Hello-World", "full_name": "Codertocat/Hello-World", "private": false },
            "pusher": { "name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com" },
            "sender": { "login": "Codertocat", "id": 21_031_067, "type": "User", "site_admin": false },
            "commits": [], "head_commit": null
        }),
        json!({
            "event": {
                "id": "01DEN0V2VIFEN5871PQGX72URP", "event_type": "incident.triggered", "resource_type": "incident",
                "occurred_at": "2020-10-02T18:45:22.169Z", "agent": { "html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV", "type": "user_reference" },
                "data": { "id": "PGR0VU2", "type": "incident", "title": "A little bump in the road", "status": "triggered", "urgency": "high", "priority": { "id": "PSO75BM", "summary": "P1" } }
            }
        }),
        json!({ "title": "disk full on db-1", "severity": "critical", "tags": ["db", "disk"], "value": 99.5 }),
    ]
}

/// The shipped automations: every `automations/*.toml` with its text.
pub fn automation_files() -> Vec<(PathBuf, String)> {
    files_in(&automations_dir(), "toml")
}

/// The scripts beside them, by the name automation files give them (not the type
/// declarations).
pub fn scripts() -> BTreeMap<String, String> {
    files_in(&automations_dir(), "ts")
        .into_iter()
        .filter_map(|(path, text)| Some((path.file_name()?.to_str()?.to_owned(), text)))
        .filter(|(name, _)| !name.ends_with(".d.ts"))
        .collect()
}

/// A manual automation with inputs of every kind (from the README's manual runs).
pub const MANUAL: &str = r#"name = "Order a laptop"
description = "IT orders a laptop for someone."
[trigger]
type = "manual"
allowed = ["@support-leads", "U0123ABCD"]
needs_conversation = false
inputs = [
  { name = "who", type = "user", label = "For whom" },
  { name = "model", type = "select", options = ["air", "pro"], default = "air" },
  { name = "count", type = "number", min = 1, max = 3 },
  { name = "note", type = "multiline", required = false, placeholder = "Anything IT should know" },
  { name = "when", type = "date", required = false },
  { name = "where", type = "channel", required = false },
]
[[actions]]
type = "post"
channel = "C0IT000001"
text = "{{input.count}} × {{input.model}} for {{input.who}}"
"#;

/// A signed webhook automation (GitHub's signature header and prefix).
pub const SIGNED_WEBHOOK: &str = r#"name = "Deploys"
[trigger]
type = "webhook"
signature = { secret = "GITHUB_WEBHOOK_SECRET" }
[[actions]]
type = "post"
channel = "C0ALERTS01"
text = "push"
"#;

/// `automations/calendars/*.toml`.
pub fn calendar_files() -> Vec<(PathBuf, String)> {
    files_in(&automations_dir().join("calendars"), "toml")
}

/// `automations/slas/*.toml`.
pub fn sla_files() -> Vec<(PathBuf, String)> {
    files_in(&automations_dir().join("slas"), "toml")
}

fn automations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("automations")
}

fn files_in(dir: &Path, extension: &str) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .{extension} files in {}",
        dir.display()
    );
    files
}
