//! What one event does to the database: record its id, apply conversation changes,
//! queue the runs of the automations it triggers. Runs inside a transaction (a
//! savepoint of the ingest batch) and decides nothing that needs Slack.

use sqlx::AnyConnection;

use super::queue::queue_runs;
use super::{IngestContext, IngestOutcome};
use crate::conversations::NewConversation;
use crate::db;
use crate::trigger::{Activity, InboundEvent, Message, Trigger, TriggerEvent};

/// Applies one event.
pub async fn apply(
    conn: &mut AnyConnection,
    ctx: &IngestContext,
    event: &InboundEvent,
    now_ms: i64,
) -> sqlx::Result<IngestOutcome> {
    let kind = activity_name(&event.activity);
    if !db::events::record(conn, &event.event_id, &event.team_id, kind, now_ms).await? {
        return Ok(IngestOutcome::Duplicate);
    }
    let trigger_for =
        |actor: Option<&str>, conversation_id: Option<i64>, event_kind: TriggerEvent| Trigger {
            event_id: event.event_id.clone(),
            team_id: event.team_id.clone(),
            actor: actor.map(str::to_owned),
            conversation_id,
            depth: 0,
            event: event_kind,
        };
    let (trigger, conversation) = match &event.activity {
        Activity::Message {
            message,
            channel_type,
        } => match message.thread_ts.as_deref().filter(|t| *t != message.ts) {
            Some(thread_ts) => {
                let Some(conversation) =
                    db::conversations::find_by_message(conn, &message.channel, thread_ts).await?
                else {
                    return Ok(IngestOutcome::Ignored("reply in an untracked thread"));
                };
                if !db::conversations::add_message(conn, conversation.id, message, now_ms).await? {
                    return Ok(IngestOutcome::Ignored("message already recorded"));
                }
                let t = trigger_for(
                    Some(&message.user),
                    Some(conversation.id),
                    TriggerEvent::MessageReceived {
                        message: message.clone(),
                    },
                );
                (t, Some(conversation))
            }
            None => {
                if !ctx
                    .support
                    .is_support_channel(&message.channel, channel_type.as_deref())
                {
                    return Ok(IngestOutcome::Ignored("not a support channel"));
                }
                let Some(conversation) =
                    open_conversation(conn, ctx, event, message, now_ms).await?
                else {
                    return Ok(IngestOutcome::Ignored("thread already tracked"));
                };
                let t = trigger_for(
                    Some(&message.user),
                    Some(conversation.id),
                    TriggerEvent::ConversationCreated {
                        message: message.clone(),
                    },
                );
                (t, Some(conversation))
            }
        },
        Activity::ReactionAdded {
            user,
            emoji,
            channel,
            message_ts,
        } => {
            let Some(conversation) =
                db::conversations::find_by_message(conn, channel, message_ts).await?
            else {
                return Ok(IngestOutcome::Ignored("reaction outside a conversation"));
            };
            let t = trigger_for(
                Some(user),
                Some(conversation.id),
                TriggerEvent::ReactionAdded {
                    emoji: emoji.clone(),
                    message_ts: message_ts.clone(),
                },
            );
            (t, Some(conversation))
        }
        Activity::UserJoined(user) => {
            let t = trigger_for(
                Some(&user.id),
                None,
                TriggerEvent::UserJoined { user: user.clone() },
            );
            (t, None)
        }
        Activity::BotMessage { .. } => return Ok(IngestOutcome::Ignored("bot message")),
        Activity::Ignored { .. } => return Ok(IngestOutcome::Ignored("event type not used")),
    };
    let automations = ctx.registry.current();
    let runs = queue_runs(
        conn,
        &automations,
        &trigger,
        conversation.as_ref(),
        ctx.max_depth,
        now_ms,
    )
    .await?;
    Ok(IngestOutcome::Recorded {
        trigger: trigger.kind(),
        conversation_id: conversation.map(|c| c.id),
        runs,
    })
}

async fn open_conversation(
    conn: &mut AnyConnection,
    ctx: &IngestContext,
    event: &InboundEvent,
    message: &Message,
    now_ms: i64,
) -> sqlx::Result<Option<crate::conversations::Conversation>> {
    let new = NewConversation::from_message(
        &event.team_id,
        message,
        ctx.support.customers.get(&message.channel).cloned(),
        &ctx.support.default_ticket_type,
        &ctx.workspaces.url_for(&event.team_id),
    );
    db::conversations::create(conn, &new, message, now_ms).await
}

/// A short name of the activity, stored with the event id and logged.
pub fn activity_name(activity: &Activity) -> &'static str {
    match activity {
        Activity::Message { .. } => "message",
        Activity::BotMessage { .. } => "bot_message",
        Activity::ReactionAdded { .. } => "reaction_added",
        Activity::UserJoined(_) => "team_join",
        Activity::Ignored { .. } => "ignored",
    }
}
