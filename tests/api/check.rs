//! The command line: `check` reports every broken file with file, line and column;
//! `runs list|show` explain what happened; `schema` matches the committed schema.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::app;
use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::on_both_backends;

fn switchboard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn check_reports_time_rules_with_position_and_says_what_an_answer_is() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap()
    };
    let reply = "[[actions]]\ntype = \"reply\"\ntext = \"x\"\n";
    write(
        "calendars/emea.toml",
        "timezone = \"Europe/Berlin\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
    );
    write(
        "slas/10-critical.toml",
        "[applies_to]\npriority = [\"critical\"]\n[first_response]\nwithin = \"15m\"\nbusiness_hours = \"emea\"\n",
    );
    write(
        "unanswered.toml",
        &format!(
            "[trigger]\ntype = \"no_response\"\nafter = \"30m\"\nbusiness_hours = \"emea\"\n{reply}"
        ),
    );
    write(
        "apac.toml",
        &format!(
            "[trigger]\ntype = \"no_response\"\nafter = \"30m\"\nbusiness_hours = \"apac\"\n{reply}"
        ),
    );
    write(
        "soon.toml",
        &format!("[trigger]\ntype = \"idle\"\nafter = \"soon\"\n{reply}"),
    );
    write(
        "late.toml",
        &format!("[trigger]\ntype = \"sla_breached\"\ntarget = \"resolution\"\n{reply}"),
    );
    write(
        "slas/20-high.toml",
        "[applies_to]\npriority = [\"high\"]\n[resolution]\nwithin = \"1x\"\n",
    );

    let output = switchboard(&["check", dir.path().to_str().unwrap()], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let path = |name: &str| dir.path().join(name).display().to_string();
    for expected in [
        format!(
            "{}:4:18: there is no calendar \"apac\": the calendars are: emea",
            path("apac.toml")
        ),
        format!("{}:3:9: \"soon\" is not a duration", path("soon.toml")),
        format!(
            "{}:4:10: \"1x\" is not a duration",
            path("slas/20-high.toml")
        ),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    // With the policy file fixed, the SLA trigger's target is checked against it.
    write(
        "slas/20-high.toml",
        "[applies_to]\npriority = [\"high\"]\n[next_reply]\nwithin = \"1h\"\n",
    );
    let text = stdout(&switchboard(&["check", dir.path().to_str().unwrap()], &[]));
    let expected = format!(
        "{}:3:10: no SLA policy has a resolution target",
        path("late.toml")
    );
    assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    assert!(
        text.contains("a reply in the thread by a member of the support team"),
        "{text}"
    );
}

#[test]
fn check_reports_every_broken_file_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "good.toml",
        "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"hi {{requester}}\"\n",
    );
    write("syntax.toml", "[trigger\ntype = \"conversation_created\"\n");
    write(
        "unknown-action.toml",
        "[trigger]\ntype = \"conversation_created\"\n\n[[actions]]\ntype = \"shout\"\n",
    );
    write(
        "bad-template.toml",
        "[trigger]\ntype = \"user_joined\"\n[[actions]]\ntype = \"dm\"\nuser = \"{{user.id}}\"\ntext = \"Hi {{nmae}}, see {{permalink}}\"\n",
    );
    write("notes.txt", "not an automation");

    let output = switchboard(&["check", dir.path().to_str().unwrap()], &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let expected = [
        format!("{}:1:9: ", path("syntax.toml")),
        format!(
            "{}:5:8: unknown variant `shout`",
            path("unknown-action.toml")
        ),
        format!("{}:6:14: unknown field `nmae`", path("bad-template.toml")),
        format!(
            "{}:6:28: `permalink` has no value for user_joined triggers",
            path("bad-template.toml")
        ),
    ];
    for line in &expected {
        assert!(
            text.lines().any(|l| l.starts_with(line.as_str())),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(!text.contains("good.toml"), "{text}");
    assert!(text.contains("1 of 4 file(s) OK"), "{text}");
}

#[test]
fn the_shipped_examples_check_out() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("automations");
    let output = switchboard(&["check", dir.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", stdout(&output));
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/automation.schema.json"),
    )
    .unwrap();
    let output = switchboard(&["schema"], &[]);
    assert!(output.status.success());
    assert!(
        stdout(&output) == committed,
        "schema/automation.schema.json is stale: run `switchboard schema > schema/automation.schema.json`"
    );
}

#[test]
fn a_missing_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let output = switchboard(
        &["serve"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("SLACK_SIGNING_SECRET", ""),
            ("SLACK_BOT_TOKEN", ""),
        ],
    );
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("SLACK_SIGNING_SECRET is not set"), "{err}");
    let output = switchboard(&["serve"], &[("SWITCHBOARD_LISTEN", "not-an-address")]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("SWITCHBOARD_LISTEN"), "{err}");
}

on_both_backends! {
    async fn runs_list_and_show_explain_a_run(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "VPN down")).await;
        app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, "1700000000.000100")).await;
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(15)).await;
        let id = runs[0].id.to_string();
        let url = app.config.database.url.clone();
        let env = [("DATABASE_URL", url.as_str())];

        let list = switchboard(&["runs", "list"], &env);
        let text = stdout(&list);
        assert!(list.status.success(), "{text}");
        assert!(text.contains("escalate-bangbang v1") && text.contains("succeeded"), "{text}");

        let show = switchboard(&["runs", "show", &id], &env);
        let text = stdout(&show);
        assert!(show.status.success(), "{text}");
        for expected in ["SUCCEEDED", "reaction_added", "EvREACT1", "set_fields", "page", "reply", "attempt 1 started", "\"emoji\": \"bangbang\""] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        let json = switchboard(&["runs", "show", &id, "--json"], &env);
        let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(value["steps"][1]["output"]["channel"], "C" .to_owned() + "ONCALL");
        let missing = switchboard(&["runs", "show", "999999"], &env);
        assert!(!missing.status.success());
        app.shutdown().await;
    }
}
