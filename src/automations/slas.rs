//! SLA policies as people write them: `slas/<name>.toml` beside the automation files,
//! one policy per file, tried in file-name order (the first that applies wins: name
//! them `10-critical.toml`, `20-high.toml`, `90-default.toml`).
//!
//! ```toml
//! business_hours = "emea"        # default for the targets; omit for calendar time
//! pause_when = ["pending"]       # the default
//! [applies_to]                   # all given must hold; omit for every conversation
//! priority = ["critical"]
//! [first_response]
//! within = "15m"
//! warn_before = "5m"
//! [resolution]
//! within = "4h"
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::Diagnostic;
use super::calendars::{self, Calendars};
use super::diagnostic::{Locator, Seg, path};
use super::duration;
use crate::conversations::sla::Target;
use crate::conversations::{Priority, Status};
use crate::sla::{Policies, Policy, TargetRule};

/// The folder of the automations directory that holds SLA policies.
pub const DIR: &str = "slas";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    business_hours: Option<String>,
    pause_when: Option<Vec<Status>>,
    #[serde(default)]
    applies_to: AppliesSpec,
    first_response: Option<TargetSpec>,
    next_reply: Option<TargetSpec>,
    resolution: Option<TargetSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppliesSpec {
    #[serde(default)]
    priority: Vec<Priority>,
    #[serde(default)]
    ticket_type: Vec<String>,
    #[serde(default)]
    customer: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    within: String,
    warn_before: Option<String>,
    business_hours: Option<String>,
}

/// Loads `dir/slas/*.toml` against `calendars`: the policies that check out, in
/// order, and every problem, with the names of the files that failed.
pub fn load(dir: &Path, calendars: &Calendars) -> (Policies, Vec<Diagnostic>, Vec<String>) {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    for file in super::load::toml_files(&dir.join(DIR)) {
        let checked =
            super::load::read(&file).and_then(|source| compile(&file, &source, calendars));
        match checked {
            Ok(p) => policies.push(Arc::new(p)),
            Err(mut e) => {
                errors.append(&mut e);
                failed.extend(file.file_stem().and_then(|s| s.to_str()).map(str::to_owned));
            }
        }
    }
    (Policies(policies), errors, failed)
}

/// Checks one policy file; its name is the file's stem.
pub fn compile(
    file: &Path,
    source: &str,
    calendars: &Calendars,
) -> Result<Policy, Vec<Diagnostic>> {
    let locator = Locator::new(file.to_path_buf(), source);
    let spec: PolicySpec = toml::from_str(source).map_err(|e| {
        vec![locator.at_offset(e.span().map_or(0, |s| s.start), e.message().trim())]
    })?;
    let mut errors = Vec::new();
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if !calendars::is_name(&name) {
        errors.push(locator.at_offset(
            0,
            format!(
                "{name:?} cannot name an SLA policy: rename the file to letters, digits, - and _"
            ),
        ));
    }
    let calendar = |name: &Option<String>, at: &[Seg], errors: &mut Vec<Diagnostic>| {
        let name = name.as_deref()?;
        if calendars.get(name).is_some() {
            return Some(name.to_owned());
        }
        errors.push(locator.at_path(at, calendars::unknown(name, calendars)));
        None
    };
    let default_calendar = calendar(&spec.business_hours, &path!["business_hours"], &mut errors);
    let mut targets = BTreeMap::new();
    for (target, given) in [
        (Target::FirstResponse, &spec.first_response),
        (Target::NextReply, &spec.next_reply),
        (Target::Resolution, &spec.resolution),
    ] {
        let Some(t) = given else { continue };
        let key = target.as_str();
        let time =
            |text: &str, field: &str, errors: &mut Vec<Diagnostic>| match duration::parse(text) {
                Ok(d) => chrono::Duration::from_std(d).ok(),
                Err(e) => {
                    errors.push(locator.at_path(&path![key, field], e));
                    None
                }
            };
        let within = time(&t.within, "within", &mut errors);
        let warn_before = t
            .warn_before
            .as_deref()
            .map(|w| time(w, "warn_before", &mut errors));
        if let (Some(within), Some(Some(warn))) = (within, warn_before)
            && warn >= within
        {
            errors.push(locator.at_path(
                &path![key, "warn_before"],
                "the warning must come before the due time: make warn_before shorter than within",
            ));
        }
        let own = calendar(
            &t.business_hours,
            &path![key, "business_hours"],
            &mut errors,
        );
        if let Some(within) = within {
            targets.insert(
                target,
                TargetRule {
                    within,
                    warn_before: warn_before.flatten(),
                    business_hours: own.or_else(|| default_calendar.clone()),
                },
            );
        }
    }
    if targets.is_empty() && errors.is_empty() {
        errors.push(locator.at_offset(
            0,
            "the policy has no target: add [first_response], [next_reply] or [resolution] with `within`",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Policy {
        name,
        priorities: spec.applies_to.priority,
        ticket_types: spec.applies_to.ticket_type,
        customers: spec.applies_to.customer,
        pause_when: spec.pause_when.unwrap_or_else(|| vec![Status::Pending]),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendars() -> Calendars {
        Calendars::of([calendars::compile(
            Path::new("calendars/emea.toml"),
            "timezone = \"Europe/Berlin\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
        )
        .unwrap()])
    }

    fn check(source: &str) -> Result<Policy, Vec<String>> {
        compile(Path::new("slas/10-critical.toml"), source, &calendars())
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_policy_file_reads_into_a_policy() {
        let p = check(
            "business_hours = \"emea\"\n[applies_to]\npriority = [\"critical\"]\n[first_response]\nwithin = \"15m\"\nwarn_before = \"5m\"\nbusiness_hours = \"emea\"\n[resolution]\nwithin = \"4h\"\n",
        )
        .unwrap();
        assert_eq!(p.name, "10-critical");
        assert_eq!(p.priorities, [Priority::Critical]);
        assert_eq!(p.pause_when, [Status::Pending]);
        let first = &p.targets[&Target::FirstResponse];
        assert_eq!(first.within, chrono::Duration::minutes(15));
        assert_eq!(first.warn_before, Some(chrono::Duration::minutes(5)));
        assert_eq!(
            p.targets[&Target::Resolution].business_hours.as_deref(),
            Some("emea"),
            "the policy's calendar is the targets' default"
        );
        assert!(!p.targets.contains_key(&Target::NextReply));
    }

    #[test]
    fn errors_point_at_what_is_wrong() {
        let cases = [
            (
                "[first_response]\nwithin = \"soon\"\n",
                "10-critical.toml:2:10:",
                "not a duration",
            ),
            (
                "[first_response]\nwithin = \"15m\"\nbusiness_hours = \"apac\"\n",
                "10-critical.toml:3:18:",
                "no calendar \"apac\": the calendars are: emea",
            ),
            (
                "[resolution]\nwithin = \"1h\"\nwarn_before = \"2h\"\n",
                "10-critical.toml:3:15:",
                "warning must come before",
            ),
            (
                "[applies_to]\npriority = [\"urgent\"]\n[resolution]\nwithin = \"1h\"\n",
                "10-critical.toml:2:",
                "unknown variant `urgent`",
            ),
            (
                "pause_when = [\"pending\"]\n",
                "10-critical.toml:1:1:",
                "has no target",
            ),
            (
                "[first_reply]\nwithin = \"1h\"\n",
                "10-critical.toml:1:",
                "unknown field `first_reply`",
            ),
        ];
        for (source, at, says) in cases {
            let errors = check(source).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(at) && e.contains(says)),
                "{source:?}: {errors:?}"
            );
        }
    }
}
