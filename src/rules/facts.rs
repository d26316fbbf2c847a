//! Facts: the named values of a trigger and its conversation that filters test and
//! templates print. One vocabulary for both, so `priority` means the same thing in a
//! filter and in `{{priority}}`.
//!
//! Adding a fact: add a variant, its name in [`Fact::name`], where it exists in
//! [`Fact::available_for`], and its value in [`Fact::value`].

use crate::conversations::Conversation;
use crate::conversations::sla::Target;
use crate::trigger::{ApprovalDecision, Trigger, TriggerEvent, TriggerKind};

/// A named value about a trigger or its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// Conversation id.
    Id,
    /// Conversation title.
    Title,
    /// Conversation status.
    Status,
    /// Conversation priority.
    Priority,
    /// Conversation ticket type.
    TicketType,
    /// Conversation customer.
    Customer,
    /// Who opened the conversation.
    Requester,
    /// Who handles the conversation.
    Assignee,
    /// The conversation's channel.
    Channel,
    /// Conversation tags.
    Tags,
    /// Link to the conversation's thread.
    Permalink,
    /// Text of the message that triggered.
    Text,
    /// Author of the message that triggered.
    Author,
    /// Emoji of the reaction that triggered.
    Emoji,
    /// The person whose action triggered; none when an automation did.
    Actor,
    /// Names of the fields a `conversation_updated` trigger changed.
    Changed,
    /// The user who joined.
    User,
    /// The joined user's handle.
    UserName,
    /// The joined user's full name.
    UserRealName,
    /// The joined user's e-mail.
    UserEmail,
    /// The joined user's job title.
    UserTitle,
    /// An approval's outcome: `approved`, `denied` or `expired`.
    Decision,
    /// Who decided an approval.
    DecidedBy,
    /// The decider's reason.
    DecisionReason,
    /// The approval request's title.
    ApprovalTitle,
    /// The SLA target of an `sla_warning` or `sla_breached` trigger.
    SlaTarget,
    /// A part of an SLA target's clock: `sla.first_response.due`.
    Sla(Target, SlaPart),
}

/// What of an SLA clock a fact names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlaPart {
    /// `running`, `paused`, `met` or `breached`.
    State,
    /// When it is (or was) due, RFC 3339.
    Due,
    /// `true` once it breached (also when the answer came late), else `false`.
    Breached,
}

/// How a fact's value prints in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactShape {
    /// Plain text.
    Text,
    /// A user id: prints as a mention.
    User,
    /// A channel id: prints as a channel link.
    Channel,
    /// A list of names.
    List,
}

/// A fact's value in one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactValue {
    /// Not set (no assignee, no customer…).
    Absent,
    /// One value.
    One(String),
    /// Several values (tags, changed fields).
    Many(Vec<String>),
}

impl FactValue {
    /// The values to compare against: none, one or several.
    pub fn items(&self) -> &[String] {
        match self {
            Self::Absent => &[],
            Self::One(v) => std::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }
}

/// What facts are read from.
#[derive(Debug, Clone, Copy)]
pub struct FactContext<'a> {
    /// The trigger.
    pub trigger: &'a Trigger,
    /// Its conversation, if it has one.
    pub conversation: Option<&'a Conversation>,
    /// The latest decided approval of the run, for the steps after it.
    pub approval: Option<&'a ApprovalDecision>,
}

impl<'a> FactContext<'a> {
    /// Facts of `trigger` and `conversation`, before any approval.
    pub fn new(trigger: &'a Trigger, conversation: Option<&'a Conversation>) -> Self {
        Self {
            trigger,
            conversation,
            approval: None,
        }
    }

    /// Input field `name` of a manual run.
    pub fn input(&self, name: &str) -> Option<&'a serde_json::Value> {
        match &self.trigger.event {
            TriggerEvent::Manual { inputs, .. } => inputs.get(name),
            _ => None,
        }
    }

    /// The approval the facts `decision`, `decided_by`… describe: the run's latest, or
    /// the trigger's.
    fn approval(&self) -> Option<&'a ApprovalDecision> {
        self.approval.or(match &self.trigger.event {
            TriggerEvent::ApprovalResponse { approval } => Some(approval),
            _ => None,
        })
    }
}

const CONVERSATION_KINDS: &[TriggerKind] = &[
    TriggerKind::ConversationCreated,
    TriggerKind::ConversationUpdated,
    TriggerKind::MessageReceived,
    TriggerKind::ReactionAdded,
    TriggerKind::Manual,
    TriggerKind::NoResponse,
    TriggerKind::NoReply,
    TriggerKind::Idle,
    TriggerKind::SlaWarning,
    TriggerKind::SlaBreached,
];
const MESSAGE_KINDS: &[TriggerKind] = &[
    TriggerKind::ConversationCreated,
    TriggerKind::MessageReceived,
];

