//! What a batch of events does to the database: record their ids, apply conversation
//! changes, queue the runs of the automations they trigger. Runs inside the batch
//! writer's transaction and decides nothing that needs Slack.
//!
//! The events of a batch are applied together, a few statements for all of them:
//! ids first (a redelivery stops there), then new conversations, then the lookups of
//! the conversations that replies and reactions belong to (which see the conversations
//! opened in the same batch), then replies, then runs. The outcome of each event is
//! what it would be alone, in arrival order.

use std::collections::HashMap;

use super::{IngestContext, IngestOutcome};
use crate::automations::VersionedAutomation;
use crate::conversations::{Conversation, NewConversation};
use crate::db::events::NewEvent;
use crate::db::{self, tx::Tx};
use crate::dispatch::{self, QueuedLater, Slots, ToQueue};
use crate::sla::Happened;
use crate::sla::track::ClockMoves;
use crate::team::Side;
use crate::timers::silence::{self, Spoke};
use crate::trigger::{Activity, InboundEvent, Message, Trigger, TriggerEvent};

/// What became of one event; a recorded one learns its runs once the batch is
/// committed (`queued`, at `trigger`).
#[derive(Debug)]
pub struct Applied {
    /// The outcome (a recorded event's runs still empty).
    pub outcome: IngestOutcome,
    /// Its place among the batch's triggers.
    pub trigger: Option<usize>,
}

/// Where an event stands while its batch is applied.
// One short-lived value per event of a batch: not worth an allocation each.
#[allow(clippy::large_enum_variant)]
enum Step<'a> {
    Done(IngestOutcome),
    /// A top-level support message: opens a conversation.
    Opens(&'a Message, NewConversation),
    /// A reply: belongs to the conversation of its thread, if tracked.
    Replies(&'a Message, &'a str),
    /// A reaction: to the conversation of the message, if tracked.
    Reacts(&'a str, &'a str),
    /// A person's edit of the conversation of a thread, if tracked.
    Edits(&'a str, &'a str),
    /// Ready to queue runs.
    Triggers(Trigger, Option<Conversation>),
}

