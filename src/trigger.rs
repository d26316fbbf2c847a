//! Domain types that every layer after decoding shares.
//!
//! An [`Activity`] is what happened in the workspace, decoded from Slack's payload
//! (`slack::events`). Ingest turns an activity into conversation changes and
//! [`Trigger`]s; a trigger is what automations match on and what a run records.
//!
//! Adding a trigger kind: add a variant to [`TriggerEvent`] and [`TriggerKind`], decode
//! it in `slack::events` (or another door), produce it in `ingest`, and teach
//! `automations::definition::TriggerSpec` and `rules` about it.

use serde::{Deserialize, Serialize};

use crate::conversations::FieldChange;

/// A Slack message, as far as automations care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Channel id.
    pub channel: String,
    /// Message timestamp: Slack's id of the message within its channel.
    pub ts: String,
    /// Timestamp of the thread's first message, for replies.
    pub thread_ts: Option<String>,
    /// Author's user id.
    pub user: String,
    /// Message text in Slack's markup.
    pub text: String,
}

/// A user who joined the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedUser {
    /// User id.
    pub id: String,
    /// Handle.
    pub name: String,
    /// Full name, when set.
    pub real_name: Option<String>,
    /// E-mail address, when the app may read it.
    pub email: Option<String>,
    /// Job title from the profile.
    pub title: Option<String>,
    /// Whether the new member is a bot.
    pub is_bot: bool,
}

/// A decided approval request, as the steps after it and `approval_response`
/// automations see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecision {
    /// The request's id.
    pub approval_id: i64,
    /// The automation that asked.
    pub automation_id: String,
    /// The request's title.
    pub title: String,
    /// `approved`, `denied` or `expired`.
    pub decision: String,
    /// Who decided (`None` when it expired).
    pub decided_by: Option<String>,
    /// The decider's reason, if asked and given.
    pub reason: Option<String>,
    /// Who asked.
    pub requester: Option<String>,
}

/// Something that happened in the workspace, decoded and free of Slack's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// A message by a person: top level or in a thread.
    Message {
        /// The message.
        message: Message,
        /// Slack's channel type (`channel`, `group`, `im`, `mpim`), when given.
        channel_type: Option<String>,
    },
    /// A message by a bot (switchboard included); never opens a conversation.
    BotMessage {
        /// Channel id.
        channel: String,
    },
    /// An emoji reaction on a message.
    ReactionAdded {
        /// Who reacted.
        user: String,
        /// Emoji name without colons, e.g. `bangbang`.
        emoji: String,
        /// Channel of the message reacted to.
        channel: String,
        /// Timestamp of the message reacted to.
        message_ts: String,
    },
    /// A new member of the workspace.
    UserJoined(JoinedUser),
    /// A person's command in a conversation's thread that changes its fields
    /// (`@switchboard resolve`): applied as an automation's `set_fields` is.
    Edit {
        /// Who asked.
        user: String,
        /// Channel id.
        channel: String,
        /// The thread's first message: the conversation's.
        thread_ts: String,
        /// The change.
        patch: Box<crate::conversations::ConversationPatch>,
    },
    /// Someone opened switchboard's Home tab in Slack: it is published for them.
    HomeOpened {
        /// Who.
        user: String,
    },
    /// A known envelope whose event switchboard does not act on.
    Ignored {
        /// Slack's event type, for the log.
        event_type: String,
    },
}

/// An event as received, with the id that makes its processing idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// Slack's event id (`Ev…`), unique per event across retries.
    pub event_id: String,
    /// Workspace id.
    pub team_id: String,
    /// What happened.
    pub activity: Activity,
}

