//! Automation definition files: one TOML file per automation in the automations
//! directory, checked with precise positions, loaded at startup and on change, and
//! stored with a version number so every run records the version it ran.

pub mod calendars;
mod condition;
pub mod definition;
pub mod diagnostic;
pub(crate) mod duration;
mod load;
mod registry;
pub mod reload;
mod scripts;
pub mod slas;
mod validate;

pub use diagnostic::Diagnostic;
pub use load::{LoadReport, load_dir};
pub use registry::{Registry, VersionedAutomation};
pub use scripts::{DirScripts, ScriptFiles, StoredScripts};
pub use validate::compile;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::actions::Action;
use crate::automations::definition::{InputSpec, SignatureSpec};
use crate::conversations::Field;
use crate::principal::Principal;
use crate::rules::filter::Filter;
use crate::trigger::TriggerKind;

/// A checked automation, ready to match triggers and run.
#[derive(Debug, Clone)]
pub struct Automation {
    /// Stable id: the file name without `.toml`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Secrets its scripts may read.
    pub secrets: Vec<String>,
    /// When it runs.
    pub trigger: TriggerRule,
    /// Conditions to meet.
    pub filter: Option<Filter>,
    /// Steps, in order; the steps of an approval's branches follow it.
    pub steps: Vec<Step>,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The file's text, stored with each version.
    pub source: String,
    /// The scripts its `code` steps run: file name → TypeScript, stored with each version.
    pub scripts: BTreeMap<String, String>,
    /// SHA-256 of the source and the scripts: a new hash is a new version.
    pub content_hash: String,
}

/// Whether some automation of `automations` may wait for something in its
/// conversation (a `wait` with `until`, or a script, which may call `waitFor`): then
/// the ingest wakes waiting runs when a conversation moves.
pub fn wait_until_something(automations: &[VersionedAutomation]) -> bool {
    automations.iter().any(|a| {
        a.automation.steps.iter().any(|s| {
            matches!(
                s.action,
                Action::Wait { until: Some(_), .. } | Action::Code(_)
            )
        })
    })
}

/// The queue lane of runs whose automation has script steps.
pub const SCRIPT_LANE: &str = "script";
/// The queue lane of all other runs.
pub const DEFAULT_LANE: &str = "default";

impl Automation {
    /// Which queue lane its runs wait in: runs with script steps are served by as many
    /// workers as there are sandboxes, so they never hold up the other runs.
    pub fn lane(&self) -> &'static str {
        if self
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Code(_)))
        {
            SCRIPT_LANE
        } else {
            DEFAULT_LANE
        }
    }
}

/// The trigger part of an automation.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRule {
    /// Which kind of trigger.
    pub kind: TriggerKind,
    /// For `conversation_updated`: only these fields (empty: any).
    pub fields: Vec<Field>,
    /// For `reaction_added`: only these emoji (empty: any).
    pub emoji: Vec<String>,
    /// For `approval_response`: only requests of these automations (empty: any).
    pub automations: Vec<String>,
    /// For `manual`: inputs, who may run it, whether it needs a conversation.
    pub manual: Option<ManualRule>,
    /// For `webhook`: how callers sign their calls.
    pub signature: Option<SignatureSpec>,
    /// For `schedule`: when.
    pub schedule: Option<ScheduleRule>,
    /// For `no_response`, `no_reply` and `idle`: how long a silence lasts.
    pub silence: Option<SilenceRule>,
    /// For `sla_warning` and `sla_breached`: only these targets (empty: any).
    pub sla_targets: Vec<crate::conversations::sla::Target>,
}

/// How long a conversation must be silent before an automation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRule {
    /// How long.
    pub after: std::time::Duration,
    /// As written (`30m`), for the trigger's record.
    pub after_text: String,
    /// The business-hours calendar it is counted in, if any.
    pub business_hours: Option<String>,
}

/// How an automation is started by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualRule {
    /// The fields to fill in first, checked.
    pub inputs: Vec<InputSpec>,
    /// Who may run it besides the global admins.
    pub allowed: Vec<Principal>,
    /// Whether it must be started from a conversation.
    pub needs_conversation: bool,
}

/// When a scheduled automation runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRule {
    /// The cron expression as written.
    pub expression: String,
    /// Parsed.
    pub cron: croner::Cron,
    /// The time zone it is read in.
    pub timezone: chrono_tz::Tz,
}

impl ScheduleRule {
    /// The first tick strictly after `after_ms` (ms since the epoch), if there is one.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after =
            chrono::DateTime::from_timestamp_millis(after_ms)?.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&after, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// One step of an automation.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The approval branch it belongs to; it is skipped when the decision differs.
    pub branch: Option<Branch>,
}

/// A step's place in an approval's branches (or a wait's `on_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Branch {
    /// The index of the approval (or `wait … until`) step.
    pub approval_step: usize,
    /// The decision this branch runs on: `approved`, `denied` or `expired` (or a
    /// wait's `timed_out`).
    pub decision: &'static str,
}
