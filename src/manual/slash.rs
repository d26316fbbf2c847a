//! `/switchboard [list | run ID [conversation]]`: the slash command, answered within
//! Slack's 3 seconds.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::modal::Origin;
use super::{ManualDesk, UserError, start};
use crate::slack::commands::SlashCommand;

impl ManualDesk {
    /// Answers `/switchboard [list | run ID [conversation]]` with an ephemeral message,
    /// within Slack's 3 seconds: when the work takes longer (Slack slow to say who may
    /// run what), the answer says so and the outcome follows through `response_url`.
    pub async fn command(&self, command: SlashCommand) -> Value {
        let response_url = command.response_url.clone();
        let desk = self.clone();
        let mut work = tokio::spawn(async move { desk.answer_command(command).await });
        match tokio::time::timeout(COMMAND_DEADLINE, &mut work).await {
            Ok(answer) => answer.unwrap_or_else(|e| {
                tracing::error!(error = %e, "slash command failed");
                json!({ "response_type": "ephemeral", "text": ":warning: switchboard failed to answer; try again." })
            }),
            Err(_) => {
                let slack = self.env.slack.clone();
                tokio::spawn(async move {
                    let Ok(answer) = work.await else { return };
                    let Some(url) = response_url else { return };
                    if let Err(e) = slack.respond(&url, &answer).await {
                        tracing::warn!(error = %e, "could not answer a slash command late");
                    }
                });
                json!({ "response_type": "ephemeral", "text": "Working on it…" })
            }
        }
    }

    async fn answer_command(&self, command: SlashCommand) -> Value {
        let words: Vec<&str> = command.text.split_whitespace().collect();
        let text = match words.as_slice() {
            [] | ["list"] | ["help"] => self.list(&command.user, usage(&command.command)).await,
            ["run", id, rest @ ..] => self.run_command(&command, id, rest).await,
            _ => Ok(format!(
                "I don't know `{} {}`.\n{}",
                command.command,
                command.text.trim(),
                usage(&command.command)
            )),
        };
        let text = text.unwrap_or_else(|e| format!(":warning: {e}"));
        json!({ "response_type": "ephemeral", "text": text })
    }

    async fn run_command(
        &self,
        command: &SlashCommand,
        id: &str,
        rest: &[&str],
    ) -> Result<String, UserError> {
        let automation = self.automation(id)?;
        self.check_allowed(&command.user, &automation).await?;
        let conversation = match rest {
            [] => None,
            [reference] => Some(self.conversation(reference).await?),
            _ => return Err(UserError(usage(&command.command))),
        };
        if let Some(c) = &conversation {
            self.check_can_see(&command.user, c).await?;
        }
        let origin = Origin {
            automation: Some(automation.automation.id.clone()),
            conversation: conversation.as_ref().map(|c| c.id),
            channel: Some(command.channel.clone()),
            source: "slash_command".into(),
        };
        if self.has_inputs(&automation) {
            self.open_form(&automation, &origin, &command.trigger_id, &command.user);
            return Ok(format!(
                "Opening the form of *{}*…",
                automation.automation.name
            ));
        }
        let run = start(
            &self.env,
            &automation,
            self.request(&command.user, BTreeMap::new(), conversation, &origin),
        )
        .await?;
        Ok(self.started(&automation, run))
    }
}

/// How long a slash command's answer may take before it is sent late instead (Slack
/// shows an error after 3 seconds).
const COMMAND_DEADLINE: std::time::Duration = std::time::Duration::from_millis(2500);

fn usage(command: &str) -> String {
    format!(
        "Use `{command}` to list what you may run, and `{command} run <automation> [conversation number or link]` to run one."
    )
}
