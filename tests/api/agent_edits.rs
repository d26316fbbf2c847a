//! Agents work the ticket from Slack: `@switchboard resolve`, `assign @dana`,
//! `priority high`, `tag billing`… in a conversation's thread change its fields through
//! the same path as an automation's `set_fields`: history with the agent as actor, and
//! a `conversation_updated` that starts automations (the shipped CSAT survey).

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reply};
use crate::helpers::fake_slack::{BOT_USER, IT_MANAGERS};
use crate::helpers::interactions::{message_shortcut, submitted};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const THREAD: &str = "1700000000.000100";
const DANA: &str = "U0DANA0001";

async fn open(app: &TestApp) -> i64 {
    let response = app
        .post_event(&message(
            "EvMSG1",
            SUPPORT_CHANNEL,
            REQUESTER,
            THREAD,
            "VPN is down",
        ))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    conversation(app).await.id
}

async fn conversation(app: &TestApp) -> switchboard::conversations::Conversation {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, THREAD)
        .await
        .unwrap()
        .expect("tracked")
}

/// `text` typed by `user` to the bot in the conversation's thread, as event `n`.
async fn command(app: &TestApp, n: u32, user: &str, text: &str) -> Value {
    let event = reply(
        &format!("EvCMD{n}"),
        SUPPORT_CHANNEL,
        user,
        THREAD,
        &format!("1700000001.{n:06}"),
        &format!("<@{BOT_USER}> {text}"),
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
    event
}

/// Waits for the `n`th private answer to `user`; returns its text.
async fn answer(app: &TestApp, user: &str, n: usize) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let answers: Vec<String> = app
            .slack
            .calls_to("chat.postEphemeral")
            .iter()
            .filter(|c| c.arg("user") == user && c.arg("thread_ts") == THREAD)
            .map(|c| c.arg("text").to_owned())
            .collect();
        if answers.len() >= n {
            return answers[n - 1].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no answer {n} to {user}: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn history(app: &TestApp, id: i64) -> Vec<(String, String, Option<String>)> {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::changes(&mut conn, id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.field, c.after, c.actor))
        .collect()
}

on_both_backends! {
    async fn resolving_from_the_thread_starts_the_csat_survey_with_the_agent_as_actor(backend: Backend) {
        let app = app(backend).example("csat-survey").spawn().await;
        let id = open(&app).await;
        let sent = command(&app, 1, AGENT, "resolve").await;

        let runs = app.wait_for_status("succeeded", WAIT).await;
        assert_eq!((runs.automation_id.as_str(), runs.trigger_kind.as_str()), ("csat-survey", "conversation_updated"));
        let trigger: Value = serde_json::from_str(&runs.trigger_json).unwrap();
        assert_eq!(trigger["actor"], AGENT);
        let survey = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(survey[0].arg("channel"), format!("D{REQUESTER}"));
        assert_eq!(conversation(&app).await.status.as_str(), "resolved");
        assert_eq!(history(&app, id).await, [("status".into(), "\"resolved\"".into(), Some(AGENT.into()))]);
        assert!(answer(&app, AGENT, 1).await.contains(&format!("Conversation #{id}: status *resolved*")));

        // Slack's retry of the same message changes nothing more and answers nothing more.
        assert_eq!(app.post_event_retry(&sent, 1).await.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.runs().await.len(), 1);
        assert_eq!(history(&app, id).await.len(), 1);
        assert_eq!(app.slack.calls_to("chat.postEphemeral").len(), 1);
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn each_thread_command_changes_its_field(backend: Backend) {
        let app = app(backend).spawn().await;
        let id = open(&app).await;
        let commands = [
            "priority high",
            &format!("assign <@{DANA}|dana>"),
            "tag billing vip",
            "untag vip",
            "type incident",
            "assign me",
            "unassign",
            "pending",
        ];
        for (n, text) in commands.iter().enumerate() {
            command(&app, n as u32 + 1, AGENT, text).await;
            let said = answer(&app, AGENT, n + 1).await;
            assert!(said.starts_with(":white_check_mark:"), "{text}: {said}");
        }
        let c = conversation(&app).await;
        assert_eq!((c.priority.as_str(), c.status.as_str(), c.ticket_type.as_str()), ("high", "pending", "incident"));
        assert_eq!((c.assignee, c.tags), (None, vec!["billing".to_owned()]));
        let fields: Vec<String> = history(&app, id).await.into_iter().map(|(f, after, actor)| {
            assert_eq!(actor.as_deref(), Some(AGENT));
            format!("{f}={after}")
        }).collect();
        assert_eq!(fields, [
            "priority=\"high\"", &format!("assignee=\"{DANA}\""), "tags=[\"billing\",\"vip\"]", "tags=[\"billing\"]",
            "ticket_type=\"incident\"", &format!("assignee=\"{AGENT}\""), "assignee=null", "status=\"pending\"",
        ]);
        app.shutdown().await;
    }

    async fn a_mistaken_or_misplaced_edit_is_explained_and_changes_nothing(backend: Backend) {
        let app = app(backend).example("csat-survey").spawn().await;
        let id = open(&app).await;
        command(&app, 1, AGENT, "priority urgent").await;
        let said = answer(&app, AGENT, 1).await;
        assert!(said.contains("expected one of: low, medium, high, critical") && said.contains("assign <@person|me>"), "{said}");

        command(&app, 2, AGENT, "reopen").await;
        assert!(answer(&app, AGENT, 2).await.contains("Nothing to change"), "already open");

        // Not in a thread: there is no conversation to edit.
        let top = message("EvTOP1", SUPPORT_CHANNEL, AGENT, "1700000002.000100", &format!("<@{BOT_USER}> resolve"));
        assert_eq!(app.post_event(&top).await.status().as_u16(), 200);
        let deadline = Instant::now() + WAIT;
        while !app.slack.calls_to("chat.postEphemeral").iter().any(|c| c.arg("text").contains("from its thread")) {
            assert!(Instant::now() < deadline, "{:#?}", app.slack.calls_to("chat.postEphemeral"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(history(&app, id).await.is_empty());
        assert!(app.runs().await.is_empty());
        assert_eq!(conversation(&app).await.status.as_str(), "open");
        app.shutdown().await;
    }

    async fn the_edit_form_shows_the_fields_and_saves_them_with_the_agent_as_actor(backend: Backend) {
        let app = app(backend).example("csat-survey").spawn().await;
        let id = open(&app).await;
        command(&app, 1, AGENT, "tag billing").await;
        answer(&app, AGENT, 1).await;

        let mut shortcut = message_shortcut(AGENT, SUPPORT_CHANNEL, THREAD);
        shortcut["callback_id"] = "switchboard_edit".into();
        let response = app.post_interaction(&shortcut).await;
        assert_eq!(response.status().as_u16(), 200);
        let view = app.slack.wait_for("views.open", 1, WAIT).await[0].json_arg("view");
        assert_eq!(view["callback_id"], "switchboard_edit_form");
        let blocks = view["blocks"].as_array().unwrap();
        assert_eq!(blocks[1]["element"]["initial_option"]["value"], "open");
        assert_eq!(blocks[2]["element"]["initial_option"]["value"], "medium");
        assert_eq!(blocks[3]["element"]["initial_value"], "question");
        assert_eq!(blocks[5]["element"]["initial_value"], "billing");

        // A mistake is shown on its field and changes nothing.
        let wrong = submitted(&view, AGENT, &[("status", "static_select", "resolved"), ("priority", "static_select", "high"), ("ticket_type", "plain_text_input", " ")]);
        let answer_body: Value = app.post_interaction(&wrong).await.json().await.unwrap();
        assert_eq!(answer_body["response_action"], "errors");
        assert_eq!(answer_body["errors"]["ticket_type"], "a conversation has a type");
        assert_eq!(history(&app, id).await.len(), 1);

        let form = submitted(&view, AGENT, &[
            ("status", "static_select", "resolved"), ("priority", "static_select", "high"),
            ("ticket_type", "plain_text_input", "incident"), ("assignee", "users_select", DANA),
            ("tags", "plain_text_input", "billing, vip"),
        ]);
        let response = app.post_interaction(&form).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().await.unwrap(), "", "an empty answer closes the form");
        let c = conversation(&app).await;
        assert_eq!((c.status.as_str(), c.priority.as_str(), c.ticket_type.as_str()), ("resolved", "high", "incident"));
        assert_eq!((c.assignee.as_deref(), c.tags), (Some(DANA), vec!["billing".to_owned(), "vip".to_owned()]));
        let run = app.wait_for_status("succeeded", WAIT).await;
        assert_eq!(run.automation_id, "csat-survey");
        let trigger: Value = serde_json::from_str(&run.trigger_json).unwrap();
        assert_eq!(trigger["actor"], AGENT);
        assert!(history(&app, id).await.iter().all(|(_, _, actor)| actor.as_deref() == Some(AGENT)));
        assert!(answer(&app, AGENT, 2).await.contains(&format!("Conversation #{id} saved")));

        // The same submission delivered again changes nothing twice.
        let changes = history(&app, id).await.len();
        assert_eq!(app.post_interaction(&form).await.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(history(&app, id).await.len(), changes);
        assert_eq!(app.runs().await.len(), 1);
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn only_the_configured_editors_may_edit(backend: Backend) {
        let app = app(backend).env("SWITCHBOARD_EDITORS", "@it-managers").spawn().await;
        let id = open(&app).await;
        command(&app, 1, AGENT, "resolve").await;
        let said = answer(&app, AGENT, 1).await;
        assert!(said.contains("You may not edit conversations") && said.contains("SWITCHBOARD_EDITORS"), "{said}");
        let mut shortcut = message_shortcut(AGENT, SUPPORT_CHANNEL, THREAD);
        shortcut["callback_id"] = "switchboard_edit".into();
        assert_eq!(app.post_interaction(&shortcut).await.status().as_u16(), 200);
        let deadline = Instant::now() + WAIT;
        while app.slack.calls_to("chat.postEphemeral").len() < 2 {
            assert!(Instant::now() < deadline, "the refusal of the form was not told");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(app.slack.calls_to("views.open").is_empty(), "no form for someone who may not edit");
        assert!(history(&app, id).await.is_empty());

        command(&app, 2, IT_MANAGERS[0], "resolve").await;
        assert!(answer(&app, IT_MANAGERS[0], 1).await.starts_with(":white_check_mark:"));
        assert_eq!(history(&app, id).await, [("status".into(), "\"resolved\"".into(), Some(IT_MANAGERS[0].into()))]);
        app.shutdown().await;
    }
}