impl Fact {
    /// Every fact, in documentation order.
    pub const ALL: [Fact; 35] = [
        Self::Id,
        Self::Title,
        Self::Status,
        Self::Priority,
        Self::TicketType,
        Self::Customer,
        Self::Requester,
        Self::Assignee,
        Self::Channel,
        Self::Tags,
        Self::Permalink,
        Self::Text,
        Self::Author,
        Self::Emoji,
        Self::Actor,
        Self::Changed,
        Self::User,
        Self::UserName,
        Self::UserRealName,
        Self::UserEmail,
        Self::UserTitle,
        Self::Decision,
        Self::DecidedBy,
        Self::DecisionReason,
        Self::ApprovalTitle,
        Self::SlaTarget,
        Self::Sla(Target::FirstResponse, SlaPart::State),
        Self::Sla(Target::FirstResponse, SlaPart::Due),
        Self::Sla(Target::FirstResponse, SlaPart::Breached),
        Self::Sla(Target::NextReply, SlaPart::State),
        Self::Sla(Target::NextReply, SlaPart::Due),
        Self::Sla(Target::NextReply, SlaPart::Breached),
        Self::Sla(Target::Resolution, SlaPart::State),
        Self::Sla(Target::Resolution, SlaPart::Due),
        Self::Sla(Target::Resolution, SlaPart::Breached),
    ];

