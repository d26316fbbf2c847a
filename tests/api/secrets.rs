//! Secrets: the command line, key rotation, Cloud KMS (and its outages), the declaration
//! rule, and a canary that must never appear in anything switchboard records or says.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use switchboard::config::SecretsConfig;
use switchboard::db::Db;
use switchboard::secrets::kms::KmsConfig;
use switchboard::secrets::{SecretStore, open_provider};

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::fake_kms::{FakeKms, KEY};
use crate::helpers::{FakeSlack, FakeVendors, TestDatabase, app};
use crate::on_both_backends;

fn switchboard(args: &[&str], env: &[(&str, String)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(args).env_clear().env("RUST_LOG", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn kms_store(db: &Db, kms: &FakeKms) -> SecretStore {
    let config = SecretsConfig::GcpKms(KmsConfig {
        key: KEY.into(),
        endpoint: Some(kms.endpoint()),
        use_default_credentials: false,
    });
    SecretStore::new(db.clone(), open_provider(&config).await.unwrap())
}

on_both_backends! {
    async fn the_command_line_stores_lists_rotates_and_deletes(backend: Backend) {
        use std::os::unix::fs::PermissionsExt;
        let database = TestDatabase::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("switchboard.key");
        let env = vec![
            ("DATABASE_URL", database.url.clone()),
            ("SWITCHBOARD_SECRET_KEY_FILE", key_file.display().to_string()),
        ];
        let set = switchboard(&["secrets", "set", "OKTA_API_TOKEN", "--by", "ada"], &env, Some("00aBcD-okta-token-value\n"));
        assert!(set.status.success(), "{}", text(&set.stderr));
        assert!(text(&set.stdout).contains("OKTA_API_TOKEN version 1 stored"));
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        switchboard(&["secrets", "set", "OKTA_API_TOKEN", "--by", "grace"], &env, Some("00aBcD-okta-token-v2"));
        switchboard(&["secrets", "set", "JIRA_API_TOKEN"], &env, Some("jira-token-value-1"));

        let list = text(&switchboard(&["secrets", "list"], &env, None).stdout);
        assert!(list.contains("OKTA_API_TOKEN") && list.contains("v2") && list.contains("by grace"), "{list}");
        assert!(list.contains("JIRA_API_TOKEN"), "{list}");
        assert!(!list.contains("okta-token") && !list.contains("jira-token-value"), "values never print: {list}");
        // Nothing readable at rest.
        let db = Db::connect(&switchboard::config::DatabaseConfig {
            url: database.url.clone(),
            sqlite_sync: switchboard::config::SqliteSync::Full,
            max_connections: 2,
        })
        .await
        .unwrap();
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT ciphertext FROM secrets").fetch_all(db.reader()).await.unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|c| !String::from_utf8_lossy(c).contains("token")));

        // Values come from standard input only; an empty one is refused.
        let empty = switchboard(&["secrets", "set", "EMPTY_ONE"], &env, Some(""));
        assert!(!empty.status.success());
        assert!(text(&empty.stderr).contains("standard input"), "{}", text(&empty.stderr));

        // Rotation: every data key re-wrapped under a new key; values unchanged.
        let old_key = std::fs::read_to_string(&key_file).unwrap();
        let rotate = switchboard(&["secrets", "rotate-key"], &env, None);
        assert!(rotate.status.success(), "{}", text(&rotate.stderr));
        assert!(text(&rotate.stdout).contains("re-wrapped the data keys of 3 secret version(s)"));
        assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key);
        let config = SecretsConfig::Local { key_file: key_file.clone(), key: None };
        let store = SecretStore::new(db.clone(), open_provider(&config).await.unwrap());
        assert_eq!(store.get("*", "OKTA_API_TOKEN").await.unwrap().unwrap().expose(), "00aBcD-okta-token-v2");
        assert_eq!(store.get("T0TEST", "JIRA_API_TOKEN").await.unwrap().unwrap().expose(), "jira-token-value-1");

        // A key file others can read is refused.
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = switchboard(&["secrets", "list"], &env, None);
        assert!(!refused.status.success());
        assert!(text(&refused.stderr).contains("readable by others"), "{}", text(&refused.stderr));
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

        let delete = switchboard(&["secrets", "delete", "JIRA_API_TOKEN"], &env, None);
        assert!(delete.status.success());
        assert!(store.get("*", "JIRA_API_TOKEN").await.unwrap().is_none());
        db.close().await;
    }

    async fn cloud_kms_wraps_the_keys_and_an_outage_fails_closed(backend: Backend) {
        let kms = FakeKms::start().await;
        let database = TestDatabase::create(backend).await;
        let db = Db::connect(&switchboard::config::DatabaseConfig {
            url: database.url.clone(),
            sqlite_sync: switchboard::config::SqliteSync::Full,
            max_connections: 2,
        })
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let store = kms_store(&db, &kms).await;
        store.set("*", "OKTA_API_TOKEN", b"okta-token-through-kms", "tests", 1).await.unwrap();
        store.set("*", "JIRA_API_TOKEN", b"jira-token-through-kms", "tests", 1).await.unwrap();
        assert_eq!(store.get("*", "OKTA_API_TOKEN").await.unwrap().unwrap().expose(), "okta-token-through-kms");
        assert!(kms.calls() >= 3, "the data keys went through KMS");

        // A wrapped key moved to another secret does not unwrap (KMS checks the AAD).
        sqlx::query("UPDATE secrets SET wrapped_key = (SELECT wrapped_key FROM secrets WHERE name = 'JIRA_API_TOKEN') WHERE name = 'OKTA_API_TOKEN'")
            .execute(&mut *db.write().await.unwrap())
            .await
            .unwrap();
        let err = store.get("*", "OKTA_API_TOKEN").await.unwrap_err();
        assert!(!err.is_transient(), "{err}");

        // An outage: no value, a clear transient error.
        kms.set_down(true);
        let err = store.get("*", "JIRA_API_TOKEN").await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("unavailable"), "{err}");
        kms.set_down(false);
        assert!(store.get("*", "JIRA_API_TOKEN").await.is_ok());
        db.close().await;
    }

    async fn a_run_needing_a_secret_during_a_kms_outage_is_retried(backend: Backend) {
        let kms = FakeKms::start().await;
        let script = "export default async function () {\n  const v = await secrets.get('API_KEY');\n  return { length: v.length };\n}\n";
        let app = app(backend)
            .env("SWITCHBOARD_SECRETS_PROVIDER", "gcp-kms")
            .env("SWITCHBOARD_KMS_KEY", KEY)
            .env("SWITCHBOARD_KMS_ENDPOINT", &kms.endpoint())
            .env("SWITCHBOARD_KMS_CREDENTIALS", "anonymous")
            .secret("API_KEY", "a-key-that-lives-in-kms")
            .automation("reader", "secrets = [\"API_KEY\"]\n[trigger]\ntype = \"reaction_added\"\n[[actions]]\ntype = \"code\"\nfile = \"reader.ts\"\n")
            .file("reader.ts", script)
            .spawn()
            .await;
        kms.set_down(true);
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "x")).await;
        app.post_event(&reaction_added("EvR1", AGENT, "key", SUPPORT_CHANNEL, "1700000000.000100")).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let runs = app.runs().await;
            if runs.first().is_some_and(|r| r.attempt >= 1 && r.status == "queued") {
                break;
            }
            assert!(Instant::now() < deadline, "the run was not requeued: {runs:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let queued = &app.runs().await[0];
        assert!(queued.error.as_deref().unwrap_or_default().contains("unavailable"), "{:?}", queued.error);
        kms.set_down(false);
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(30)).await;
        assert_eq!(runs[0].status, "succeeded", "{:?}", runs[0].error);
        assert!(runs[0].attempt >= 2);
        app.shutdown().await;
    }

    async fn scripts_read_only_declared_secrets(backend: Backend) {
        let script = "export default async function () {\n  const name = ['OTHER', 'SECRET'].join('_');\n  return await secrets.get(name);\n}\n";
        let app = app(backend)
            .secret("OTHER_SECRET", "something-private-here")
            .automation("nosy", "secrets = [\"MY_SECRET\"]\n[trigger]\ntype = \"reaction_added\"\n[[actions]]\ntype = \"code\"\nfile = \"nosy.ts\"\n")
            .file("nosy.ts", script)
            .spawn()
            .await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "x")).await;
        app.post_event(&reaction_added("EvR1", AGENT, "eyes", SUPPORT_CHANNEL, "1700000000.000100")).await;
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
        assert_eq!(runs[0].status, "failed");
        let error = runs[0].error.clone().unwrap_or_default();
        assert!(error.contains("does not declare OTHER_SECRET"), "{error}");
        app.shutdown().await;
    }
}