/// Applies `events` in order; one result per event, and the runs they queue (known
/// once the batch is committed).
pub async fn apply_batch(
    tx: &mut dyn Tx,
    ctx: &IngestContext,
    events: &[InboundEvent],
    now_ms: i64,
    slots: Option<&Slots>,
) -> sqlx::Result<(Vec<Applied>, QueuedLater)> {
    let mut steps: Vec<Step<'_>> = events.iter().map(|e| classify(ctx, e)).collect();

    // Sent together: event ids, new conversations with their first messages, and the
    // lookups of the threads and messages that replies and reactions name (which see
    // the conversations opened just before). A redelivered event changes nothing
    // there: its conversation exists, and its reply or reaction is only looked up.
    let ids: Vec<NewEvent<'_>> = events
        .iter()
        .map(|e| NewEvent {
            event_id: &e.event_id,
            team_id: &e.team_id,
            kind: activity_name(&e.activity),
        })
        .collect();
    let new = db::events::record_many(tx, &ids, now_ms).await?;
    let opening: Vec<usize> = (0..steps.len())
        .filter(|&i| matches!(steps[i], Step::Opens(..)))
        .collect();
    let created = if opening.is_empty() {
        None
    } else {
        let rows: Vec<(&NewConversation, &Message)> = opening
            .iter()
            .map(|&i| match &steps[i] {
                Step::Opens(message, new) => (new, *message),
                _ => unreachable!("opening steps open"),
            })
            .collect();
        Some(db::conversations::create_many(tx, &rows, now_ms).await?)
    };
    let wanted: Vec<(&str, &str)> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Replies(m, thread_ts) => Some((m.channel.as_str(), *thread_ts)),
            Step::Reacts(channel, ts) | Step::Edits(channel, ts) => Some((*channel, *ts)),
            _ => None,
        })
        .collect();
    let found = if wanted.is_empty() {
        None
    } else {
        Some(db::conversations::find_by_messages(tx, &wanted).await?)
    };
    tx.sync().await?;

    for (step, new) in steps.iter_mut().zip(new.resolve()?) {
        if !new {
            *step = Step::Done(IngestOutcome::Duplicate);
        }
    }
    if let Some(created) = created {
        for (i, conversation) in opening.into_iter().zip(created.resolve()?) {
            let Step::Opens(message, _) = steps[i] else {
                continue; // a redelivery
            };
            steps[i] = match conversation {
                None => Step::Done(IngestOutcome::Ignored("thread already tracked")),
                Some(c) => Step::Triggers(
                    trigger_for(
                        &events[i],
                        Some(&message.user),
                        Some(&c),
                        TriggerEvent::ConversationCreated {
                            message: message.clone(),
                        },
                    ),
                    Some(c),
                ),
            };
        }
    }
    if let Some(found) = found {
        resolve_replies_and_reactions(tx, &mut steps, events, found.resolve()?, now_ms).await?;
    }
    let automations = ctx.registry.current();
    track_time(tx, ctx, &automations, &mut steps, now_ms).await?;

    let triggers: Vec<ToQueue<'_>> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Triggers(trigger, conversation) => Some(ToQueue {
                trigger,
                conversation: conversation.as_ref(),
            }),
            _ => None,
        })
        .collect();
    let queued =
        dispatch::queue_many(tx, &automations, &triggers, ctx.max_depth, now_ms, slots).await?;
    let mut next = 0;
    let applied = steps
        .into_iter()
        .map(|step| match step {
            Step::Triggers(trigger, conversation) => {
                next += 1;
                Applied {
                    outcome: IngestOutcome::Recorded {
                        trigger: trigger.kind(),
                        conversation_id: conversation.map(|c| c.id),
                        runs: Vec::new(),
                    },
                    trigger: Some(next - 1),
                }
            }
            Step::Done(outcome) => Applied {
                outcome,
                trigger: None,
            },
            _ => unreachable!("every event is resolved before its runs are queued"),
        })
        .collect();
    Ok((applied, queued))
}

/// What the batch's events did to the clocks: the silences automations wait for and
/// the conversations' SLA clocks (whose new state the triggers' conversations carry).
async fn track_time(
    tx: &mut dyn Tx,
    ctx: &IngestContext,
    automations: &[VersionedAutomation],
    steps: &mut [Step<'_>],
    now_ms: i64,
) -> sqlx::Result<()> {
    let happened = happenings(ctx, steps);
    let calendars = ctx.registry.calendars();
    let spoke: Vec<Spoke> = happened
        .iter()
        .filter_map(|&(i, what)| {
            let (Happened::Opened(side) | Happened::Spoke(side)) = what else {
                return None;
            };
            let Step::Triggers(_, Some(c)) = &steps[i] else {
                return None;
            };
            Some(Spoke {
                conversation_id: c.id,
                side,
                at_ms: now_ms,
            })
        })
        .collect();
    let silences = silence::plan(automations, &calendars, &spoke);
    if !silences.is_empty() {
        db::timers::apply(tx, &silences).await?;
    }
    let moving: Vec<i64> = happened
        .iter()
        .filter_map(|&(i, _)| match &steps[i] {
            Step::Triggers(_, Some(c)) => Some(c.id),
            _ => None,
        })
        .collect();
    if crate::automations::wait_until_something(automations) {
        db::runs::wake_waiting_on(tx, &moving, now_ms).await?;
    }
    let policies = ctx.registry.slas();
    let mut clocks = ClockMoves::new(&policies, &calendars);
    clocks.lock(tx, &moving).await?;
    for (i, what) in happened {
        if let Step::Triggers(_, Some(c)) = &mut steps[i] {
            clocks.apply(c, what, now_ms);
        }
    }
    clocks.save(tx).await
}

/// What each recorded event did to its conversation, as time-based rules care: who
/// spoke (every new message, and a team member's reaction when reactions count as
/// answers), and field changes.
fn happenings(ctx: &IngestContext, steps: &[Step<'_>]) -> Vec<(usize, Happened)> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let Step::Triggers(trigger, Some(_)) = step else {
                return None;
            };
            let what = match &trigger.event {
                TriggerEvent::ConversationCreated { message } => {
                    Happened::Opened(ctx.team.side_of(&message.user))
                }
                TriggerEvent::MessageReceived { message } => {
                    Happened::Spoke(ctx.team.side_of(&message.user))
                }
                TriggerEvent::ReactionAdded { .. } if ctx.team.counts_reactions() => {
                    let side = ctx.team.side_of(trigger.actor.as_deref()?);
                    Happened::Spoke((side == Side::Team).then_some(side)?)
                }
                TriggerEvent::ConversationUpdated { .. } => Happened::Changed,
                _ => return None,
            };
            Some((i, what))
        })
        .collect()
}