    /// The fact's name in filters and templates.
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Title => "title",
            Self::Status => "status",
            Self::Priority => "priority",
            Self::TicketType => "ticket_type",
            Self::Customer => "customer",
            Self::Requester => "requester",
            Self::Assignee => "assignee",
            Self::Channel => "channel",
            Self::Tags => "tags",
            Self::Permalink => "permalink",
            Self::Text => "text",
            Self::Author => "author",
            Self::Emoji => "emoji",
            Self::Actor => "actor",
            Self::Changed => "changed",
            Self::User => "user",
            Self::UserName => "user_name",
            Self::UserRealName => "user_real_name",
            Self::UserEmail => "user_email",
            Self::UserTitle => "user_title",
            Self::Decision => "decision",
            Self::DecidedBy => "decided_by",
            Self::DecisionReason => "decision_reason",
            Self::ApprovalTitle => "approval_title",
            Self::SlaTarget => "sla_target",
            Self::Sla(target, part) => match (target, part) {
                (Target::FirstResponse, SlaPart::State) => "sla.first_response.state",
                (Target::FirstResponse, SlaPart::Due) => "sla.first_response.due",
                (Target::FirstResponse, SlaPart::Breached) => "sla.first_response.breached",
                (Target::NextReply, SlaPart::State) => "sla.next_reply.state",
                (Target::NextReply, SlaPart::Due) => "sla.next_reply.due",
                (Target::NextReply, SlaPart::Breached) => "sla.next_reply.breached",
                (Target::Resolution, SlaPart::State) => "sla.resolution.state",
                (Target::Resolution, SlaPart::Due) => "sla.resolution.due",
                (Target::Resolution, SlaPart::Breached) => "sla.resolution.breached",
            },
        }
    }

    /// Looks a fact up by name.
    pub fn from_name(name: &str) -> Option<Fact> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// How the value prints.
    pub fn shape(self) -> FactShape {
        match self {
            Self::Requester
            | Self::Assignee
            | Self::Author
            | Self::Actor
            | Self::User
            | Self::DecidedBy => FactShape::User,
            Self::Channel => FactShape::Channel,
            Self::Tags | Self::Changed => FactShape::List,
            _ => FactShape::Text,
        }
    }

    /// The trigger kinds for which this fact has a value.
    pub fn available_for(self) -> &'static [TriggerKind] {
        match self {
            Self::Text | Self::Author => MESSAGE_KINDS,
            Self::Emoji => &[TriggerKind::ReactionAdded],
            Self::Changed => &[TriggerKind::ConversationUpdated],
            Self::Actor => &TriggerKind::ALL,
            Self::User
            | Self::UserName
            | Self::UserRealName
            | Self::UserEmail
            | Self::UserTitle => &[TriggerKind::UserJoined],
            Self::Decision | Self::DecidedBy | Self::DecisionReason | Self::ApprovalTitle => {
                &[TriggerKind::ApprovalResponse]
            }
            Self::SlaTarget => &[TriggerKind::SlaWarning, TriggerKind::SlaBreached],
            _ => CONVERSATION_KINDS,
        }
    }

    /// Whether this fact has a value for triggers of `kind`.
    pub fn is_available_for(self, kind: TriggerKind) -> bool {
        self.available_for().contains(&kind)
    }

    /// Whether this fact describes an approval (and so has a value in the steps after
    /// an approval step, whatever the trigger).
    pub fn is_approval(self) -> bool {
        matches!(
            self,
            Self::Decision | Self::DecidedBy | Self::DecisionReason | Self::ApprovalTitle
        )
    }

    /// Whether this fact has a value in a step of an automation triggered by `kind`,
    /// placed after an approval step or not.
    pub fn is_available_in(self, kind: TriggerKind, after_approval: bool) -> bool {
        self.is_available_for(kind) || (after_approval && self.is_approval())
    }

    /// The fact's value in `ctx`.
    pub fn value(self, ctx: &FactContext<'_>) -> FactValue {
        let c = ctx.conversation;
        let event = &ctx.trigger.event;
        let joined = match event {
            TriggerEvent::UserJoined { user } => Some(user),
            _ => None,
        };
        let one = |v: Option<String>| v.map_or(FactValue::Absent, FactValue::One);
        match self {
            Self::Id => one(c.map(|c| c.id.to_string())),
            Self::Title => one(c.map(|c| c.title.clone())),
            Self::Status => one(c.map(|c| c.status.as_str().to_owned())),
            Self::Priority => one(c.map(|c| c.priority.as_str().to_owned())),
            Self::TicketType => one(c.map(|c| c.ticket_type.clone())),
            Self::Customer => one(c.and_then(|c| c.customer.clone())),
            Self::Requester => one(c.map(|c| c.requester.clone())),
            Self::Assignee => one(c.and_then(|c| c.assignee.clone())),
            Self::Channel => one(c.map(|c| c.channel.clone())),
            Self::Tags => c.map_or(FactValue::Absent, |c| FactValue::Many(c.tags.clone())),
            Self::Permalink => one(c.map(|c| c.permalink.clone())),
            Self::Text => one(event.message().map(|m| m.text.clone())),
            Self::Author => one(event.message().map(|m| m.user.clone())),
            Self::Emoji => match event {
                TriggerEvent::ReactionAdded { emoji, .. } => FactValue::One(emoji.clone()),
                _ => FactValue::Absent,
            },
            Self::Actor => one(ctx.trigger.actor.clone()),
            Self::Changed => match event {
                TriggerEvent::ConversationUpdated { changes } => FactValue::Many(
                    changes
                        .iter()
                        .map(|ch| ch.field.as_str().to_owned())
                        .collect(),
                ),
                _ => FactValue::Absent,
            },
            Self::User => one(joined.map(|u| u.id.clone())),
            Self::UserName => one(joined.map(|u| u.name.clone())),
            Self::UserRealName => one(joined.and_then(|u| u.real_name.clone())),
            Self::UserEmail => one(joined.and_then(|u| u.email.clone())),
            Self::UserTitle => one(joined.and_then(|u| u.title.clone())),
            Self::Decision => one(ctx.approval().map(|a| a.decision.clone())),
            Self::DecidedBy => one(ctx.approval().and_then(|a| a.decided_by.clone())),
            Self::DecisionReason => one(ctx.approval().and_then(|a| a.reason.clone())),
            Self::ApprovalTitle => one(ctx.approval().map(|a| a.title.clone())),
            Self::SlaTarget => one(event.sla().map(|a| a.target.as_str().to_owned())),
            Self::Sla(target, part) => {
                let Some(clock) = c.and_then(|c| c.sla.clocks.get(&target)) else {
                    return FactValue::Absent;
                };
                match part {
                    SlaPart::State => FactValue::One(clock.state.as_str().to_owned()),
                    SlaPart::Due => one(clock
                        .due_at
                        .or(clock.breached_at)
                        .map(crate::clock::format_ms)),
                    SlaPart::Breached => FactValue::One(clock.breached_at.is_some().to_string()),
                }
            }
        }
    }

    /// Trigger kind names for which this fact exists, for error messages.
    pub fn availability_text(self) -> String {
        let kinds = self.available_for();
        if kinds.len() == TriggerKind::ALL.len() {
            return "every trigger".to_owned();
        }
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// All fact names, for error messages.
pub fn fact_names() -> String {
    Fact::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}
