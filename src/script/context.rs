//! The `ctx` object a script receives, as JSON with the names TypeScript code expects
//! (camelCase). Declared in `switchboard.d.ts` as `Context`.

use serde_json::{Map, Value, json};

use crate::conversations::Conversation;
use crate::db::workspaces::Workspace;
use crate::trigger::{Message, Trigger, TriggerEvent};

/// The run a script step belongs to.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo<'a> {
    /// Run id.
    pub id: i64,
    /// Automation id.
    pub automation: &'a str,
    /// Automation version.
    pub version: i64,
    /// Attempt, from 1.
    pub attempt: i64,
    /// This step's index.
    pub step: usize,
}

/// Everything `ctx` is made of.
#[derive(Debug, Clone, Copy)]
pub struct ContextParts<'a> {
    /// What triggered the run.
    pub trigger: &'a Trigger,
    /// Its conversation.
    pub conversation: Option<&'a Conversation>,
    /// The workspace.
    pub workspace: Option<&'a Workspace>,
    /// The run.
    pub run: RunInfo<'a>,
    /// Inputs of a manual run.
    pub inputs: &'a Map<String, Value>,
    /// Outputs of the earlier steps.
    pub steps: &'a [Value],
}

/// Builds `ctx`.
pub fn script_context(parts: ContextParts<'_>) -> Value {
    json!({
        "trigger": trigger(parts.trigger),
        "conversation": parts.conversation.map(conversation),
        "workspace": parts.workspace.map(|w| json!({
            "teamId": w.team_id, "name": w.name, "url": w.url, "botUserId": w.bot_user_id,
        })),
        "run": {
            "id": parts.run.id,
            "automation": parts.run.automation,
            "version": parts.run.version,
            "attempt": parts.run.attempt,
            "step": parts.run.step,
        },
        "inputs": parts.inputs,
        "steps": parts.steps,
    })
}

/// A conversation as scripts see it.
pub fn conversation(c: &Conversation) -> Value {
    json!({
        "id": c.id,
        "channel": c.channel,
        "threadTs": c.thread_ts,
        "requester": c.requester,
        "customer": c.customer,
        "title": c.title,
        "status": c.status.as_str(),
        "priority": c.priority.as_str(),
        "ticketType": c.ticket_type,
        "assignee": c.assignee,
        "tags": c.tags,
        "permalink": c.permalink,
        "createdAt": crate::clock::format_ms(c.created_at),
        "updatedAt": crate::clock::format_ms(c.updated_at),
        "sla": sla(&c.sla.clocks),
    })
}

/// The SLA clocks as scripts see them: by target, times in RFC 3339.
fn sla(
    clocks: &std::collections::BTreeMap<
        crate::conversations::sla::Target,
        crate::conversations::sla::SlaClock,
    >,
) -> Value {
    let time = |ms: Option<i64>| ms.map(crate::clock::format_ms);
    let by_target: Map<String, Value> = clocks
        .iter()
        .map(|(target, c)| {
            let value = json!({
                "policy": c.policy,
                "state": c.state.as_str(),
                "startedAt": crate::clock::format_ms(c.started_at),
                "due": time(c.due_at),
                "warnAt": time(c.warn_at),
                "metAt": time(c.met_at),
                "breachedAt": time(c.breached_at),
                "breached": c.breached_at.is_some(),
            });
            (target.as_str().to_owned(), value)
        })
        .collect();
    Value::Object(by_target)
}

fn message(m: &Message) -> Value {
    json!({ "channel": m.channel, "ts": m.ts, "threadTs": m.thread_ts, "user": m.user, "text": m.text })
}

fn trigger(t: &Trigger) -> Value {
    let mut value = json!({
        "kind": t.kind().as_str(),
        "eventId": t.event_id,
        "actor": t.actor,
        "depth": t.depth,
    });
    let extra = match &t.event {
        TriggerEvent::ConversationCreated { message: m }
        | TriggerEvent::MessageReceived { message: m } => {
            json!({ "message": message(m) })
        }
        TriggerEvent::ReactionAdded { emoji, message_ts } => {
            json!({ "emoji": emoji, "messageTs": message_ts })
        }
        TriggerEvent::ConversationUpdated { changes } => json!({
            "changes": changes.iter().map(|c| json!({
                "field": c.field.as_str(), "before": c.before, "after": c.after,
            })).collect::<Vec<_>>(),
        }),
        TriggerEvent::UserJoined { user } => json!({
            "user": {
                "id": user.id, "name": user.name, "realName": user.real_name,
                "email": user.email, "title": user.title, "isBot": user.is_bot,
            },
        }),
        TriggerEvent::ApprovalResponse { approval } => json!({ "approval": approval }),
        TriggerEvent::Manual {
            user,
            inputs,
            source,
            ..
        } => json!({ "user": user, "inputs": inputs, "source": source }),
        TriggerEvent::Webhook {
            body,
            headers,
            query,
        } => json!({ "body": body, "headers": headers, "query": query }),
        TriggerEvent::Schedule {
            tick,
            cron,
            timezone,
        } => json!({ "tick": crate::clock::format_ms(*tick), "cron": cron, "timezone": timezone }),
        TriggerEvent::NoResponse { silence }
        | TriggerEvent::NoReply { silence }
        | TriggerEvent::Idle { silence } => json!({
            "silence": {
                "since": crate::clock::format_ms(silence.since),
                "due": crate::clock::format_ms(silence.due),
                "after": silence.after,
                "businessHours": silence.business_hours,
            },
        }),
        TriggerEvent::SlaWarning { sla } | TriggerEvent::SlaBreached { sla } => json!({
            "sla": {
                "target": sla.target.as_str(),
                "policy": sla.policy,
                "due": crate::clock::format_ms(sla.due),
            },
        }),
    };
    if let (Some(v), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    value
}
