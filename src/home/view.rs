//! The Block Kit of the Home tab (pure): what the person may run, the requests waiting
//! for their decision, the conversations assigned to them, their last runs, and for
//! admins the runs that failed in the last day.
//! <https://api.slack.com/surfaces/app-home>

use serde_json::Value;
use slack_morphism::blocks::{
    SlackBlock, SlackBlockButtonElement, SlackDividerBlock, SlackHeaderBlock, SlackHomeView,
    SlackSectionBlock, SlackSectionBlockElement, SlackView,
};

use crate::approvals::blocks;
use crate::conversations::Conversation;
use crate::db::approvals::ApprovalRecord;
use crate::db::runs::RunRecord;
use crate::manual::home::HOME_RUN;
use crate::slack::kit::{self, plain, section};

/// A run as the tab lists it, with its page's link when there is a public URL.
#[derive(Debug, Clone)]
pub struct ListedRun {
    /// The run.
    pub run: RunRecord,
    /// Its automation's name.
    pub name: String,
    /// Its signed page.
    pub link: Option<String>,
}

/// Everything the tab shows one person.
#[derive(Debug, Clone, Default)]
pub struct HomeData {
    /// Automations they may run: (id, name, description).
    pub runnable: Vec<(String, String, Option<String>)>,
    /// Requests they may decide.
    pub approvals: Vec<ApprovalRecord>,
    /// Open and pending conversations assigned to them.
    pub assigned: Vec<Conversation>,
    /// Their last runs.
    pub runs: Vec<ListedRun>,
    /// For admins: runs that failed in the last 24 hours.
    pub failed: Option<Vec<ListedRun>>,
    /// Set when Slack could not say what they may run.
    pub problem: Option<String>,
}

fn header(text: &str) -> SlackBlock {
    SlackHeaderBlock::new(plain(text, 150)).into()
}

fn divider() -> SlackBlock {
    SlackDividerBlock::new().into()
}

fn none(text: &str) -> SlackBlock {
    kit::context(text)
}

/// A section with a Run button for automation `id`.
fn runnable(id: &str, text: &str) -> SlackBlock {
    let SlackBlock::Section(block) = section(text) else {
        unreachable!("section() makes sections")
    };
    let run = SlackBlockButtonElement::new(plain("Run", 75))
        .with_action_id(HOME_RUN.into())
        .with_value(id.to_owned());
    SlackSectionBlock {
        accessory: Some(SlackSectionBlockElement::Button(run)),
        ..block
    }
    .into()
}

fn status_icon(status: &str) -> &'static str {
    match status {
        "succeeded" => ":white_check_mark:",
        "failed" => ":x:",
        "waiting" => ":hourglass_flowing_sand:",
        "running" => ":arrow_forward:",
        _ => ":clock3:",
    }
}