fn trigger_for(
    event: &InboundEvent,
    actor: Option<&str>,
    conversation: Option<&Conversation>,
    event_kind: TriggerEvent,
) -> Trigger {
    Trigger {
        event_id: event.event_id.clone(),
        team_id: event.team_id.clone(),
        actor: actor.map(str::to_owned),
        conversation_id: conversation.map(|c| c.id),
        depth: 0,
        event: event_kind,
    }
}

/// What a new event needs, judged from the event alone.
fn classify<'a>(ctx: &IngestContext, event: &'a InboundEvent) -> Step<'a> {
    match &event.activity {
        Activity::Message {
            message,
            channel_type,
        } => match message.thread_ts.as_deref().filter(|t| *t != message.ts) {
            Some(thread_ts) => Step::Replies(message, thread_ts),
            None if !ctx
                .support
                .is_support_channel(&message.channel, channel_type.as_deref()) =>
            {
                Step::Done(IngestOutcome::Ignored("not a support channel"))
            }
            None => Step::Opens(
                message,
                NewConversation::from_message(
                    &event.team_id,
                    message,
                    ctx.support.customers.get(&message.channel).cloned(),
                    &ctx.support.default_ticket_type,
                    &ctx.workspaces.url_for(&event.team_id),
                ),
            ),
        },
        Activity::ReactionAdded {
            channel,
            message_ts,
            ..
        } => Step::Reacts(channel, message_ts),
        Activity::UserJoined(user) => Step::Triggers(
            trigger_for(
                event,
                Some(&user.id),
                None,
                TriggerEvent::UserJoined { user: user.clone() },
            ),
            None,
        ),
        Activity::Edit {
            channel, thread_ts, ..
        } => Step::Edits(channel, thread_ts),
        Activity::BotMessage { .. } => Step::Done(IngestOutcome::Ignored("bot message")),
        Activity::HomeOpened { .. } => Step::Done(IngestOutcome::Ignored("Home tab opened")),
        Activity::Ignored { .. } => Step::Done(IngestOutcome::Ignored("event type not used")),
    }
}

