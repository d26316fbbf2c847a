//! Automation files are reloaded when they change; each content is a version, runs
//! record theirs, and a broken edit keeps the last good version in force.

use std::time::{Duration, Instant};

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);

fn react_with(emoji: &str, text: &str) -> String {
    format!(
        "[trigger]\ntype = \"reaction_added\"\nemoji = \"{emoji}\"\n[[actions]]\ntype = \"reply\"\ntext = \"{text}\"\n"
    )
}

async fn wait_until_in_force(app: &TestApp, id: &str, version: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        // Observable from outside: a run records the version it matched.
        let current = app
            .runs()
            .await
            .into_iter()
            .find(|r| r.automation_id == id)
            .map(|r| r.automation_version);
        if current == Some(version) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "version {version} of {id} never ran (last: {current:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn react(app: &TestApp, n: &mut u32) {
    *n += 1;
    let event = reaction_added(
        &format!("EvR{n}"),
        AGENT,
        "pray",
        SUPPORT_CHANNEL,
        "1700000000.000100",
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

on_both_backends! {
    async fn edits_are_picked_up_and_broken_edits_keep_the_last_good_version(backend: Backend) {
        let app = app(backend).automation("thanks", &react_with("pray", "v1")).spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "help")).await;
        let file = app.automations.path().join("thanks.toml");
        let mut n = 0;
        react(&app, &mut n).await;
        wait_until_in_force(&app, "thanks", 1).await;

        // A valid edit becomes version 2.
        std::fs::write(&file, react_with("pray", "v2")).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            react(&app, &mut n).await;
            let latest = app.runs().await[0].automation_version;
            if latest == 2 { break; }
            assert!(Instant::now() < deadline, "the edit was not picked up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // A broken edit: version 2 stays in force.
        std::fs::write(&file, "[trigger\n").unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        react(&app, &mut n).await;
        let latest = &app.runs().await[0];
        assert_eq!(latest.automation_version, 2);

        // A new file is picked up too.
        std::fs::write(app.automations.path().join("more.toml"), react_with("pray", "more")).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            react(&app, &mut n).await;
            if app.runs().await.iter().any(|r| r.automation_id == "more") { break; }
            assert!(Instant::now() < deadline, "the new file was not picked up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        app.wait_for_runs_to_finish(WAIT).await;
        let texts: Vec<String> = app.slack.calls_to("chat.postMessage").iter().map(|c| c.arg("text").to_owned()).collect();
        assert!(texts.contains(&"v1".to_owned()) && texts.contains(&"v2".to_owned()) && texts.contains(&"more".to_owned()), "{texts:?}");
        app.shutdown().await;
    }
}