/// The kinds of trigger an automation can listen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A top-level message in a support channel opened a conversation.
    ConversationCreated,
    /// Fields of a conversation changed.
    ConversationUpdated,
    /// A reply arrived in a conversation's thread.
    MessageReceived,
    /// Someone reacted to a message of a conversation.
    ReactionAdded,
    /// A user joined the workspace.
    UserJoined,
    /// An approval request was decided (or expired).
    ApprovalResponse,
    /// A person started the automation by hand (Slack or the command line).
    Manual,
    /// Another system called the automation's webhook URL.
    Webhook,
    /// The automation's schedule came due.
    Schedule,
    /// The requester side spoke last and no team member answered for a while.
    NoResponse,
    /// The team spoke last and the requester side did not answer for a while.
    NoReply,
    /// Nobody wrote in the conversation for a while.
    Idle,
    /// An SLA target of the conversation is about to breach.
    SlaWarning,
    /// An SLA target of the conversation breached.
    SlaBreached,
}

impl TriggerKind {
    /// Every kind, in documentation order.
    pub const ALL: [TriggerKind; 14] = [
        Self::ConversationCreated,
        Self::ConversationUpdated,
        Self::MessageReceived,
        Self::ReactionAdded,
        Self::UserJoined,
        Self::ApprovalResponse,
        Self::Manual,
        Self::Webhook,
        Self::Schedule,
        Self::NoResponse,
        Self::NoReply,
        Self::Idle,
        Self::SlaWarning,
        Self::SlaBreached,
    ];

    /// The name used in files, the database and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConversationCreated => "conversation_created",
            Self::ConversationUpdated => "conversation_updated",
            Self::MessageReceived => "message_received",
            Self::ReactionAdded => "reaction_added",
            Self::UserJoined => "user_joined",
            Self::ApprovalResponse => "approval_response",
            Self::Manual => "manual",
            Self::Webhook => "webhook",
            Self::Schedule => "schedule",
            Self::NoResponse => "no_response",
            Self::NoReply => "no_reply",
            Self::Idle => "idle",
            Self::SlaWarning => "sla_warning",
            Self::SlaBreached => "sla_breached",
        }
    }

    /// Whether triggers of this kind concern a conversation. Manual runs may: one
    /// started from a conversation carries it, and steps that need one fail clearly
    /// when it was started without (or the automation requires one to start).
    pub fn has_conversation(self) -> bool {
        !matches!(
            self,
            Self::UserJoined | Self::ApprovalResponse | Self::Webhook | Self::Schedule
        )
    }
}

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a trigger carries, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TriggerEvent {
    /// The conversation's first message.
    ConversationCreated {
        /// The message that opened it.
        message: Message,
    },
    /// Field changes, each with its before and after value.
    ConversationUpdated {
        /// What changed.
        changes: Vec<FieldChange>,
    },
    /// A reply in the conversation's thread.
    MessageReceived {
        /// The reply.
        message: Message,
    },
    /// A reaction on one of the conversation's messages.
    ReactionAdded {
        /// Emoji name without colons.
        emoji: String,
        /// Timestamp of the message reacted to.
        message_ts: String,
    },
    /// A new workspace member.
    UserJoined {
        /// Who joined.
        user: JoinedUser,
    },
    /// An approval request was decided (or expired).
    ApprovalResponse {
        /// The request and its decision.
        approval: ApprovalDecision,
    },
    /// Started by hand.
    Manual {
        /// Who started it (a Slack user id, or `cli:<name>` from the command line).
        user: String,
        /// The input fields, checked against the automation's declarations.
        inputs: serde_json::Map<String, serde_json::Value>,
        /// `slash_command`, `shortcut`, `message` or `cli`.
        source: String,
        /// The channel where it was started from Slack: the outcome is told there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// The thread of that channel, when it was started by a message in a thread.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_thread: Option<String>,
    },
    /// A call of the automation's webhook URL.
    Webhook {
        /// The JSON body (`null` when empty).
        body: serde_json::Value,
        /// Request headers, names in lower case (signatures left out).
        headers: std::collections::BTreeMap<String, String>,
        /// Query parameters.
        query: std::collections::BTreeMap<String, String>,
    },
    /// A schedule tick.
    Schedule {
        /// The tick's time, ms since the epoch.
        tick: i64,
        /// The cron expression.
        cron: String,
        /// Its time zone.
        timezone: String,
    },
    /// The requester side has waited for the team since `silence.since`.
    NoResponse {
        /// The silence.
        silence: Silence,
    },
    /// The team has waited for the requester side since `silence.since`.
    NoReply {
        /// The silence.
        silence: Silence,
    },
    /// Nobody has written since `silence.since`.
    Idle {
        /// The silence.
        silence: Silence,
    },
    /// An SLA target's warning time came.
    SlaWarning {
        /// Which target, and when it is due.
        sla: SlaAlarm,
    },
    /// An SLA target's due time passed.
    SlaBreached {
        /// Which target, and when it was due.
        sla: SlaAlarm,
    },
}

