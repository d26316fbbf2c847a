//! Telling people things outside a run's steps: the outcome of a manual run to whoever
//! started it, and short notes from the manual-run desk.

use serde_json::json;

use super::RunEnv;
use crate::db::runs::{ClaimedRun, RunStatus};
use crate::slack::client::object;
use crate::trigger::TriggerEvent;

/// Tells `user` privately: an ephemeral message in `channel` (in `thread_ts`, when
/// given), or a DM when there is no channel or the bot cannot post there.
pub async fn tell(
    env: &RunEnv,
    user: &str,
    channel: Option<&str>,
    thread_ts: Option<&str>,
    text: &str,
) {
    if let Some(channel) = channel {
        let mut args = json!({ "channel": channel, "user": user, "text": text });
        if let Some(thread_ts) = thread_ts {
            args["thread_ts"] = json!(thread_ts);
        }
        let args = object(args);
        match env.slack.call("chat.postEphemeral", &args).await {
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "no ephemeral message there; sending a DM instead")
            }
        }
    }
    let sent = match env.slack.open_dm(user).await {
        Ok(dm) => env.slack.post_message(&dm, text, None).await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, user, "could not tell the user");
    }
}

/// After a run's final state is committed: whoever listens learns whose run ended
/// (nobody listening is fine), and a manual run started from Slack tells its starter
/// how it ended.
pub async fn run_finished(env: &RunEnv, run: &ClaimedRun, status: RunStatus, error: Option<&str>) {
    if let Some(actor) = &run.trigger.actor {
        let _ = env.ended.send(actor.clone());
    }
    let TriggerEvent::Manual {
        user,
        reply_to: Some(channel),
        reply_thread,
        ..
    } = &run.trigger.event
    else {
        return;
    };
    let name = env
        .registry
        .version(&run.automation_id, run.automation_version)
        .map_or_else(|| run.automation_id.clone(), |a| a.name.clone());
    let id = match env.links.url(run.id, env.clock.now()) {
        Some(url) => format!("<{url}|run {}>", run.id),
        None => format!("run {}", run.id),
    };
    let text = match (status, error) {
        (RunStatus::Succeeded, _) => format!(":white_check_mark: *{name}* finished ({id})."),
        (_, Some(e)) => format!(":x: *{name}* failed ({id}): {e}"),
        (status, None) => format!("*{name}* ended: {} ({id}).", status.as_str()),
    };
    tell(env, user, Some(channel), reply_thread.as_deref(), &text).await;
}
