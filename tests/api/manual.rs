//! Manual runs: `/switchboard` lists and runs what a person may run, with or without a
//! conversation; a form collects inputs and shows their errors; the message shortcut
//! runs on the message's conversation; the command line runs one too.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reply};
use crate::helpers::fake_slack::{BOT_USER, Failure, IT_MANAGERS, WORKSPACE_ADMIN};
use crate::helpers::interactions::{message_shortcut, submitted};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const ADMIN: &str = "U0ADMIN001";
const THREAD: &str = "1700000000.000100";

pub(crate) const GREET: &str = r#"name = "Greet"
description = "Says hello in #greetings"
[trigger]
type = "manual"
allowed = ["@it-managers"]
[[actions]]
type = "post"
channel = "C0GREET001"
text = "hello from {{actor}}"
"#;

pub(crate) const LAPTOP: &str = r#"name = "Order a laptop"
[trigger]
type = "manual"
inputs = [
  { name = "who", type = "user", label = "For whom" },
  { name = "model", type = "select", options = ["air", "pro"], default = "air" },
  { name = "count", type = "number", min = 1, max = 3 },
  { name = "note", type = "multiline", required = false },
]
[[actions]]
type = "code"
file = "laptop.ts"
"#;

pub(crate) const LAPTOP_TS: &str = r#"export default async function (ctx: any) {
  await slack.postMessage("C0IT000001", `${ctx.inputs.count} × ${ctx.inputs.model} for <@${ctx.inputs.who}>`);
  return ctx.inputs;
}
"#;

const TRIAGE: &str = r#"name = "Triage"
[trigger]
type = "manual"
needs_conversation = true
[[actions]]
type = "reply"
text = "triaged by {{actor}}"
[[actions]]
type = "set_fields"
add_tags = ["triaged"]
"#;

async fn start(backend: crate::helpers::Backend) -> TestApp {
    app(backend)
        .automation("greet", GREET)
        .automation("laptop", LAPTOP)
        .file("laptop.ts", LAPTOP_TS)
        .automation("triage", TRIAGE)
        .env("SWITCHBOARD_ADMINS", ADMIN)
        .spawn()
        .await
}

async fn command(app: &TestApp, user: &str, text: &str) -> String {
    let response = app.post_command(user, SUPPORT_CHANNEL, text).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response_type"], "ephemeral");
    body["text"].as_str().unwrap().to_owned()
}

async fn open_conversation(app: &TestApp) -> i64 {
    app.post_event(&message(
        "EvMSG1",
        SUPPORT_CHANNEL,
        REQUESTER,
        THREAD,
        "VPN is down",
    ))
    .await;
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, THREAD)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn opened_view(app: &TestApp, n: usize) -> Value {
    let calls = app.slack.wait_for("views.open", n, WAIT).await;
    calls[n - 1].json_arg("view")
}

async fn interact(app: &TestApp, payload: &Value) -> Option<Value> {
    let response = app.post_interaction(payload).await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
}

fn ephemeral_texts(app: &TestApp, user: &str) -> Vec<String> {
    app.slack
        .calls_to("chat.postEphemeral")
        .iter()
        .filter(|c| c.arg("user") == user)
        .map(|c| c.arg("text").to_owned())
        .collect()
}

/// The first `n` private answers, as "user text"; each must be in the thread.
async fn thread_answers(app: &TestApp, n: usize) -> Vec<String> {
    let calls = app.slack.wait_for("chat.postEphemeral", n, WAIT).await;
    for c in &calls {
        assert_eq!(c.arg("thread_ts"), THREAD, "{c:?}");
    }
    calls
        .iter()
        .map(|c| format!("{} {}", c.arg("user"), c.arg("text")))
        .collect()
}

/// The run link in a Slack message, as the path and query under the public URL.
fn run_link(text: &str) -> String {
    let start = text
        .find("<https://sb.example.com")
        .unwrap_or_else(|| panic!("no run link in {text}"));
    let url = &text[start + 1..];
    let url = url::Url::parse(&url[..url.find('|').unwrap()]).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap())
}

