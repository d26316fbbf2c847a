//! `http.fetch`'s address policy, through a real script: private, loopback, link-local
//! and metadata addresses are refused however they are written, after DNS resolution,
//! and on every redirect; an operator's allow-list opens exactly what it names.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;
use switchboard::db;

use crate::helpers::app;
use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::on_both_backends;

/// A web server on 127.0.0.2 (the only address the test allows), with redirects.
async fn allowed_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let redirect = |to: String| {
        move || {
            let to = to.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
        }
    };
    let app = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/to-private", get(redirect("http://10.0.0.1/".into())))
        .route(
            "/to-metadata",
            get(redirect("http://169.254.169.254/latest/meta-data/".into())),
        )
        .route(
            "/to-loopback",
            get(redirect(format!("http://127.0.0.1:{port}/ok"))),
        )
        .route("/to-ok", get(redirect("/ok".into())));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

on_both_backends! {
    async fn fetch_refuses_private_addresses_however_written(backend: Backend) {
        let port = allowed_server().await;
        let refused = [
            format!("http://127.0.0.1:{port}/ok"),
            "http://10.0.0.1/".into(),
            "http://172.16.0.1/".into(),
            "http://172.31.255.254/".into(),
            "http://192.168.1.1/".into(),
            "http://169.254.169.254/latest/meta-data/".into(),
            "http://[::1]/".into(),
            "http://[::ffff:127.0.0.1]/".into(),
            "http://[::ffff:a9fe:a9fe]/".into(),
            "http://[fd00:ec2::254]/".into(),
            "http://2130706433/".into(),
            "http://0x7f000001/".into(),
            "http://017700000001/".into(),
            "http://127.1/".into(),
            format!("http://localhost:{port}/ok"),
            format!("http://127.0.0.2:{port}/to-private"),
            format!("http://127.0.0.2:{port}/to-metadata"),
            format!("http://127.0.0.2:{port}/to-loopback"),
        ];
        let allowed = [format!("http://127.0.0.2:{port}/ok"), format!("http://127.0.0.2:{port}/to-ok")];
        let urls: Vec<String> = refused.iter().chain(allowed.iter()).cloned().collect();
        let script = format!(
            r#"const URLS: string[] = {};
export default async function () {{
  const out: Record<string, string> = {{}};
  for (const url of URLS) {{
    try {{
      const r = await http.fetch(url, {{ timeoutMs: 3000 }});
      out[url] = `${{r.status}} ${{await r.text()}} ${{r.redirected}}`;
    }} catch (e) {{
      out[url] = `${{(e as Error).name}}: ${{(e as Error).message}}`;
    }}
  }}
  return out;
}}
"#,
            serde_json::to_string(&urls).unwrap()
        );
        let app = app(backend)
            .automation("fetcher", "[trigger]\ntype = \"reaction_added\"\n[[actions]]\ntype = \"code\"\nfile = \"fetcher.ts\"\n")
            .file("fetcher.ts", &script)
            .env("SWITCHBOARD_HTTP_ALLOW", "127.0.0.2")
            .spawn()
            .await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, "1700000000.000100", "x")).await;
        app.post_event(&reaction_added("EvR1", AGENT, "eyes", SUPPORT_CHANNEL, "1700000000.000100")).await;
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(30)).await;
        assert_eq!(runs[0].status, "succeeded", "{:?}", runs[0].error);
        let steps = db::runs::steps(app.db.reader(), runs[0].id).await.unwrap();
        let out: Value = serde_json::from_str(steps[0].output.as_deref().unwrap()).unwrap();
        for url in &refused {
            let got = out[url].as_str().unwrap_or_default();
            assert!(got.starts_with("TypeError: http.fetch refused"), "{url} → {got}");
        }
        assert_eq!(out[&allowed[0]], "200 fine false");
        assert_eq!(out[&allowed[1]], "200 fine true");
        let metadata = out["http://169.254.169.254/latest/meta-data/"].as_str().unwrap();
        assert!(metadata.contains("link-local") && metadata.contains("http.allow"), "{metadata}");
        app.shutdown().await;
    }
}
