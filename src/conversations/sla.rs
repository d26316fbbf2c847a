//! A conversation's SLA state: one clock per target, stored with the conversation (so
//! filters, templates and scripts read it with the conversation, at no extra cost).
//! How clocks start, pause and end is `crate::sla`'s business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an SLA measures.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// From the request to the team's first answer.
    FirstResponse,
    /// From the requester's message after an answer to the team's next answer.
    NextReply,
    /// From the request to its resolution.
    Resolution,
}

impl Target {
    /// Every target, in documentation order.
    pub const ALL: [Target; 3] = [Self::FirstResponse, Self::NextReply, Self::Resolution];

    /// The name in files, facts and triggers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::NextReply => "next_reply",
            Self::Resolution => "resolution",
        }
    }

    /// Looks a target up by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a target's clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting toward its due time.
    Running,
    /// Stopped while the conversation waits for the requester (`pending`).
    Paused,
    /// The awaited thing happened in time.
    Met,
    /// The due time passed first.
    Breached,
}

impl ClockState {
    /// The name in facts and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Met => "met",
            Self::Breached => "breached",
        }
    }
}

/// One target's clock. Times are ms since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    /// The policy that set it.
    pub policy: String,
    /// Where it stands.
    pub state: ClockState,
    /// When this clock started (for `next_reply`, the requester's unanswered message).
    pub started_at: i64,
    /// Counted time (working time, in the policy's calendar) up to `resumed_at`, or
    /// all of it while not running.
    pub used_ms: i64,
    /// When it last started counting; `None` unless running.
    pub resumed_at: Option<i64>,
    /// When it breaches (running), or breached.
    pub due_at: Option<i64>,
    /// When the warning falls due, if the target has one.
    pub warn_at: Option<i64>,
    /// When the warning was given.
    pub warned_at: Option<i64>,
    /// When it was met (also after a breach: the answer came late).
    pub met_at: Option<i64>,
    /// When it breached.
    pub breached_at: Option<i64>,
}

/// A conversation's SLA state: its clocks, and what they are started from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    /// The clocks, by target.
    #[serde(default)]
    pub clocks: BTreeMap<Target, SlaClock>,
    /// When the team first answered (or opened the conversation itself).
    #[serde(default)]
    pub answered_at: Option<i64>,
    /// The requester side's first message since the team last answered.
    #[serde(default)]
    pub waiting_since: Option<i64>,
}

impl Sla {
    /// Whether there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