#[test]
fn check_reports_literal_reads_of_undeclared_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("reader.toml"),
        "secrets = [\"DECLARED\", \"not a name\"]\n[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"code\"\nfile = \"reader.ts\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("reader.ts"),
        "export default async function () {\n  await secrets.get(\"DECLARED\");\n  return await secrets.get(\"UNDECLARED\");\n}\n",
    )
    .unwrap();
    let output = switchboard(&["check", dir.path().to_str().unwrap()], &[], None);
    let out = text(&output.stdout);
    assert!(!output.status.success());
    assert!(
        out.contains("reader.toml:1:24:") && out.contains("not a secret name"),
        "{out}"
    );
    assert!(
        out.contains("reader.ts:3:29: the script reads the secret UNDECLARED"),
        "{out}"
    );
    assert!(
        !out.contains("the secret DECLARED"),
        "a declared read is fine: {out}"
    );
}

/// A minimal base64 for the canary script (Boa has no btoa).
const BASE64_TS: &str = r#"function base64(s: string): string {
  const t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let out = "";
  for (let i = 0; i < s.length; i += 3) {
    const n = (s.charCodeAt(i) << 16) | ((s.charCodeAt(i + 1) || 0) << 8) | (s.charCodeAt(i + 2) || 0);
    out += t[(n >> 18) & 63] + t[(n >> 12) & 63] + (i + 1 < s.length ? t[(n >> 6) & 63] : "=") + (i + 2 < s.length ? t[n & 63] : "=");
  }
  return out;
}
"#;

