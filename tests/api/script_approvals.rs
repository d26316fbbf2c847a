//! `approvals.request` in TypeScript: the script waits without a sandbox, runs again
//! after the decision, and what it did before the request is not done twice.

use std::time::Duration;

use serde_json::Value;
use switchboard::db;

use crate::helpers::events::{REQUESTER, SUPPORT_CHANNEL, message};
use crate::helpers::fake_slack::IT_MANAGERS;
use crate::helpers::interactions::{click, posted_requests};
use crate::helpers::{FakeVendors, TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const THREAD: &str = "1700000000.000100";

const AUTOMATION: &str =
    "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"code\"\nfile = \"ask.ts\"\n";

const ASK: &str = r#"import type { Context } from "./switchboard";
export default async function (ctx: Context) {
  await slack.reply("Asking the IT managers");
  const asked = await kv.increment("asked");
  console.log("before the approval");
  const decision = await approvals.request({
    approvers: ["@it-managers"],
    title: `Reset the password of <@${ctx.conversation!.requester}>`,
    expiresIn: "1h",
  });
  console.log(`after the approval: ${decision.decision}`);
  if (decision.decision === "approved") {
    const user = await slack.usersInfo(ctx.conversation!.requester);
    await okta.resetPassword(user.profile.email);
    await slack.reply(`Reset, as ${decision.decidedBy} approved`);
  } else {
    await slack.reply("Not reset");
  }
  return { decision: decision.decision, asked };
}
"#;

async fn start(backend: crate::helpers::Backend, script: &str, vendors: &FakeVendors) -> TestApp {
    let app = app(backend)
        .automation("ask", AUTOMATION)
        .file("ask.ts", script)
        .vendors(vendors)
        .spawn()
        .await;
    let response = app
        .post_event(&message(
            "EvMSG1",
            SUPPORT_CHANNEL,
            REQUESTER,
            THREAD,
            "Please reset my password",
        ))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    app
}

fn replies(app: &TestApp) -> Vec<String> {
    app.slack.thread(THREAD)
}

async fn log(app: &TestApp, run_id: i64) -> String {
    db::runs::log_lines(app.db.reader(), run_id)
        .await
        .unwrap()
        .iter()
        .map(|l| l.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

on_both_backends! {
    async fn a_script_waits_for_its_approval_and_does_nothing_twice(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = start(backend, ASK, &vendors).await;
        app.wait_for_status("waiting", WAIT).await;
        let requests = posted_requests(&app.slack);
        assert_eq!(requests.len(), 2);
        assert_eq!(replies(&app), ["Asking the IT managers"]);
        // The journal is stored sealed: no plaintext of what the script saw.
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT ciphertext FROM script_journals")
            .fetch_one(app.db.reader())
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("Asking"));

        app.post_interaction(&click(&requests[0], IT_MANAGERS[0], true)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{}", log(&app, runs[0].id).await);
        let steps = db::runs::steps(app.db.reader(), runs[0].id).await.unwrap();
        let output: Value = serde_json::from_str(steps[0].output.as_deref().unwrap()).unwrap();
        assert_eq!(output["decision"], "approved");
        assert_eq!(output["asked"], 1, "kv.increment ran once");

        let replies = replies(&app);
        assert_eq!(replies.iter().filter(|r| *r == "Asking the IT managers").count(), 1, "{replies:?}");
        assert_eq!(replies.last().unwrap(), &format!("Reset, as {} approved", IT_MANAGERS[0]));
        assert_eq!(vendors.calls_to("/api/v1/users/00ub0oNGTSWTBKOLGLNR/lifecycle/reset_password").len(), 1);
        let log = log(&app, runs[0].id).await;
        assert_eq!(log.matches("before the approval").count(), 1, "{log}");
        assert_eq!(log.matches("after the approval: approved").count(), 1, "{log}");
        assert!(log.contains("waits for approval"), "{log}");
        app.shutdown().await;
    }

    async fn a_waiting_script_survives_a_key_rotation_and_a_restart(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let mut app = start(backend, ASK, &vendors).await;
        app.wait_for_status("waiting", WAIT).await;
        let requests = posted_requests(&app.slack);

        let rotate = app.cli(&["secrets", "rotate-key"]);
        assert!(rotate.status.success(), "{}", String::from_utf8_lossy(&rotate.stderr));
        app.kill_and_restart_with(&[]).await;

        app.post_interaction(&click(&requests[1], IT_MANAGERS[1], true)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{}", log(&app, runs[0].id).await);
        assert_eq!(replies(&app).iter().filter(|r| *r == "Asking the IT managers").count(), 1);
        app.shutdown().await;
    }

    async fn a_script_that_takes_another_path_after_its_approval_fails_clearly(backend: Backend) {
        let script = r#"export default async function () {
  await kv.set("started", Date.now());
  await approvals.request({ approvers: ["U0ITMGR001"], title: "Go?" });
  return "done";
}
"#;
        let vendors = FakeVendors::start().await;
        let app = start(backend, script, &vendors).await;
        app.wait_for_status("waiting", WAIT).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let requests = posted_requests(&app.slack);
        app.post_interaction(&click(&requests[0], IT_MANAGERS[0], true)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "failed");
        let error = runs[0].error.clone().unwrap_or_default();
        assert!(error.contains("took another path"), "{error}");
        assert!(error.contains("host call #1 was kv.set"), "{error}");
        app.shutdown().await;
    }
}