/// Opens a run link as a browser behind the public URL's proxy would, which strips
/// the `/switchboard` prefix.
async fn get_page(app: &TestApp, link: &str) -> (u16, String) {
    let path = link.strip_prefix("/switchboard").unwrap_or(link);
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    (status, response.text().await.unwrap())
}

on_both_backends! {
    async fn the_command_lists_what_each_person_may_run(backend: Backend) {
        let app = start(backend).await;
        let admin = command(&app, ADMIN, "").await;
        for id in ["`greet`", "`laptop`", "`triage`"] {
            assert!(admin.contains(id), "{admin}");
        }
        assert!(admin.contains("Says hello in #greetings"));
        let manager = command(&app, IT_MANAGERS[0], "list").await;
        assert!(manager.contains("`greet`") && !manager.contains("`laptop`"), "{manager}");
        let stranger = command(&app, AGENT, "").await;
        assert!(stranger.contains("no automations you may run"), "{stranger}");
        let nonsense = command(&app, ADMIN, "dance").await;
        assert!(nonsense.contains("I don't know") && nonsense.contains("run <automation>"), "{nonsense}");
        app.shutdown().await;
    }

    async fn a_run_without_and_with_a_conversation(backend: Backend) {
        let app = start(backend).await;
        let answer = command(&app, IT_MANAGERS[0], "run greet").await;
        assert!(answer.contains("Started *Greet* (run "), "{answer}");
        assert!(answer.contains("`switchboard runs show "), "without a public URL, the CLI follows it: {answer}");
        let post = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(post[0].arg("text"), format!("hello from <@{}>", IT_MANAGERS[0]));
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!((runs[0].trigger_kind.as_str(), runs[0].conversation_id), ("manual", None));
        // The outcome is told where the command was typed.
        app.slack.wait_for("chat.postEphemeral", 1, WAIT).await;
        let told = ephemeral_texts(&app, IT_MANAGERS[0]);
        assert!(told[0].contains("*Greet* finished"), "{told:?}");

        let refused = command(&app, ADMIN, "run triage").await;
        assert!(refused.contains("runs on a conversation"), "{refused}");
        let id = open_conversation(&app).await;
        let answer = command(&app, ADMIN, &format!("run triage {id}")).await;
        assert!(answer.contains("Started *Triage*"), "{answer}");
        app.wait_for_runs_to_finish(WAIT).await;
        let thread = app.slack.thread(THREAD);
        assert_eq!(thread.last().unwrap(), &format!("triaged by <@{ADMIN}>"));
        let mut conn = app.db.reader().acquire().await.unwrap();
        let c = db::conversations::get(&mut conn, id).await.unwrap().unwrap();
        assert_eq!(c.tags, ["triaged"]);
        // A permalink names the conversation too.
        let link = format!("<https://acme-support.slack.com/archives/{SUPPORT_CHANNEL}/p1700000000000100>");
        assert!(command(&app, ADMIN, &format!("run triage {link}")).await.contains("Started"));
        app.shutdown().await;
    }

    async fn people_who_may_not_run_an_automation_are_told(backend: Backend) {
        let app = start(backend).await;
        let refused = command(&app, AGENT, "run greet").await;
        assert!(refused.contains("You may not run *Greet*"), "{refused}");
        let unknown = command(&app, ADMIN, "run nothing").await;
        assert!(unknown.contains("no automation `nothing`"), "{unknown}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(app.runs().await.is_empty());
        app.shutdown().await;
    }

    async fn a_slow_answer_follows_through_the_response_url(backend: Backend) {
        // No admins configured: whether the person may run is asked of Slack, slowly.
        let app = app(backend)
            .automation("triage", TRIAGE)
            .env("SWITCHBOARD_SLACK_TIMEOUT_SECONDS", "10")
            .spawn()
            .await;
        app.slack.fail_next("users.info", Failure::Slow(Duration::from_secs(4)));
        let asked = std::time::Instant::now();
        let answer = command(&app, WORKSPACE_ADMIN, "list").await;
        assert!(asked.elapsed() < Duration::from_secs(3), "answered after {:?}", asked.elapsed());
        assert_eq!(answer, "Working on it…");
        let late = app.slack.wait_for("response_url", 1, WAIT).await;
        assert_eq!(late[0].arg("response_type"), "ephemeral");
        assert!(late[0].arg("text").contains("`triage`"), "{:?}", late[0].args);
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn a_form_slack_does_not_open_is_explained(backend: Backend) {
        let app = start(backend).await;
        app.slack.fail_next("views.open", Failure::Error("expired_trigger_id"));
        assert!(command(&app, ADMIN, "run laptop").await.contains("Opening the form"));
        app.slack.wait_for("chat.postEphemeral", 1, WAIT).await;
        let told = ephemeral_texts(&app, ADMIN);
        assert!(told[0].contains("did not open the form") && told[0].contains("expired_trigger_id"), "{told:?}");
        assert!(app.runs().await.is_empty());
        app.shutdown().await;
    }

    async fn the_form_checks_inputs_and_the_run_receives_them(backend: Backend) {
        let app = start(backend).await;
        let answer = command(&app, ADMIN, "run laptop").await;
        assert!(answer.contains("Opening the form"), "{answer}");
        let view = opened_view(&app, 1).await;
        assert_eq!(app.slack.calls_to("views.open")[0].arg("trigger_id"), "1700000000.111111.command0123456789");
        let blocks: Vec<(String, String)> = view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["block_id"].as_str().unwrap().to_owned(), b["element"]["type"].as_str().unwrap().to_owned()))
            .collect();
        let expected = [("who", "users_select"), ("model", "static_select"), ("count", "number_input"), ("note", "plain_text_input")];
        assert_eq!(blocks, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert_eq!(view["blocks"][1]["element"]["initial_option"]["value"], "air");
        assert_eq!(view["blocks"][3]["optional"], true);

        let errors = interact(&app, &submitted(&view, ADMIN, &[("count", "number_input", "7")])).await.unwrap();
        assert_eq!(errors["response_action"], "errors");
        assert_eq!(errors["errors"]["who"], "required");
        assert_eq!(errors["errors"]["count"], "must be at most 3");
        assert!(app.runs().await.is_empty());

        let valid = submitted(&view, ADMIN, &[("who", "users_select", "U0NEWBIE01"), ("count", "number_input", "2")]);
        assert_eq!(interact(&app, &valid).await, None, "an empty answer closes the form");
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let steps = db::runs::steps(app.db.reader(), runs[0].id).await.unwrap();
        let output: Value = serde_json::from_str(steps[0].output.as_deref().unwrap()).unwrap();
        assert_eq!(output, json!({ "who": "U0NEWBIE01", "model": "air", "count": 2, "note": null }));
        let post = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(post[0].arg("text"), "2 × air for <@U0NEWBIE01>");
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn the_message_shortcut_runs_on_the_conversation(backend: Backend) {
        let app = start(backend).await;
        let id = open_conversation(&app).await;
        assert_eq!(interact(&app, &message_shortcut(ADMIN, SUPPORT_CHANNEL, THREAD)).await, None);
        let picker = opened_view(&app, 1).await;
        let options: Vec<&str> = picker["blocks"][0]["element"]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .collect();
        assert_eq!(options, ["greet", "laptop", "triage"]);

        // An automation with inputs: the picker becomes its form.
        let next = interact(&app, &submitted(&picker, ADMIN, &[("automation", "static_select", "laptop")])).await.unwrap();
        assert_eq!(next["response_action"], "update");
        assert_eq!(next["view"]["callback_id"], "switchboard_run_inputs");

        // One without: it runs on the conversation at once.
        assert_eq!(interact(&app, &submitted(&picker, ADMIN, &[("automation", "static_select", "triage")])).await, None);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].conversation_id, Some(id));
        assert_eq!(app.slack.thread(THREAD).last().unwrap(), &format!("triaged by <@{ADMIN}>"));
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn without_configured_admins_the_workspace_admins_may_run(backend: Backend) {
        let app = app(backend).automation("triage", TRIAGE).spawn().await;
        assert!(command(&app, WORKSPACE_ADMIN, "").await.contains("`triage`"));
        assert!(command(&app, ADMIN, "").await.contains("no automations"));
        // Who may run it still runs it only on conversations of channels they are in.
        let id = open_conversation(&app).await;
        let refused = command(&app, WORKSPACE_ADMIN, &format!("run triage {id}")).await;
        assert!(refused.contains("in a channel you are not in"), "{refused}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(app.runs().await.is_empty());
        app.shutdown().await;
    }

    async fn the_command_line_runs_one_too(backend: Backend) {
        let app = start(backend).await;
        let cli = |args: &[&str]| app.cli(args);
        let bad = cli(&["run", "laptop", "--input", "colour=red", "--input", "who=U0NEWBIE01", "--input", "count=1"]);
        assert!(!bad.status.success());
        assert!(String::from_utf8_lossy(&bad.stderr).contains("`colour`: not an input"), "{}", String::from_utf8_lossy(&bad.stderr));

        let good = cli(&["run", "laptop", "--input", "who=U0NEWBIE01", "--input", "count=3", "--input", "model=pro"]);
        let stdout = String::from_utf8_lossy(&good.stdout);
        assert!(good.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&good.stderr));
        assert!(stdout.contains("queued run") && stdout.contains("SUCCEEDED"), "{stdout}");
        let post = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(post[0].arg("text"), "3 × pro for <@U0NEWBIE01>");
        app.shutdown().await;
    }

    async fn mentioning_the_bot_in_a_thread_runs_on_its_conversation(backend: Backend) {
        let app = start(backend).await;
        let id = open_conversation(&app).await;
        let say = |n: u32, user: &str, text: &str| {
            reply(&format!("EvCMD{n}"), SUPPORT_CHANNEL, user, THREAD, &format!("1700000001.00000{n}"), &format!("<@{BOT_USER}> {text}"))
        };

        let triage = say(1, ADMIN, "run triage");
        assert_eq!(app.post_event(&triage).await.status().as_u16(), 200);
        // The run is queued after Slack's answer: the person is told when it is.
        thread_answers(&app, 1).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!((runs[0].trigger_kind.as_str(), runs[0].conversation_id), ("manual", Some(id)));
        assert_eq!(app.slack.thread(THREAD).last().unwrap(), &format!("triaged by <@{ADMIN}>"));
        let told = thread_answers(&app, 2).await;
        assert!(told[0].starts_with(ADMIN) && told[0].contains("Started *Triage*"), "{told:?}");
        assert!(told[1].contains("*Triage* finished"), "{told:?}");
        // The command is not a message of the conversation.
        let mut conn = app.db.reader().acquire().await.unwrap();
        let c = db::conversations::get(&mut conn, id).await.unwrap().unwrap();
        drop(conn);
        assert_eq!(c.tags, ["triaged"]);
        assert_eq!(app.count("messages").await, 1, "only the request is a message");
        // Slack's retry of the same message starts nothing more.
        assert_eq!(app.post_event_retry(&triage, 1).await.status().as_u16(), 200);

        // Inputs are name=value words; people and channels may be mentioned.
        app.post_event(&say(2, ADMIN, "run laptop who=<@U0NEWBIE01> count=2 model=pro")).await;
        let post = app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        assert_eq!(post[1].arg("text"), "2 × pro for <@U0NEWBIE01>", "after the triage reply");
        app.post_event(&say(3, ADMIN, "run laptop count=9")).await;
        let told = thread_answers(&app, 5).await;
        let refused = told.iter().find(|t| t.contains("was not started")).expect("bad inputs are refused");
        assert!(refused.contains("`who`") && refused.contains("`count`") && refused.contains("shortcut"), "{refused}");

        app.post_event(&say(4, AGENT, "run triage")).await;
        app.post_event(&say(5, IT_MANAGERS[0], "list")).await;
        let told = thread_answers(&app, 7).await;
        assert!(told.iter().any(|t| t.starts_with(AGENT) && t.contains("You may not run *Triage*")), "{told:?}");
        assert!(told.iter().any(|t| t.starts_with(IT_MANAGERS[0]) && t.contains("`greet`") && !t.contains("`laptop`")), "{told:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let runs = app.runs().await;
        assert_eq!(runs.len(), 2, "one triage and one laptop run: {runs:?}");
        // A message that only mentions the bot later on is not a command.
        app.post_event(&reply("EvCMD9", SUPPORT_CHANNEL, AGENT, THREAD, "1700000001.000009", &format!("thanks <@{BOT_USER}>"))).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.slack.calls_to("chat.postEphemeral").len(), 7);
        app.shutdown().await;
    }

    async fn a_manual_run_links_to_a_page_that_follows_it(backend: Backend) {
        let later = "name = \"Later\"\n[trigger]\ntype = \"manual\"\n[[actions]]\ntype = \"wait\"\nfor = \"1d\"\n";
        let app = app(backend)
            .automation("greet", GREET)
            .automation("later", later)
            .env("SWITCHBOARD_ADMINS", ADMIN)
            .env("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com/switchboard")
            .spawn()
            .await;
        let answer = command(&app, ADMIN, "run greet").await;
        let link = run_link(&answer);
        app.wait_for_runs_to_finish(WAIT).await;
        let page = get_page(&app, &link).await;
        assert_eq!(page.0, 200);
        for shown in ["Greet", "succeeded", "post", "This link works until"] {
            assert!(page.1.contains(shown), "{shown} missing from {}", page.1);
        }
        assert!(!page.1.contains("http-equiv=\"refresh\""), "a finished run's page stays still");
        // The outcome message links to the page too.
        app.slack.wait_for("chat.postEphemeral", 1, WAIT).await;
        let told = ephemeral_texts(&app, ADMIN);
        assert!(told[0].contains("*Greet* finished (<https://sb.example.com/switchboard/runs/"), "{told:?}");

        // A waiting run's page says what it waits for and refreshes itself.
        let link = run_link(&command(&app, ADMIN, "run later").await);
        app.wait_for_status("waiting", WAIT).await;
        let page = get_page(&app, &link).await;
        assert!(page.1.contains("waiting") && page.1.contains("http-equiv=\"refresh\""), "{}", page.1);

        // Any change to the link opens nothing, and says so the same way.
        let (path, query) = link.split_once('?').unwrap();
        let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        let key_at = query.find("key=").unwrap() + 4;
        let flipped = if &query[key_at..key_at + 1] == "0" { "1" } else { "0" };
        let forged = [
            format!("{path}?{}{flipped}{}", &query[..key_at], &query[key_at + 1..]),
            format!("{}/{}?{query}", path.rsplit_once('/').unwrap().0, id - 1),
            path.to_owned(),
            format!("{path}?until=9999999999&{}", &query[query.find("key=").unwrap()..]),
            "/switchboard/runs/not-a-number?until=1&key=00".to_owned(),
        ];
        for forged in forged {
            let (status, body) = get_page(&app, &forged).await;
            assert_eq!(status, 404, "{forged}");
            assert!(body.contains("does not open a run"), "{body}");
        }
        app.shutdown().await;
    }

    async fn a_command_with_a_bad_signature_is_refused(backend: Backend) {
        let app = start(backend).await;
        let response = app
            .client
            .post(app.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", app.clock.now().timestamp().to_string())
            .header("x-slack-signature", "v0=0000")
            .body("command=%2Fswitchboard&text=run+greet&user_id=U0ADMIN001&channel_id=C1&trigger_id=1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(app.runs().await.is_empty());
        app.shutdown().await;
    }
}