async fn resolve_replies_and_reactions(
    tx: &mut dyn Tx,
    steps: &mut [Step<'_>],
    events: &[InboundEvent],
    mut known: HashMap<(String, String), Conversation>,
    now_ms: i64,
) -> sqlx::Result<()> {
    let find = |known: &HashMap<(String, String), Conversation>, channel: &str, ts: &str| {
        known.get(&(channel.to_owned(), ts.to_owned())).cloned()
    };

    // Replies, in order: a reply is recorded once, and later events of the batch can
    // react to it.
    let mut replies: Vec<(usize, i64, &Message)> = Vec::new();
    for (i, step) in steps.iter_mut().enumerate() {
        if let Step::Replies(message, thread_ts) = *step {
            match find(&known, &message.channel, thread_ts) {
                Some(c) => replies.push((i, c.id, message)),
                None => *step = Step::Done(IngestOutcome::Ignored("reply in an untracked thread")),
            }
        }
    }
    let rows: Vec<(i64, &Message)> = replies.iter().map(|(_, id, m)| (*id, *m)).collect();
    let added = if rows.is_empty() {
        Vec::new()
    } else {
        db::conversations::add_messages(tx, &rows, now_ms).await?
    };
    for ((i, _, message), new) in replies.into_iter().zip(added) {
        let Step::Replies(_, thread_ts) = steps[i] else {
            unreachable!()
        };
        let conversation = find(&known, &message.channel, thread_ts).expect("found above");
        steps[i] = if new {
            known.insert(
                (message.channel.clone(), message.ts.clone()),
                conversation.clone(),
            );
            Step::Triggers(
                trigger_for(
                    &events[i],
                    Some(&message.user),
                    Some(&conversation),
                    TriggerEvent::MessageReceived {
                        message: message.clone(),
                    },
                ),
                Some(conversation),
            )
        } else {
            Step::Done(IngestOutcome::Ignored("message already recorded"))
        };
    }

    apply_edits(tx, steps, events, &mut known, now_ms).await?;

    for (i, step) in steps.iter_mut().enumerate() {
        if let Step::Reacts(channel, message_ts) = *step {
            let Activity::ReactionAdded { user, emoji, .. } = &events[i].activity else {
                unreachable!("only reactions react")
            };
            *step = match find(&known, channel, message_ts) {
                None => Step::Done(IngestOutcome::Ignored("reaction outside a conversation")),
                Some(c) => Step::Triggers(
                    trigger_for(
                        &events[i],
                        Some(user),
                        Some(&c),
                        TriggerEvent::ReactionAdded {
                            emoji: emoji.clone(),
                            message_ts: message_ts.to_owned(),
                        },
                    ),
                    Some(c),
                ),
            };
        }
    }
    Ok(())
}

/// People's edits, in order, each to the conversation as the edits before it left it;
/// recorded with the person as actor, and each real change is a
/// `conversation_updated` trigger, as an automation's `set_fields` is.
async fn apply_edits(
    tx: &mut dyn Tx,
    steps: &mut [Step<'_>],
    events: &[InboundEvent],
    known: &mut HashMap<(String, String), Conversation>,
    now_ms: i64,
) -> sqlx::Result<()> {
    for (i, step) in steps.iter_mut().enumerate() {
        let Step::Edits(channel, thread_ts) = *step else {
            continue;
        };
        let Activity::Edit { user, patch, .. } = &events[i].activity else {
            unreachable!("only edits edit")
        };
        let key = (channel.to_owned(), thread_ts.to_owned());
        let Some(conversation) = known.get_mut(&key) else {
            *step = Step::Done(IngestOutcome::Ignored("edit in an untracked thread"));
            continue;
        };
        let changes = patch.apply(conversation);
        if changes.is_empty() {
            *step = Step::Done(IngestOutcome::Ignored("edit changed nothing"));
            continue;
        }
        let cause = db::conversations::ChangeCause {
            cause: &events[i].event_id,
            actor: Some(user),
            at_ms: now_ms,
        };
        db::conversations::save_changes(tx, conversation, &changes, cause).await?;
        let conversation = conversation.clone();
        *step = Step::Triggers(
            trigger_for(
                &events[i],
                Some(user),
                Some(&conversation),
                TriggerEvent::ConversationUpdated { changes },
            ),
            Some(conversation),
        );
    }
    Ok(())
}

/// A short name of the activity, stored with the event id and logged.
pub fn activity_name(activity: &Activity) -> &'static str {
    match activity {
        Activity::Message { .. } => "message",
        Activity::BotMessage { .. } => "bot_message",
        Activity::ReactionAdded { .. } => "reaction_added",
        Activity::UserJoined(_) => "team_join",
        Activity::Edit { .. } => "edit",
        Activity::HomeOpened { .. } => "app_home_opened",
        Activity::Ignored { .. } => "ignored",
    }
}
