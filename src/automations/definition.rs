//! The automation file format, as written by people (TOML). These types are only the
//! shape; `validate` turns them into a checked [`crate::automations::Automation`].
//! The JSON Schema in `schema/automation.schema.json` is generated from these types
//! (`switchboard schema`), and a test keeps the committed copy current.
//!
//! Adding an action: add a variant to [`ActionSpec`], compile it in `validate`, and
//! execute it in `actions`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::condition::ConditionSpec;
use crate::conversations::{Field, Priority, Status};

/// One automation file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "switchboard automation")]
pub struct DefinitionSpec {
    /// Human-readable name; defaults to the file name.
    pub name: Option<String>,
    /// What the automation is for.
    pub description: Option<String>,
    /// A disabled automation is loaded and checked but never runs.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Secrets its scripts may read with `secrets.get` (integration helpers read their
    /// own credentials and need no declaration).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// When the automation runs.
    pub trigger: TriggerSpec,
    /// Conditions the trigger and its conversation must meet.
    pub filter: Option<ConditionSpec>,
    /// What the automation does, in order. Each action is one journaled step.
    pub actions: Vec<ActionSpec>,
}

fn enabled_default() -> bool {
    true
}

/// When an automation runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerSpec {
    /// A top-level message in a support channel opened a conversation.
    ConversationCreated {},
    /// A conversation's fields changed.
    ConversationUpdated {
        /// Only when one of these fields changed (default: any field).
        #[serde(default)]
        fields: Vec<Field>,
    },
    /// A reply arrived in a conversation's thread.
    MessageReceived {},
    /// Someone reacted to one of a conversation's messages.
    ReactionAdded {
        /// Only for these emoji (names without colons, e.g. `bangbang`); default: any.
        #[serde(default)]
        emoji: OneOrMany,
    },
    /// A user joined the workspace.
    UserJoined {},
    /// An approval request was decided or expired.
    ApprovalResponse {
        /// Only for requests of these automations (ids, i.e. file names without
        /// `.toml`); default: any.
        #[serde(default)]
        automation: OneOrMany,
    },
    /// Started by hand: `/switchboard run`, the "Run automation" message shortcut, or
    /// `switchboard run` on the command line.
    Manual {
        /// Fields the person fills in first (a Slack form); scripts read them as
        /// `ctx.inputs`, templates as `{{input.name}}`.
        #[serde(default)]
        inputs: Vec<InputSpec>,
        /// Who may run it: user ids and user groups (`@handle` or `S…`), in addition to
        /// the global `manual.admins`. Default: the global admins only (and, when none
        /// are configured, the workspace's admins and owners).
        #[serde(default)]
        allowed: Vec<String>,
        /// Whether it must be started from a conversation (the message shortcut, or
        /// `/switchboard run ID <conversation>`); default false.
        #[serde(default)]
        needs_conversation: bool,
    },
    /// A call of the automation's own URL, `/hooks/<token>` (see `switchboard
    /// automations show`).
    Webhook {
        /// Verify that the caller signed the body (HMAC-SHA256), as GitHub, Jira or
        /// PagerDuty do; default: no signature (the unguessable URL is the secret).
        signature: Option<SignatureSpec>,
    },
    /// On a schedule.
    Schedule {
        /// A cron expression: minute hour day-of-month month day-of-week, e.g.
        /// `0 9 * * MON-FRI` (9:00 on weekdays).
        cron: String,
        /// The time zone the expression is read in (IANA name); default UTC.
        timezone: Option<String>,
    },
    /// The requester side spoke last and nobody of the support team (`support.team`)
    /// answered for `after`: the clock starts at the requester's first unanswered
    /// message and stops when a team member replies. Fires once per silence.
    NoResponse {
        /// How long: `30m`, `4h`, `1d`, or combined like `1h30m`.
        after: String,
        /// Count only the open hours of this calendar (`calendars/<name>.toml` beside
        /// the automations); default: all the time.
        business_hours: Option<String>,
    },
    /// The support team spoke last and the requester side did not answer for `after`
    /// ("the customer went quiet"): the clock starts at the team's latest message and
    /// stops when anyone else replies. Fires once per silence.
    NoReply {
        /// How long: `30m`, `4h`, `2d`, or combined like `1d12h`.
        after: String,
        /// Count only the open hours of this calendar; default: all the time.
        business_hours: Option<String>,
    },
    /// An SLA target (`slas/*.toml`) of a conversation is about to breach: its
    /// `warn_before` time came. Fires once per conversation and deadline.
    SlaWarning {
        /// Only for these targets (`first_response`, `next_reply`, `resolution`);
        /// default: any.
        #[serde(default)]
        target: OneOrMany,
    },
    /// An SLA target of a conversation breached: its due time passed before the
    /// awaited answer or resolution. Fires once per conversation and deadline.
    SlaBreached {
        /// Only for these targets (`first_response`, `next_reply`, `resolution`);
        /// default: any.
        #[serde(default)]
        target: OneOrMany,
    },
    /// Nobody wrote in the conversation for `after`: every message starts the clock
    /// again. Fires once per silence.
    Idle {
        /// How long: `30m`, `4h`, `2d`, or combined like `1d12h`.
        after: String,
        /// Count only the open hours of this calendar; default: all the time.
        business_hours: Option<String>,
    },
}