fn run_lines(runs: &[ListedRun]) -> String {
    runs.iter()
        .map(|r| {
            let name = match &r.link {
                Some(link) => format!("<{link}|{}>", r.name),
                None => r.name.clone(),
            };
            let error = r
                .run
                .error
                .as_deref()
                .filter(|_| r.run.status == "failed")
                .map(|e| format!(": {}", e.chars().take(150).collect::<String>()))
                .unwrap_or_default();
            format!(
                "{} *{name}* (run {}) {}{error}",
                status_icon(&r.run.status),
                r.run.id,
                r.run.status
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// At most this many of each list: a Home tab holds at most 100 blocks.
pub const MAX_LISTED: usize = 10;

/// The tab.
pub fn view(data: &HomeData) -> Value {
    let mut out = vec![header("Run an automation")];
    if let Some(problem) = &data.problem {
        out.push(none(&format!(":warning: {problem}")));
    } else if data.runnable.is_empty() {
        out.push(none("There are no automations you may run by hand."));
    }
    for (id, name, description) in data.runnable.iter().take(MAX_LISTED) {
        let text = match description {
            Some(d) => format!("*{name}*\n{d}"),
            None => format!("*{name}*"),
        };
        out.push(runnable(id, &text));
    }

    out.push(divider());
    out.push(header("Waiting for your decision"));
    if data.approvals.is_empty() {
        out.push(none("Nothing is waiting for you."));
    }
    for record in data.approvals.iter().take(5) {
        out.extend(blocks::request_blocks(record, &[]));
    }

    out.push(divider());
    out.push(header("Assigned to you"));
    if data.assigned.is_empty() {
        out.push(none("No open conversation is assigned to you."));
    } else {
        let lines: Vec<String> = data
            .assigned
            .iter()
            .take(MAX_LISTED)
            .map(|c| {
                format!(
                    "<{}|#{} {}> · {} · {}",
                    c.permalink, c.id, c.title, c.status, c.priority
                )
            })
            .collect();
        out.push(section(&lines.join("\n")));
    }

    out.push(divider());
    out.push(header("Your recent runs"));
    if data.runs.is_empty() {
        out.push(none("You have not started any run yet."));
    } else {
        out.push(section(&run_lines(&data.runs)));
    }

    if let Some(failed) = &data.failed {
        out.push(divider());
        out.push(header("Failed in the last 24 hours"));
        if failed.is_empty() {
            out.push(none("No run failed."));
        } else {
            out.push(section(&run_lines(failed)));
        }
    }
    kit::json(&SlackView::Home(SlackHomeView::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_sees_what_they_may_run_and_no_failures() {
        let data = HomeData {
            runnable: vec![(
                "laptop".into(),
                "Order a laptop".into(),
                Some("For new hires".into()),
            )],
            ..Default::default()
        };
        let view = view(&data);
        assert_eq!(view["type"], "home");
        let blocks = view["blocks"].as_array().unwrap();
        assert_eq!(blocks[1]["accessory"]["action_id"], HOME_RUN);
        assert_eq!(blocks[1]["accessory"]["value"], "laptop");
        assert!(
            blocks[1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("For new hires")
        );
        let text = view.to_string();
        assert!(!text.contains("Failed in the last 24 hours"));
        assert!(text.contains("Nothing is waiting for you"));
        assert!(blocks.len() <= 100);
    }

    fn failed_run(id: i64, error: &str) -> ListedRun {
        ListedRun {
            run: RunRecord {
                id,
                automation_id: "laptop".into(),
                automation_version: 1,
                event_id: "Ev1".into(),
                trigger_kind: "manual".into(),
                trigger_json: "{}".into(),
                conversation_id: None,
                depth: 0,
                status: "failed".into(),
                attempt: 1,
                run_after: 0,
                error: Some(error.into()),
                created_at: 0,
                started_at: Some(0),
                finished_at: Some(0),
                waiting_for: None,
                wait_deadline: None,
            },
            name: "Order a laptop".into(),
            link: Some("https://sb.example.com/runs/7?key=k".into()),
        }
    }

    #[test]
    fn failed_runs_show_their_error_and_link() {
        let data = HomeData {
            failed: Some(vec![failed_run(7, &"boom ".repeat(100))]),
            ..Default::default()
        };
        let text = view(&data).to_string();
        assert!(
            text.contains(
                ":x: *<https://sb.example.com/runs/7?key=k|Order a laptop>* (run 7) failed: boom"
            ),
            "{text}"
        );
        assert!(!text.contains(&"boom ".repeat(40)), "errors are cut");
    }

    #[test]
    fn an_admin_sees_the_failures_even_when_there_are_none() {
        let data = HomeData {
            failed: Some(Vec::new()),
            problem: Some("switchboard could not check".into()),
            ..Default::default()
        };
        let text = view(&data).to_string();
        assert!(text.contains("Failed in the last 24 hours") && text.contains("No run failed"));
        assert!(text.contains(":warning: switchboard could not check"));
    }
}