const CANARY: &str = "canary-7c1f0e2d/Secret+Value=?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_never_appears_in_records_logs_or_answers() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let slack = FakeSlack::start().await;
    let vendors = FakeVendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let automations = dir.path().join("automations");
    std::fs::create_dir(&automations).unwrap();
    std::fs::write(
        automations.join("canary.toml"),
        "secrets = [\"CANARY\"]\n[trigger]\ntype = \"reaction_added\"\n[[actions]]\ntype = \"code\"\nfile = \"canary.ts\"\n",
    )
    .unwrap();
    let script = format!(
        "{BASE64_TS}\nexport default async function (ctx: any) {{\n  const v = await secrets.get(\"CANARY\");\n  console.log(\"the secret is\", v);\n  console.warn(\"encoded\", encodeURIComponent(v), base64(v), JSON.stringify({{ v }}));\n  await http.fetch(\"{}status.json\", {{ method: \"POST\", body: JSON.stringify({{ token: v }}) }});\n  if (ctx.trigger.emoji === \"boom\") throw new Error(\"failed with \" + v);\n  return {{ echoed: v, nested: [v + \"!\"], b64: base64(v) }};\n}}\n",
        vendors.url()
    );
    std::fs::write(automations.join("canary.ts"), script).unwrap();
    let db_url = format!("sqlite://{}/switchboard.db", dir.path().display());
    let key_file = dir.path().join("switchboard.key");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("DATABASE_URL", db_url.clone()),
        (
            "SWITCHBOARD_SECRET_KEY_FILE",
            key_file.display().to_string(),
        ),
        (
            "SLACK_SIGNING_SECRET",
            crate::helpers::SIGNING_SECRET.to_owned(),
        ),
        (
            "SLACK_BOT_TOKEN",
            crate::helpers::fake_slack::TOKEN.to_owned(),
        ),
        ("SLACK_API_URL", slack.api_url()),
        ("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}")),
        ("SWITCHBOARD_AUTOMATIONS", automations.display().to_string()),
        ("SWITCHBOARD_HTTP_ALLOW", "127.0.0.1".to_owned()),
        ("SWITCHBOARD_MAX_ATTEMPTS", "1".to_owned()),
        (
            "RUST_LOG",
            "trace,hyper=info,h2=info,reqwest=info,rustls=info".to_owned(),
        ),
    ];
    let set = switchboard(&["secrets", "set", "CANARY"], &env, Some(CANARY));
    assert!(set.status.success(), "{}", text(&set.stderr));

    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.arg("serve").env_clear();
    for (k, v) in &env {
        command.env(k, v);
    }
    let server = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut answers = String::new();
    let post = |event: serde_json::Value| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let body = serde_json::to_vec(&event).unwrap();
            let ts = chrono::Utc::now().timestamp().to_string();
            let sig = switchboard::slack::signature::sign(
                crate::helpers::SIGNING_SECRET.as_bytes(),
                &ts,
                &body,
            );
            let response = client
                .post(format!("{base}/slack/events"))
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            let headers = format!("{:?}", response.headers());
            format!("{headers} {}", response.text().await.unwrap())
        }
    };
    answers += &post(message(
        "EvMSG1",
        SUPPORT_CHANNEL,
        REQUESTER,
        "1700000000.000100",
        "help",
    ))
    .await;
    answers += &post(reaction_added(
        "EvR1",
        AGENT,
        "eyes",
        SUPPORT_CHANNEL,
        "1700000000.000100",
    ))
    .await;
    answers += &post(reaction_added(
        "EvR2",
        AGENT,
        "boom",
        SUPPORT_CHANNEL,
        "1700000000.000100",
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while vendors.calls_to("/status.json").len() < 2 {
        assert!(Instant::now() < deadline, "the script never called out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list_env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", db_url.clone()),
        (
            "SWITCHBOARD_SECRET_KEY_FILE",
            key_file.display().to_string(),
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = text(&switchboard(&["runs", "list", "--json"], &list_env, None).stdout);
        if list.lines().count() == 2
            && list
                .lines()
                .all(|l| l.contains("\"succeeded\"") || l.contains("\"failed\""))
        {
            break;
        }
        assert!(Instant::now() < deadline, "runs did not finish: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answers += &client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut shown = String::new();
    for id in ["1", "2"] {
        shown += &text(&switchboard(&["runs", "show", id], &list_env, None).stdout);
        shown += &text(&switchboard(&["runs", "show", id, "--json"], &list_env, None).stdout);
    }
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let server = server.wait_with_output().unwrap();
    let logs = text(&server.stderr) + &text(&server.stdout);

    // The script really had the secret: the fake server received it.
    let sent = vendors.calls_to("/status.json");
    assert!(
        sent[0].body.to_string().contains("canary-7c1f0e2d"),
        "{:?}",
        sent[0].body
    );
    // And the records say it was there, without saying what it was.
    assert!(shown.contains("[secret CANARY]"), "{shown}");
    assert!(shown.contains("failed with [secret CANARY]"), "{shown}");
    assert!(logs.len() > 1000, "the server logged little: {logs}");

    let forms = [
        CANARY.to_owned(),
        "canary-7c1f0e2d".to_owned(),
        STANDARD.encode(CANARY),
        url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect::<String>(),
        "canary-7c1f0e2d%2FSecret%2BValue%3D%3F".to_owned(),
    ];
    let db = Db::connect(&switchboard::config::DatabaseConfig {
        url: db_url,
        sqlite_sync: switchboard::config::SqliteSync::Full,
        max_connections: 2,
    })
    .await
    .unwrap();
    let mut records = String::new();
    for table_sql in [
        "SELECT COALESCE(error, '') || trigger_json FROM runs",
        "SELECT COALESCE(output, '') || COALESCE(error, '') FROM run_steps",
        "SELECT message FROM run_log",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(table_sql)
            .fetch_all(db.reader())
            .await
            .unwrap();
        records += &rows.join("\n");
    }
    for form in &forms {
        for (what, haystack) in [
            ("run records", &records),
            ("runs show", &shown),
            ("server logs", &logs),
            ("HTTP answers", &answers),
        ] {
            assert!(
                !haystack.contains(form.as_str()),
                "{form:?} leaked into {what}"
            );
        }
    }
}