/// An input field of a manual automation.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Name in `ctx.inputs` and `{{input.name}}`: letters, digits and `_`.
    pub name: String,
    /// Label in the form; default: the name.
    pub label: Option<String>,
    /// What kind of value; default `text`.
    #[serde(rename = "type", default)]
    pub kind: InputKind,
    /// Whether it must be filled; default true.
    #[serde(default = "enabled_default")]
    pub required: bool,
    /// Value the form starts with.
    pub default: Option<serde_json::Value>,
    /// For `select`: the choices.
    #[serde(default)]
    pub options: Vec<String>,
    /// Hint shown in an empty text field.
    pub placeholder: Option<String>,
    /// For `number`: the smallest value allowed.
    pub min: Option<f64>,
    /// For `number`: the largest value allowed.
    pub max: Option<f64>,
}

/// The kinds of input field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// One line of text.
    #[default]
    Text,
    /// Several lines of text.
    Multiline,
    /// A number.
    Number,
    /// One of `options`.
    Select,
    /// A Slack user (its id).
    User,
    /// A Slack channel (its id).
    Channel,
    /// A date (`YYYY-MM-DD`).
    Date,
}

/// How a webhook's caller signs its calls.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// The secret holding the shared key (`switchboard secrets set NAME`).
    pub secret: String,
    /// The header carrying the signature; default `X-Hub-Signature-256` (GitHub).
    #[serde(default = "signature_header_default")]
    pub header: String,
    /// What precedes the hex digest in the header; default `sha256=`. Several
    /// comma-separated signatures are accepted (PagerDuty sends `v1=…,v1=…`).
    #[serde(default = "signature_prefix_default")]
    pub prefix: String,
}

fn signature_header_default() -> String {
    "X-Hub-Signature-256".into()
}

fn signature_prefix_default() -> String {
    "sha256=".into()
}

/// A single string or a list of strings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// Nothing given.
    #[default]
    #[schemars(skip)]
    None,
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(v) => vec![v.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// One step of an automation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// Reply in the conversation's thread.
    Reply {
        /// Message text (a template).
        text: String,
    },
    /// Post a message to a channel.
    Post {
        /// Channel id (`C…`), name (`#support-leads`) or a template such as `{{channel.id}}`.
        channel: String,
        /// Message text (a template).
        text: String,
    },
    /// Send a direct message.
    Dm {
        /// User id (`U…`) or a template such as `{{requester.id}}`.
        user: String,
        /// Message text (a template).
        text: String,
    },
    /// Add a reaction to the message that triggered (or the conversation's first message).
    React {
        /// Emoji name without colons, e.g. `eyes`.
        emoji: String,
    },
    /// Change conversation fields; produces a `conversation_updated` trigger.
    SetFields {
        /// New status.
        status: Option<Status>,
        /// New priority.
        priority: Option<Priority>,
        /// New ticket type.
        ticket_type: Option<String>,
        /// New assignee: a user id or a template such as `{{actor.id}}`; `""` unassigns.
        assignee: Option<String>,
        /// Replace all tags.
        tags: Option<Vec<String>>,
        /// Tags to add.
        #[serde(default)]
        add_tags: Vec<String>,
        /// Tags to remove.
        #[serde(default)]
        remove_tags: Vec<String>,
    },
    /// Page a user group: mention it in a channel with a link to the conversation.
    Page {
        /// User group id (`S…`) or handle (`@oncall`).
        group: String,
        /// Channel to page in: id, name or template.
        channel: String,
        /// Message text (a template); default: the title, priority and link.
        text: Option<String>,
    },
    /// Run a TypeScript script (see `switchboard.d.ts` for what it can use).
    Code {
        /// The script file, relative to this automation file, e.g. `critical-to-jira.ts`.
        file: String,
    },
    /// Ask people to approve or deny, and wait (minutes or days, across restarts) for
    /// their decision; then run the steps of the matching branch. The facts
    /// `decision`, `decided_by`, `decision_reason` and `approval_title` are set for
    /// every step after it.
    Approval(Box<ApprovalSpec>),
    /// Pause the run, e.g. for a follow-up the next day. The run holds no worker while
    /// it waits, and survives restarts.
    Wait {
        /// How long: `90s`, `30m`, `4h`, `1d`, `1w`, or combined like `1d12h`.
        #[serde(rename = "for")]
        duration: String,
        /// End the wait early when this happens in the conversation (a reply, a
        /// status, a field change); the step's `decision` is then `ended`, else
        /// `timed_out`.
        until: Option<UntilSpec>,
        /// Steps run only when the time ran out first (`until` did not happen).
        #[serde(default)]
        on_timeout: Vec<ActionSpec>,
    },
}

