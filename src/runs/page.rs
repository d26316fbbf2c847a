//! The page a run link opens: what the run did, refreshed by the browser until it ends.
//! Plain HTML with inline styles and no scripts; everything from the database is
//! escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use super::RunEnv;
use super::report::{RunReport, facts};
use crate::approvals::audit::summary;
use crate::clock::format_ms;

/// Seconds between refreshes while the run has not ended.
const REFRESH_SECS: u32 = 5;

/// Step results longer than this are cut on the page (`runs show` has them whole).
const MAX_RESULT_CHARS: usize = 2000;

/// Answers run links.
#[derive(Debug, Clone)]
pub struct RunPages {
    env: Arc<RunEnv>,
}

impl RunPages {
    /// Pages over the run queue's database and automations.
    pub fn new(env: Arc<RunEnv>) -> Self {
        Self { env }
    }

    /// The page of run `id` when `until` and `key` make a valid link to it; `None` for
    /// a wrong, expired or revoked link and for a run that does not exist, alike.
    pub async fn page(&self, id: i64, until: i64, key: &str) -> sqlx::Result<Option<String>> {
        if !self.env.links.check(id, until, key, self.env.clock.now()) {
            return Ok(None);
        }
        let Some(report) = RunReport::load(&self.env.db, id).await? else {
            return Ok(None);
        };
        let name = self
            .env
            .registry
            .version(&report.run.automation_id, report.run.automation_version)
            .map_or_else(|| report.run.automation_id.clone(), |a| a.name.clone());
        Ok(Some(html(&report, &name, until)))
    }
}

/// The page shown for a link that does not open anything.
pub fn not_found() -> String {
    document(
        "switchboard",
        false,
        "<h1>This link does not open a run</h1>\
         <p>It may have expired (links last a week) or been revoked. Start the run again, \
         or ask an operator for <code>switchboard runs show &lt;run id&gt;</code>.</p>",
    )
}

fn html(report: &RunReport, name: &str, until: i64) -> String {
    let r = &report.run;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{} <span class=\"status {status}\">{status}</span></h1><p class=\"sub\">run {}</p><dl>",
        escape(name),
        r.id,
        status = escape(&r.status),
    );
    for (label, value) in facts(r) {
        let _ = write!(body, "<dt>{label}</dt><dd>{}</dd>", escape(&value));
    }
    body.push_str("</dl><h2>Steps</h2>");
    if report.steps.is_empty() {
        body.push_str("<p class=\"sub\">No step has run yet.</p>");
    } else {
        body.push_str(
            "<table><tr><th>#</th><th>Action</th><th>Status</th><th>Attempts</th><th>Time</th><th>Result</th></tr>",
        );
        for s in &report.steps {
            let result = s.error.as_deref().or(s.output.as_deref()).unwrap_or("");
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"{status}\">{status}</td><td>{}</td><td>{}&nbsp;ms</td><td><code>{}</code></td></tr>",
                s.index + 1,
                escape(&s.action),
                s.attempts,
                s.finished_at - s.started_at,
                escape(&cut(result)),
                status = escape(&s.status),
            );
        }
        body.push_str("</table>");
    }
    if !report.approvals.is_empty() {
        body.push_str("<h2>Approvals</h2>");
        for (a, votes) in &report.approvals {
            let _ = write!(body, "<pre>{}</pre>", escape(&summary(a, votes)));
        }
    }
    body.push_str("<h2>Log</h2>");
    if report.log.is_empty() {
        body.push_str("<p class=\"sub\">Nothing logged yet.</p>");
    } else {
        body.push_str("<table>");
        for l in &report.log {
            let _ = write!(
                body,
                "<tr><td class=\"when\">{}</td><td class=\"{level}\">{level}</td><td>{}</td></tr>",
                escape(&format_ms(l.at)),
                escape(&l.message),
                level = escape(&l.level),
            );
        }
        body.push_str("</table>");
    }
    let live = !report.finished();
    let _ = write!(
        body,
        "<footer>{}This link works until {}.</footer>",
        if live {
            "This page refreshes itself until the run ends. "
        } else {
            ""
        },
        escape(&format_ms(until * 1000)),
    );
    document(&format!("Run {} · {name}", r.id), live, &body)
}

fn document(title: &str, refresh: bool, body: &str) -> String {
    let refresh = if refresh {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">")
    } else {
        String::new()
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{refresh}<title>{} — switchboard</title>\
         <style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f7f7f8;color:#1d1c1d}\
main{max-width:60rem;margin:2rem auto;padding:0 1rem}h1{font-size:1.5rem;margin:0}\
h2{font-size:1.1rem;margin-top:2rem}.sub,footer{color:#616061}footer{margin-top:2rem;font-size:.85rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#616061}dd{margin:0}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #e8e8e8;\
padding:.35rem .5rem;text-align:left;vertical-align:top}td code{white-space:pre-wrap;word-break:break-word}\
pre{background:#fff;padding:.6rem;white-space:pre-wrap}.when{white-space:nowrap;color:#616061}\
.status{font-size:.8rem;padding:.1rem .5rem;border-radius:1rem;background:#e8e8e8;vertical-align:middle}\
.succeeded{color:#007a5a}.failed,.error{color:#e01e5a}.warn,.waiting{color:#b07b00}";

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_RESULT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_database_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn long_results_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_RESULT_CHARS + 5);
        let shown = cut(&long);
        assert_eq!(shown.chars().count(), MAX_RESULT_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(cut("short"), "short");
    }
}