/// An SLA target's alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaAlarm {
    /// `first_response`, `next_reply` or `resolution`.
    pub target: crate::conversations::sla::Target,
    /// The policy that set it.
    pub policy: String,
    /// When the target is (or was) due, ms since the epoch.
    pub due: i64,
}

/// A silence that lasted as long as an automation waits for: when it began, how long
/// it was allowed, and the calendar it was counted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// When the clock started: the message (ms since the epoch) that began the wait.
    pub since: i64,
    /// When it fell due (ms since the epoch).
    pub due: i64,
    /// How long, as the automation's file says (`30m`).
    pub after: String,
    /// The business-hours calendar it was counted in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<String>,
}

impl TriggerEvent {
    /// The kind of this event.
    pub fn kind(&self) -> TriggerKind {
        match self {
            Self::ConversationCreated { .. } => TriggerKind::ConversationCreated,
            Self::ConversationUpdated { .. } => TriggerKind::ConversationUpdated,
            Self::MessageReceived { .. } => TriggerKind::MessageReceived,
            Self::ReactionAdded { .. } => TriggerKind::ReactionAdded,
            Self::UserJoined { .. } => TriggerKind::UserJoined,
            Self::ApprovalResponse { .. } => TriggerKind::ApprovalResponse,
            Self::Manual { .. } => TriggerKind::Manual,
            Self::Webhook { .. } => TriggerKind::Webhook,
            Self::Schedule { .. } => TriggerKind::Schedule,
            Self::NoResponse { .. } => TriggerKind::NoResponse,
            Self::NoReply { .. } => TriggerKind::NoReply,
            Self::Idle { .. } => TriggerKind::Idle,
            Self::SlaWarning { .. } => TriggerKind::SlaWarning,
            Self::SlaBreached { .. } => TriggerKind::SlaBreached,
        }
    }

    /// The silence that fired the trigger, if it is one.
    pub fn silence(&self) -> Option<&Silence> {
        match self {
            Self::NoResponse { silence } | Self::NoReply { silence } | Self::Idle { silence } => {
                Some(silence)
            }
            _ => None,
        }
    }

    /// The SLA alarm that fired the trigger, if it is one.
    pub fn sla(&self) -> Option<&SlaAlarm> {
        match self {
            Self::SlaWarning { sla } | Self::SlaBreached { sla } => Some(sla),
            _ => None,
        }
    }

    /// The message that caused the trigger, if any.
    pub fn message(&self) -> Option<&Message> {
        match self {
            Self::ConversationCreated { message } | Self::MessageReceived { message } => {
                Some(message)
            }
            _ => None,
        }
    }
}

/// A trigger: what automations match and what a run records as its cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Id of the event that caused it; runs are unique per (event, automation).
    pub event_id: String,
    /// Workspace id.
    pub team_id: String,
    /// The user whose action caused it; `None` when an automation did.
    pub actor: Option<String>,
    /// The conversation concerned, if any.
    pub conversation_id: Option<i64>,
    /// How many automation steps led here (0 for a person's action).
    pub depth: u32,
    /// What happened.
    pub event: TriggerEvent,
}

impl Trigger {
    /// The kind of this trigger.
    pub fn kind(&self) -> TriggerKind {
        self.event.kind()
    }
}