/// What ends a `wait` early; any one of those given does.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntilSpec {
    /// A reply in the thread from this side: `requester` (anyone outside the support
    /// team), `team` (`support.team`) or `anyone`.
    pub reply_from: Option<ReplyFrom>,
    /// The status becomes one of these.
    #[serde(default)]
    pub status: Vec<Status>,
    /// One of these fields changes.
    #[serde(default)]
    pub field_changes: Vec<Field>,
}

/// Whose reply ends a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyFrom {
    /// Anyone outside the support team.
    Requester,
    /// A member of the support team.
    Team,
    /// Anyone (not bots).
    Anyone,
}

/// The `approval` action.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// Who may decide: user ids (`U0123ABCD`), user groups (`@it-managers` or
    /// `S0123ABCD`: their members) and channels (`C0123ABCD`: their members; the
    /// request is posted there). Users and group members get the request by DM.
    pub approvers: Vec<String>,
    /// Post the request in this channel only (id, name or template) instead of by DM.
    pub channel: Option<String>,
    /// Headline (a template); default: "Approval needed: {{title}}".
    pub title: Option<String>,
    /// What is asked, in mrkdwn (a template); default: the conversation's title,
    /// requester and link.
    pub text: Option<String>,
    /// Whether deciders give a reason (`none`, `optional`, `required`); default `none`.
    #[serde(default = "reason_default")]
    pub reason: crate::approvals::ReasonMode,
    /// Approvals needed to approve; default 1.
    #[serde(default = "quorum_default")]
    pub quorum: u32,
    /// Whether the requester may approve their own request; default false.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// Whether one deny decides at once; default true. When false, the request is
    /// denied once the quorum can no longer be reached.
    #[serde(default = "enabled_default")]
    pub first_deny_wins: bool,
    /// Expire after this long without a decision, e.g. `30m`, `4h`, `2d`; default: never.
    pub expires_in: Option<String>,
    /// Remind the approvers after this long, e.g. `4h`; default: no reminder.
    pub remind_after: Option<String>,
    /// Steps run when the request is approved.
    #[serde(default)]
    pub on_approved: Vec<ActionSpec>,
    /// Steps run when it is denied.
    #[serde(default)]
    pub on_denied: Vec<ActionSpec>,
    /// Steps run when it expires.
    #[serde(default)]
    pub on_expired: Vec<ActionSpec>,
}

fn reason_default() -> crate::approvals::ReasonMode {
    crate::approvals::ReasonMode::None
}

fn quorum_default() -> u32 {
    1
}

impl ActionSpec {
    /// The action's `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Reply { .. } => "reply",
            Self::Post { .. } => "post",
            Self::Dm { .. } => "dm",
            Self::React { .. } => "react",
            Self::SetFields { .. } => "set_fields",
            Self::Page { .. } => "page",
            Self::Code { .. } => "code",
            Self::Approval(_) => "approval",
            Self::Wait { .. } => "wait",
        }
    }
}

/// The JSON Schema of automation files, as committed in `schema/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(DefinitionSpec);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
