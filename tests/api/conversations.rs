//! Conversation tracking: top-level messages open conversations, replies are their
//! messages, field changes trigger `conversation_updated`, bots are ignored, and
//! automations cannot loop forever.

use std::time::Duration;

use serde_json::Value;
use switchboard::db;

use crate::helpers::events::{
    AGENT, OTHER_CHANNEL, REQUESTER, SUPPORT_CHANNEL, bot_message, message, reaction_added, reply,
};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);

async fn find(
    app: &TestApp,
    channel: &str,
    ts: &str,
) -> Option<switchboard::conversations::Conversation> {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, channel, ts)
        .await
        .unwrap()
}

const ACK_REPLIES: &str = r#"
[trigger]
type = "message_received"
[filter]
field = "author"
is_not = "U0AGENT001"
[[actions]]
type = "reply"
text = "{{author}} said: {{text}}"
"#;

on_both_backends! {
    async fn a_top_level_message_opens_a_conversation(backend: Backend) {
        let app = app(backend)
            .example("acknowledge-new-request")
            .env("SWITCHBOARD_SUPPORT_CUSTOMERS", "C0SUPPORT1=Acme Corp")
            .env("SWITCHBOARD_DEFAULT_TICKET_TYPE", "incident")
            .spawn()
            .await;
        let response = app
            .post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "\n  Printer on fire  \nplease help"))
            .await;
        assert_eq!(response.status().as_u16(), 200);

        let c = find(&app, SUPPORT_CHANNEL, "1700000000.000100").await.expect("conversation created");
        assert_eq!(c.title, "Printer on fire");
        assert_eq!(c.requester, REQUESTER);
        assert_eq!(c.customer.as_deref(), Some("Acme Corp"));
        assert_eq!(c.status.as_str(), "open");
        assert_eq!(c.priority.as_str(), "medium");
        assert_eq!(c.ticket_type, "incident");
        assert_eq!(c.assignee, None);
        assert!(c.tags.is_empty());
        assert_eq!(c.thread_ts, "1700000000.000100");
        assert_eq!(c.permalink, "https://acme-support.slack.com/archives/C0SUPPORT1/p1700000000000100");

        // The shipped acknowledgement: 👀 on the message and a reply with the ticket number.
        let reactions = app.slack.wait_for("reactions.add", 1, WAIT).await;
        assert_eq!(reactions[0].arg("name"), "eyes");
        assert_eq!(reactions[0].arg("timestamp"), "1700000000.000100");
        let posts = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(posts[0].arg("thread_ts"), "1700000000.000100");
        assert!(posts[0].arg("text").contains(&format!("ticket #{}", c.id)), "{}", posts[0].arg("text"));
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].trigger_kind, "conversation_created");
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn replies_are_messages_of_their_conversation(backend: Backend) {
        let app = app(backend).automation("ack-replies", ACK_REPLIES).spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "Laptop won't boot")).await;
        app.post_event(&reply("EvREPLY1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "1700000001.000100", "still broken")).await;
        app.post_event(&reply("EvREPLY2", SUPPORT_CHANNEL, AGENT, "1700000000.000100", "1700000002.000100", "looking")).await;
        // A reply in a thread that is not a conversation.
        app.post_event(&reply("EvREPLY3", SUPPORT_CHANNEL, REQUESTER, "1600000000.000100", "1700000003.000100", "hm")).await;

        let c = find(&app, SUPPORT_CHANNEL, "1700000000.000100").await.unwrap();
        let mut conn = app.db.reader().acquire().await.unwrap();
        assert_eq!(db::conversations::message_count(&mut conn, c.id).await.unwrap(), 3);
        assert_eq!(find(&app, SUPPORT_CHANNEL, "1700000002.000100").await.map(|c| c.id), Some(c.id));
        assert!(find(&app, SUPPORT_CHANNEL, "1700000003.000100").await.is_none());

        // Only the requester's reply passes the filter.
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        let posts = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(posts[0].arg("text"), format!("<@{REQUESTER}> said: still broken"));
        assert_eq!(posts[0].arg("thread_ts"), "1700000000.000100");
        app.shutdown().await;
    }

    async fn bots_and_other_channels_never_open_conversations(backend: Backend) {
        let app = app(backend)
            .example("acknowledge-new-request")
            .env("SWITCHBOARD_SUPPORT_CHANNELS", SUPPORT_CHANNEL)
            .spawn()
            .await;
        let events = [
            bot_message("EvBOT1", SUPPORT_CHANNEL, "1700000000.000100", "I am a bot"),
            // switchboard's own reply, as Slack echoes it back.
            bot_message("EvBOT2", SUPPORT_CHANNEL, "1700000000.000200", "Thanks, we're on it"),
            message("EvOTHER", OTHER_CHANNEL, REQUESTER, "1700000000.000300", "lunch?"),
        ];
        for event in &events {
            assert_eq!(app.post_event(event).await.status().as_u16(), 200);
        }
        assert_eq!(app.count("conversations").await, 0);
        assert_eq!(app.count("runs").await, 0);
        assert_eq!(app.count("events").await, 3, "ignored events are still recorded as seen");
        app.shutdown().await;
    }

    async fn field_changes_trigger_conversation_updated(backend: Backend) {
        let take = r#"
[trigger]
type = "reaction_added"
emoji = "eyes"
[[actions]]
type = "set_fields"
status = "pending"
assignee = "{{actor.id}}"
"#;
        let announce = r#"
[trigger]
type = "conversation_updated"
fields = ["status"]
[[actions]]
type = "post"
channel = "C0LEADS001"
text = "{{title}}: {{changed}} changed; now {{status}}, assigned to {{assignee}}"
"#;
        let app = app(backend).automation("take", take).automation("announce", announce).spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "Need a license")).await;
        app.post_event(&reaction_added("EvREACT1", AGENT, "eyes", SUPPORT_CHANNEL, "1700000000.000100")).await;

        let posts = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(posts[0].arg("text"), format!("Need a license: status, assignee changed; now pending, assigned to <@{AGENT}>"));
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 2);
        let updated = runs.iter().find(|r| r.trigger_kind == "conversation_updated").unwrap();
        assert_eq!(updated.depth, 1);
        assert_eq!(updated.event_id, format!("run:{}/step:0", runs[0].id));
        let trigger: Value = serde_json::from_str(&updated.trigger_json).unwrap();
        let changes = &trigger["event"]["changes"];
        assert_eq!(changes[0]["field"], "status");
        assert_eq!(changes[0]["before"], "open");
        assert_eq!(changes[0]["after"], "pending");
        assert_eq!(changes[1]["field"], "assignee");
        assert_eq!(changes[1]["before"], Value::Null);
        assert_eq!(changes[1]["after"], AGENT);

        let c = find(&app, SUPPORT_CHANNEL, "1700000000.000100").await.unwrap();
        let mut conn = app.db.reader().acquire().await.unwrap();
        let history = db::conversations::changes(&mut conn, c.id).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!((history[0].before.as_str(), history[0].after.as_str()), ("\"open\"", "\"pending\""));
        assert_eq!(history[0].cause, updated.event_id);
        app.shutdown().await;
    }

    async fn automations_cannot_loop_forever(backend: Backend) {
        // Two automations that undo each other's change.
        let up = r#"
[trigger]
type = "conversation_updated"
fields = ["priority"]
[filter]
field = "priority"
is = "high"
[[actions]]
type = "set_fields"
priority = "critical"
"#;
        let down = r#"
[trigger]
type = "conversation_updated"
fields = ["priority"]
[filter]
field = "priority"
is = "critical"
[[actions]]
type = "set_fields"
priority = "high"
"#;
        let start = r#"
[trigger]
type = "reaction_added"
[[actions]]
type = "set_fields"
priority = "high"
"#;
        let app = app(backend)
            .automation("start", start)
            .automation("up", up)
            .automation("down", down)
            .env("SWITCHBOARD_MAX_DEPTH", "3")
            .spawn()
            .await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "Loop me")).await;
        app.post_event(&reaction_added("EvREACT1", AGENT, "fire", SUPPORT_CHANNEL, "1700000000.000100")).await;

        // start (depth 0) → up (1) → down (2) → up (3) → down would be 4 > 3: stopped.
        app.wait_for_runs_to_finish(WAIT).await;
        // Give a (wrongly) queued fifth run the time to appear.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let chain: Vec<(&str, i64)> = runs.iter().map(|r| (r.automation_id.as_str(), r.depth)).collect();
        assert_eq!(chain, [("start", 0), ("up", 1), ("down", 2), ("up", 3)]);
        assert!(runs.iter().all(|r| r.status == "succeeded"));
        let c = find(&app, SUPPORT_CHANNEL, "1700000000.000100").await.unwrap();
        assert_eq!(c.priority.as_str(), "critical");
        app.shutdown().await;
    }
}
