//! Built-in actions: what one step of an automation does.
//!
//! Each action is executed by [`execute`] with a [`StepContext`] and returns a
//! [`StepOutcome`]: its output (journaled) and any conversation changes (applied in the
//! same transaction as the journal entry, producing `conversation_updated`).
//!
//! Adding an action: add a variant to `automations::definition::ActionSpec` and to
//! [`Action`], compile it in `automations::validate`, and execute it here in its own file.

mod approval;
mod code;
mod execute;
mod patch;
pub mod wait;

pub use execute::{GroupCache, StepContext, StepError, StepOutcome, Wait, execute};

use crate::approvals::{Principal, Rules};
use crate::conversations::{Priority, Status};
use crate::template::Template;

/// A checked action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Reply in the conversation's thread.
    Reply {
        /// Message text.
        text: Template,
    },
    /// Post to a channel.
    Post {
        /// Channel id or name.
        channel: Template,
        /// Message text.
        text: Template,
    },
    /// Direct message to a user.
    Dm {
        /// User id.
        user: Template,
        /// Message text.
        text: Template,
    },
    /// Add a reaction to the triggering message.
    React {
        /// Emoji name.
        emoji: String,
    },
    /// Change conversation fields.
    SetFields(SetFields),
    /// Run a TypeScript script in the sandbox.
    Code(CodeAction),
    /// Ask people to decide, and wait for them.
    Approval(ApprovalAction),
    /// Pause the run for a while (no worker is held).
    Wait {
        /// How long.
        duration: std::time::Duration,
        /// What ends it early, if anything.
        until: Option<Until>,
    },
    /// Mention a user group in a channel.
    Page {
        /// User group id (`S…`) or handle without `@`.
        group: String,
        /// Channel id or name.
        channel: Template,
        /// Message text; `{{group}}` is not a fact, the mention is prepended.
        text: Template,
    },
}

/// What ends a `wait` early; any one of its parts does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Until {
    /// A reply in the thread from this side.
    pub reply_from: Option<crate::automations::definition::ReplyFrom>,
    /// The status becomes one of these.
    pub status: Vec<Status>,
    /// One of these fields changes.
    pub field_changes: Vec<crate::conversations::Field>,
}

/// The `code` action: a transpiled script.
#[derive(Debug, Clone)]
pub struct CodeAction {
    /// The script's file name, as written in the automation.
    pub file: String,
    /// Its JavaScript and line map.
    pub compiled: std::sync::Arc<crate::script::transpile::Compiled>,
}

/// The `approval` action, checked.
#[derive(Debug, Clone)]
pub struct ApprovalAction {
    /// Who may decide.
    pub approvers: Vec<Principal>,
    /// Post the request in this channel instead of by DM.
    pub channel: Option<Template>,
    /// Headline.
    pub title: Template,
    /// Details.
    pub text: Template,
    /// How it is decided.
    pub rules: Rules,
}

/// The `set_fields` action.
#[derive(Debug, Clone, Default)]
pub struct SetFields {
    /// New status.
    pub status: Option<Status>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New ticket type.
    pub ticket_type: Option<String>,
    /// New assignee; renders to a user id, or to nothing to unassign.
    pub assignee: Option<Template>,
    /// Replace all tags.
    pub tags: Option<Vec<String>>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to remove.
    pub remove_tags: Vec<String>,
}

impl Action {
    /// The action's type name, as in files and run records.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Reply { .. } => "reply",
            Self::Post { .. } => "post",
            Self::Dm { .. } => "dm",
            Self::React { .. } => "react",
            Self::SetFields(_) => "set_fields",
            Self::Page { .. } => "page",
            Self::Code(_) => "code",
            Self::Approval(_) => "approval",
            Self::Wait { .. } => "wait",
        }
    }
}
