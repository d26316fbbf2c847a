//! The forms of manual runs: the "Run automation" shortcut's picker and the inputs
//! form, opened with `views.open` and answered on `view_submission`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use slack_morphism::blocks::{SlackModalView, SlackView};

use super::modal::{self, Origin};
use super::{ManualDesk, inputs, start};
use crate::automations::VersionedAutomation;
use crate::slack::client::object;
use crate::slack::interactions::Interaction;
use crate::slack::kit;

impl ManualDesk {
    /// Handles the message shortcut, the Home tab's Run buttons and the submissions of
    /// the picker and the form.
    pub async fn handle(&self, interaction: Interaction) -> anyhow::Result<Option<Value>> {
        match interaction {
            Interaction::MessageShortcut {
                user,
                trigger_id,
                channel,
                message_ts,
                thread_ts,
                ..
            } => {
                // Answered at once; the picker opens after (the trigger id lives 3 s).
                let desk = self.clone();
                tokio::spawn(async move {
                    let thread = thread_ts.as_deref().unwrap_or(&message_ts);
                    desk.shortcut(&user, &trigger_id, &channel, thread).await;
                });
                Ok(None)
            }
            Interaction::Submission {
                callback_id,
                private_metadata,
                user,
                values,
                ..
            } => {
                let Some(origin) = Origin::decode(&private_metadata) else {
                    return Ok(Some(close_with_error(
                        "This form is out of date; start again.",
                    )));
                };
                let answer = match callback_id.as_str() {
                    modal::PICK => self.picked(&user, origin, &values).await,
                    _ => self.submitted(&user, origin, &values).await,
                };
                Ok(answer)
            }
            Interaction::Button {
                action_id,
                value,
                user,
                trigger_id,
                ..
            } if action_id == super::home::HOME_RUN => {
                // Answered at once; the form opens after (the trigger id lives 3 s).
                let desk = self.clone();
                tokio::spawn(async move {
                    desk.home_run(&user, trigger_id.as_deref(), &value).await;
                });
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    async fn shortcut(&self, user: &str, trigger_id: &str, channel: &str, thread_ts: &str) {
        let conversation = match self.tracked(channel, thread_ts).await {
            Ok(c) => c,
            Err(e) => return self.tell(user, channel, &e.0).await,
        };
        let runnable = match self.runnable_by(user).await {
            Ok(r) => r,
            Err(e) => return self.tell(user, channel, &e.0).await,
        };
        if runnable.is_empty() {
            return self
                .tell(
                    user,
                    channel,
                    "There are no automations you may run by hand.",
                )
                .await;
        }
        let Some(conversation) = conversation else {
            return self
                .tell(user, channel, "This message is not part of a conversation switchboard tracks, so there is nothing to run on.")
                .await;
        };
        let origin = Origin {
            automation: None,
            conversation: Some(conversation.id),
            channel: Some(channel.to_owned()),
            source: "shortcut".into(),
        };
        let automations: Vec<_> = runnable.iter().map(|a| a.automation.as_ref()).collect();
        self.open_view(
            trigger_id,
            modal::picker(&automations, &origin),
            user,
            channel,
        )
        .await;
    }

    async fn picked(
        &self,
        user: &str,
        mut origin: Origin,
        values: &std::collections::HashMap<String, String>,
    ) -> Option<Value> {
        let id = values.get(modal::AUTOMATION).cloned().unwrap_or_default();
        let automation = match self.automation(&id) {
            Ok(a) => a,
            Err(e) => return Some(field_error(modal::AUTOMATION, &e.0)),
        };
        if let Err(e) = self.check_allowed(user, &automation).await {
            return Some(field_error(modal::AUTOMATION, &e.0));
        }
        origin.automation = Some(id);
        if self.has_inputs(&automation) {
            let rule = automation.automation.trigger.manual.as_ref()?;
            let view = modal::inputs_form(&automation.automation, &rule.inputs, &origin);
            return Some(kit::replace_form(view));
        }
        self.start_from_form(
            user,
            &automation,
            BTreeMap::new(),
            origin,
            modal::AUTOMATION,
        )
        .await
    }

    async fn submitted(
        &self,
        user: &str,
        origin: Origin,
        values: &std::collections::HashMap<String, String>,
    ) -> Option<Value> {
        let id = origin.automation.clone().unwrap_or_default();
        let automation = match self.automation(&id) {
            Ok(a) => a,
            Err(e) => return Some(close_with_error(&e.0)),
        };
        let rule = automation.automation.trigger.manual.as_ref()?;
        let given: BTreeMap<String, Value> =
            values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        if let Err(problems) = inputs::validate(&rule.inputs, &given) {
            return Some(modal::errors(&problems));
        }
        if let Err(e) = self.check_allowed(user, &automation).await {
            return Some(close_with_error(&e.0));
        }
        let first = rule
            .inputs
            .first()
            .map(|i| i.name.clone())
            .unwrap_or_default();
        self.start_from_form(user, &automation, given, origin, &first)
            .await
    }

    /// Starts the run of a submitted view; closes it, or shows why on `block`.
    async fn start_from_form(
        &self,
        user: &str,
        automation: &VersionedAutomation,
        given: BTreeMap<String, Value>,
        origin: Origin,
        block: &str,
    ) -> Option<Value> {
        let conversation = match origin.conversation {
            Some(id) => match self.conversation_by_id(id).await {
                Ok(c) => Some(c),
                Err(e) => return Some(field_error(block, &e.0)),
            },
            None => None,
        };
        let request = self.request(user, given, conversation, &origin);
        match start(&self.env, automation, request).await {
            Ok(run) => {
                if let Some(channel) = origin.channel {
                    // Told after the form closes: Slack's answer must not wait for it.
                    let (desk, user) = (self.clone(), user.to_owned());
                    let text = self.started(automation, run);
                    tokio::spawn(async move { desk.tell(&user, &channel, &text).await });
                }
                None
            }
            Err(e) => Some(field_error(block, &e.0)),
        }
    }

    pub(super) fn open_form(
        &self,
        automation: &VersionedAutomation,
        origin: &Origin,
        trigger_id: &str,
        user: &str,
    ) {
        let Some(rule) = &automation.automation.trigger.manual else {
            return;
        };
        let view = kit::json(&modal::inputs_form(
            &automation.automation,
            &rule.inputs,
            origin,
        ));
        let desk = self.clone();
        let trigger_id = trigger_id.to_owned();
        // Slack's trigger ids live 3 seconds: open the form now, after the answer.
        let (user, channel) = (user.to_owned(), origin.channel.clone().unwrap_or_default());
        tokio::spawn(async move { desk.open_view(&trigger_id, view, &user, &channel).await });
    }

    /// Opens a form; when Slack refuses, tells `user` why instead of leaving them
    /// waiting for a form that never comes.
    async fn open_view(&self, trigger_id: &str, view: Value, user: &str, channel: &str) {
        let args = object(json!({ "trigger_id": trigger_id, "view": view }));
        if let Err(e) = self.env.slack.call("views.open", &args).await {
            tracing::warn!(error = %e, "could not open a manual run form");
            let text = format!(":warning: Slack did not open the form ({e}); try again.");
            self.tell(user, channel, &text).await;
        }
    }
}

fn field_error(block: &str, message: &str) -> Value {
    modal::errors(&BTreeMap::from([(block.to_owned(), message.to_owned())]))
}

/// Replaces the open form by one that says `message` (used when the form itself is
/// stale, so there is no field to show an error on).
fn close_with_error(message: &str) -> Value {
    let view = SlackModalView::new(
        kit::plain("switchboard", 24),
        vec![kit::section(&format!(":warning: {message}"))],
    )
    .with_close(kit::plain("Close", 24));
    kit::replace_form(SlackView::Modal(view))
}
