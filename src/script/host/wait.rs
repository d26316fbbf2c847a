//! `waitFor` for scripts: the `wait … until` step inside a script. The first call
//! records when the wait began and when it runs out; the script is suspended (its
//! calls so far sealed in its journal, as for an approval) and woken when its
//! conversation moves or the time runs out; run again, the call finds the same wait
//! and answers `ended` (what ended it, when) or `timed_out`, or suspends again.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Args, HostError, ScriptHost, lock, type_error};
use crate::actions::wait::{ENDED, TIMED_OUT, ended_by, waiting_for};
use crate::actions::{Until, Wait};
use crate::automations::definition::ReplyFrom;
use crate::automations::duration;
use crate::clock::format_ms;
use crate::conversations::{Field, Status};
use crate::db;
use crate::script::pool::Halt;

pub(super) const NAME: &str = "waitFor";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WaitArgs {
    #[serde(rename = "for")]
    duration: String,
    until: Option<UntilArgs>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UntilArgs {
    reply_from: Option<ReplyFrom>,
    #[serde(default)]
    status: Vec<Status>,
    #[serde(default)]
    field_changes: Vec<Field>,
}

impl ScriptHost<'_> {
    /// The `index`th `waitFor` of this step; `position` is the call's place in the
    /// journal.
    pub(super) async fn wait_for(
        &self,
        args: &Value,
        index: i64,
        position: Option<usize>,
    ) -> Result<Value, HostError> {
        let args: WaitArgs = Args {
            function: NAME,
            value: args.clone(),
        }
        .parse()?;
        let length = duration::parse(&args.duration).map_err(|e| type_error(NAME, &e))?;
        let until = args.until.map(|u| Until {
            reply_from: u.reply_from,
            status: u.status,
            field_changes: u.field_changes,
        });
        let conversation = match &until {
            Some(_) => Some(self.need_conversation(NAME)?),
            None => None,
        };
        let unavailable = |e: sqlx::Error| {
            HostError::new(
                "Error",
                format!("{NAME}: the wait could not be recorded: {e}"),
                true,
            )
        };
        let now = self.env.clock.now_ms();
        let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        let mut conn = self.env.db.write().await.map_err(unavailable)?;
        let slot = (self.run.id, self.step as i64, index);
        let (since, deadline) =
            db::script_journals::wait_of(&mut conn, slot, now, now.saturating_add(length_ms))
                .await
                .map_err(unavailable)?;
        drop(conn);
        if let (Some(until), Some(c)) = (&until, &conversation) {
            let ended = ended_by(self.env, until, c.id, since, deadline)
                .await
                .map_err(|e| HostError::new("Error", format!("{NAME}: {e}"), true))?;
            if let Some((what, at)) = ended {
                return Ok(json!({ "decision": ENDED, "endedBy": what, "at": format_ms(at) }));
            }
        }
        if now >= deadline {
            return Ok(json!({ "decision": TIMED_OUT }));
        }
        self.save_journal(position.unwrap_or_default()).await?;
        *lock(&self.wait) = Some(Wait {
            waiting_for: waiting_for(length, until.as_ref()),
            deadline: Some(deadline),
            approval: None,
        });
        self.stop_after_this_call(Halt::Suspend);
        Ok(Value::Null)
    }
}
