//! TypeScript actions end to end: the host API through the fake Slack and the fake
//! Jira, Okta and Google; errors with TypeScript lines; retries; the shipped examples.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::db;

use crate::helpers::events::{
    AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added, team_join,
};
use crate::helpers::fake_vendors::{GOOGLE_ACCESS_TOKEN, JIRA_EMAIL, JIRA_TOKEN, OKTA_TOKEN};
use crate::helpers::{FakeVendors, TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const TS: &str = "1700000000.000100";

fn reacting(emoji: &str, steps: &str) -> String {
    format!("[trigger]\ntype = \"reaction_added\"\nemoji = \"{emoji}\"\n{steps}")
}

fn code_step(file: &str) -> String {
    format!("[[actions]]\ntype = \"code\"\nfile = \"{file}\"\n")
}

async fn open_and_react(app: &TestApp, emoji: &str) {
    assert_eq!(
        app.post_event(&message(
            "EvMSG1",
            SUPPORT_CHANNEL,
            REQUESTER,
            TS,
            "VPN is down\nfor everyone"
        ))
        .await
        .status()
        .as_u16(),
        200
    );
    assert_eq!(
        app.post_event(&reaction_added(
            "EvREACT1",
            AGENT,
            emoji,
            SUPPORT_CHANNEL,
            TS
        ))
        .await
        .status()
        .as_u16(),
        200
    );
}

async fn step_outputs(app: &TestApp, run_id: i64) -> Vec<Value> {
    db::runs::steps(app.db.reader(), run_id)
        .await
        .unwrap()
        .iter()
        .map(|s| {
            s.output
                .as_deref()
                .map_or(Value::Null, |o| serde_json::from_str(o).unwrap())
        })
        .collect()
}

async fn log_text(app: &TestApp, run_id: i64) -> String {
    db::runs::log_lines(app.db.reader(), run_id)
        .await
        .unwrap()
        .iter()
        .map(|l| format!("{} {}", l.level, l.message))
        .collect::<Vec<_>>()
        .join("\n")
}

const HOST_TOUR: &str = r#"import type { Context } from "./switchboard";

export default async function (ctx: Context) {
  if (ctx.trigger.kind !== "reaction_added") throw new Error("wrong trigger");
  console.log("tour for", ctx.trigger.emoji, "by", ctx.trigger.actor);
  console.warn({ step: ctx.run.step, previous: ctx.steps[0] });
  const c = ctx.conversation!;
  const reply = await slack.reply(`Looking at *${c.title}*`);
  await slack.postMessage("C0LEADS001", "heads up", { threadTs: "1699999999.000001" });
  await slack.dm(ctx.trigger.actor!, "thanks for flagging");
  await slack.react("eyes");
  const who = await slack.usersInfo(c.requester);
  const found = await slack.lookupUserByEmail("ada@acme.example");
  const missing = await slack.lookupUserByEmail("nobody@elsewhere.example");
  const info = await slack.call("conversations.info", { channel: c.channel });
  const updated = await c.update({ priority: "high", addTags: ["scripted"] });
  return {
    replyTs: reply.ts,
    requesterEmail: who.profile.email,
    found: found.id,
    missing,
    info: info.ok,
    priority: updated.priority,
    localPriority: c.priority,
    tags: c.tags,
    workspace: ctx.workspace!.teamId,
    run: [ctx.run.automation, ctx.run.attempt, ctx.run.step],
  };
}
"#;

on_both_backends! {
    async fn a_script_uses_the_host_api_and_later_steps_see_its_work(backend: Backend) {
        let steps = format!(
            "[[actions]]\ntype = \"react\"\nemoji = \"white_check_mark\"\n{}[[actions]]\ntype = \"reply\"\ntext = \"now {{{{priority}}}}, tags {{{{tags}}}}\"\n",
            code_step("host-tour.ts")
        );
        let announce = "[trigger]\ntype = \"conversation_updated\"\nfields = [\"priority\"]\n[[actions]]\ntype = \"post\"\nchannel = \"C0LEADS001\"\ntext = \"{{title}} is now {{priority}}\"\n";
        let app = app(backend)
            .automation("tour", &reacting("mag", &steps))
            .automation("announce", announce)
            .file("host-tour.ts", HOST_TOUR)
            .spawn()
            .await;
        open_and_react(&app, "mag").await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let tour = runs.iter().find(|r| r.automation_id == "tour").unwrap();
        assert_eq!(tour.status, "succeeded", "{}", log_text(&app, tour.id).await);

        let outputs = step_outputs(&app, tour.id).await;
        let out = &outputs[1];
        assert_eq!(out["requesterEmail"], "ada@acme.example");
        assert_eq!(out["found"], "U0ADA00001");
        assert_eq!(out["missing"], Value::Null);
        assert_eq!(out["info"], true);
        assert_eq!(out["priority"], "high");
        assert_eq!(out["localPriority"], "high", "update() refreshes ctx.conversation");
        assert_eq!(out["tags"], json!(["scripted"]));
        assert_eq!(out["workspace"], "T0TEST");
        assert_eq!(out["run"], json!(["tour", 1, 1]));

        // What reached Slack.
        let posts = app.slack.calls_to("chat.postMessage");
        let reply = posts.iter().find(|c| c.arg("text") == "Looking at *VPN is down*").unwrap();
        assert_eq!((reply.arg("channel"), reply.arg("thread_ts")), (SUPPORT_CHANNEL, TS));
        assert!(posts.iter().any(|c| c.arg("channel") == "C0LEADS001" && c.arg("thread_ts") == "1699999999.000001"));
        assert!(posts.iter().any(|c| c.arg("channel") == format!("D{AGENT}") && c.arg("text") == "thanks for flagging"));
        let reactions = app.slack.calls_to("reactions.add");
        assert!(reactions.iter().any(|c| c.arg("name") == "eyes" && c.arg("timestamp") == TS));
        assert_eq!(app.slack.calls_to("users.info")[0].arg("user"), REQUESTER);
        assert_eq!(app.slack.calls_to("conversations.info")[0].arg("channel"), SUPPORT_CHANNEL);

        // The built-in step after the script sees the script's change…
        let last = app.slack.wait_for("chat.postMessage", 5, WAIT).await;
        assert!(last.iter().any(|c| c.arg("text") == "now high, tags scripted"), "{last:#?}");
        // …and the change triggered conversation_updated like any other.
        assert!(runs.iter().any(|r| r.automation_id == "announce" && r.depth == 1));
        assert!(last.iter().any(|c| c.arg("text") == "VPN is down is now high"));

        // The console is in the run's log.
        let log = log_text(&app, tour.id).await;
        assert!(log.contains("info step 1 console: tour for mag by U0AGENT001"), "{log}");
        assert!(log.contains("warn step 1 console: {\"step\":1,\"previous\":{\"channel\":\"C0SUPPORT1\""), "{log}");
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn a_thrown_error_fails_the_step_with_its_typescript_line(backend: Backend) {
        let script = "import type { Context } from \"./switchboard\";\n\ninterface Shape { a: number }\n\nexport default async function (ctx: Context) {\n  const s: Shape = { a: 1 };\n  console.error('about to fail');\n  if (s.a === 1) {\n    throw new TypeError(`bad shape for ${ctx.conversation!.id}`);\n  }\n}\n";
        let app = app(backend)
            .automation("fails", &reacting("boom", &code_step("fails.ts")))
            .file("fails.ts", script)
            .spawn()
            .await;
        open_and_react(&app, "boom").await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "failed");
        let error = runs[0].error.clone().unwrap_or_default();
        assert!(error.contains("TypeError: bad shape for 1 (at fails.ts:9)"), "{error}");
        assert_eq!(runs[0].attempt, 1, "a plain error is not retried");
        let log = log_text(&app, runs[0].id).await;
        assert!(log.contains("error step 0 console: about to fail"), "{log}");
        app.shutdown().await;
    }

    async fn a_retryable_error_retries_the_step(backend: Backend) {
        let script = "export default async function (ctx: any) {\n  if (ctx.run.attempt === 1) throw new RetryableError('not yet', { retryAfterSeconds: 0.2 });\n  return { attempt: ctx.run.attempt };\n}\n";
        let app = app(backend)
            .automation("later", &reacting("later", &code_step("later.ts")))
            .file("later.ts", script)
            .spawn()
            .await;
        open_and_react(&app, "later").await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].attempt, 2);
        assert_eq!(step_outputs(&app, runs[0].id).await[0], json!({ "attempt": 2 }));
        let log = log_text(&app, runs[0].id).await;
        assert!(log.contains("RetryableError: not yet") && log.contains("retrying in"), "{log}");
        app.shutdown().await;
    }

    async fn critical_conversations_become_jira_issues(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = app(backend)
            .example("escalate-bangbang")
            .example("critical-to-jira")
            .vendors(&vendors)
            .spawn()
            .await;
        // Jira is down at first: the script's step is retried.
        vendors.fail_next("jira", 503);
        open_and_react(&app, "bangbang").await;
        let issues = loop {
            let runs = app.wait_for_runs_to_finish(WAIT).await;
            if runs.iter().any(|r| r.automation_id == "critical-to-jira") {
                break runs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let run = issues.iter().find(|r| r.automation_id == "critical-to-jira").unwrap();
        assert_eq!(run.status, "succeeded", "{}", log_text(&app, run.id).await);
        assert_eq!(run.attempt, 2);

        let calls = vendors.calls_to("/rest/api/3/issue");
        assert_eq!(calls.len(), 2, "one refused, one created");
        let created = &calls[1];
        assert_eq!(created.method, "POST");
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
        assert_eq!(created.headers["authorization"], format!("Basic {basic}"));
        let fields = &created.body["fields"];
        assert_eq!(fields["project"]["key"], "OPS");
        assert_eq!(fields["issuetype"]["name"], "Bug");
        assert_eq!(fields["priority"]["name"], "Highest");
        assert_eq!(fields["summary"], "[support] VPN is down");
        assert!(fields["description"]["content"].to_string().contains("https://acme-support.slack.com/archives/C0SUPPORT1/p1700000000000100"));
        assert!(vendors.violations().is_empty(), "{:?}", vendors.violations());

        let reply = app.slack.wait_for("chat.postMessage", 3, WAIT).await;
        assert!(reply.iter().any(|c| c.arg("text").contains("Filed as <") && c.arg("text").contains("|OPS-1>") && c.arg("thread_ts") == TS), "{reply:#?}");
        let mut conn = app.db.reader().acquire().await.unwrap();
        let c = db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, TS).await.unwrap().unwrap();
        assert!(c.tags.contains(&"jira:OPS-1".to_owned()), "{:?}", c.tags);
        app.shutdown().await;
    }

    async fn a_refused_jira_issue_is_reported_in_the_thread(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = app(backend)
            .example("escalate-bangbang")
            .example("critical-to-jira")
            .vendors(&vendors)
            .spawn()
            .await;
        vendors.fail_next("jira", 400);
        open_and_react(&app, "bangbang").await;
        let run = loop {
            let runs = app.wait_for_runs_to_finish(WAIT).await;
            if let Some(r) = runs.into_iter().find(|r| r.automation_id == "critical-to-jira") {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(run.status, "failed");
        assert_eq!(run.attempt, 1);
        assert!(run.error.as_deref().unwrap_or_default().contains("Jira refused the request (400"), "{:?}", run.error);
        let posts = app.slack.calls_to("chat.postMessage");
        assert!(posts.iter().any(|c| c.arg("text").starts_with(":warning: Could not file a Jira issue")), "{posts:#?}");
        app.shutdown().await;
    }

    async fn okta_and_google_helpers_speak_the_vendor_apis(backend: Backend) {
        let script = r#"import type { Context } from "./switchboard";
export default async function (ctx: Context) {
  if (ctx.trigger.kind !== "user_joined") throw new Error("wrong trigger");
  const email = ctx.trigger.user.email!;
  const user = await okta.getUser(email);
  const reset = await okta.resetPassword(email, { sendEmail: false });
  const first = await google.groups.addMember("engineering@acme.example", email);
  const again = await google.groups.addMember("engineering@acme.example", email);
  const manager = await google.groups.addMember("leads@acme.example", email, { role: "MANAGER" });
  let missing = "";
  try { await okta.getUser("nobody@acme.example"); } catch (e) { missing = (e as Error).message; }
  return { id: user.id, url: reset.resetPasswordUrl, first: first.alreadyMember, again: again.alreadyMember, role: manager.role, missing };
}
"#;
        let vendors = FakeVendors::start().await;
        let app = app(backend)
            .automation("joiner", &format!("[trigger]\ntype = \"user_joined\"\n{}", code_step("joiner.ts")))
            .file("joiner.ts", script)
            .vendors(&vendors)
            .spawn()
            .await;
        app.post_event(&team_join("EvJOIN1", "U0NEWBIE01", "ada@acme.example", "Engineer")).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{}", log_text(&app, runs[0].id).await);
        let out = &step_outputs(&app, runs[0].id).await[0];
        assert_eq!(out["id"], "00ub0oNGTSWTBKOLGLNR");
        assert!(out["url"].as_str().unwrap().starts_with("https://acme.okta.com/reset_password/"));
        assert_eq!((out["first"].clone(), out["again"].clone()), (json!(false), json!(true)));
        assert_eq!(out["role"], "MANAGER");
        assert!(out["missing"].as_str().unwrap().contains("Okta has no user"), "{out}");

        // Okta: SSWS token, JSON, the user's id (not the login) in the lifecycle path.
        let reset = &vendors.calls_to("/api/v1/users/00ub0oNGTSWTBKOLGLNR/lifecycle/reset_password")[0];
        assert_eq!(reset.method, "POST");
        assert_eq!(reset.headers["authorization"], format!("SSWS {OKTA_TOKEN}"));
        assert_eq!(reset.query["sendEmail"], "false");
        // Google: one token exchange (a verified JWT), then bearer calls with {email, role}.
        assert_eq!(vendors.calls_to("/token").len(), 1, "the access token is cached");
        let inserts = vendors.calls_to("/admin/directory/v1/groups/");
        assert_eq!(inserts[0].path, "/admin/directory/v1/groups/engineering@acme.example/members");
        assert_eq!(inserts[0].headers["authorization"], format!("Bearer {GOOGLE_ACCESS_TOKEN}"));
        assert_eq!(inserts[0].body, json!({ "email": "ada@acme.example", "role": "MEMBER" }));
        assert!(vendors.violations().is_empty(), "{:?}", vendors.violations());
        app.shutdown().await;
    }

    async fn the_status_check_example_retries_a_flaky_status_page(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let status_url = format!("{}status.json", vendors.url());
        let app = app(backend)
            .example_with("status-check", &[("https://www.githubstatus.com/api/v2/status.json", &status_url)])
            .env("SWITCHBOARD_HTTP_ALLOW", "127.0.0.1")
            .spawn()
            .await;
        vendors.status_answers(vec![(503, json!({})), (502, json!({}))]);
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, TS, "Is GitHub down for anyone?")).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{}", log_text(&app, runs[0].id).await);
        assert_eq!(vendors.calls_to("/status.json").len(), 3);
        let posts = app.slack.wait_for("chat.postMessage", 1, WAIT).await;
        assert_eq!(posts[0].arg("text"), ":large_green_circle: Status page says: *All Systems Operational* (https://status.example)");
        let log = log_text(&app, runs[0].id).await;
        assert!(log.contains("status page answered 503 Service Unavailable (attempt 1 of 3)"), "{log}");
        app.shutdown().await;
    }

    async fn the_escalation_script_example_escalates(backend: Backend) {
        let app = app(backend)
            .example_with("escalate-bangbang-script", &[("enabled = false", "enabled = true")])
            .spawn()
            .await;
        open_and_react(&app, "bangbang").await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{}", log_text(&app, runs[0].id).await);
        let posts = app.slack.calls_to("chat.postMessage");
        assert!(posts[0].arg("text").starts_with("<!subteam^S0ONCALL01> :rotating_light: <@U0AGENT001> escalated *VPN is down*"));
        assert_eq!(posts[1].arg("thread_ts"), TS);
        let mut conn = app.db.reader().acquire().await.unwrap();
        let c = db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, TS).await.unwrap().unwrap();
        assert_eq!(c.priority.as_str(), "critical");
        app.shutdown().await;
    }
}
