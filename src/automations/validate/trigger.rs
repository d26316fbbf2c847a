//! Checking the triggers that carry settings of their own: manual runs (input fields,
//! who may run them), webhooks (signatures) and schedules (cron, time zone).

use super::{Checker, path};
use crate::automations::definition::{InputKind, InputSpec, OneOrMany, SignatureSpec};
use crate::automations::{ManualRule, ScheduleRule, SilenceRule, duration};
use crate::conversations::sla::Target;
use crate::principal::Principal;

/// Slack's limit on a modal's blocks.
const MAX_INPUTS: usize = 20;
/// Slack's limit on a select's options.
const MAX_OPTIONS: usize = 100;
/// Slack's limit on an option's text (its value may be 150).
const MAX_OPTION_CHARS: usize = 75;

impl Checker<'_> {
    pub(super) fn manual(
        &mut self,
        inputs: &[InputSpec],
        allowed: &[String],
        needs_conversation: bool,
    ) -> Option<ManualRule> {
        let errors = self.errors.len();
        if inputs.len() > MAX_INPUTS {
            self.error(
                &path!["trigger", "inputs"],
                format!("at most {MAX_INPUTS} inputs fit in a Slack form"),
            );
        }
        for (i, input) in inputs.iter().enumerate() {
            self.input(input, i, &inputs[..i]);
        }
        let mut people = Vec::new();
        for (i, raw) in allowed.iter().enumerate() {
            match raw.parse::<Principal>() {
                Ok(Principal::Channel(_)) => self.error(
                    &path!["trigger", "allowed", i],
                    format!("{raw:?}: name users (U…) or user groups (@handle, S…), not channels"),
                ),
                Ok(p) => people.push(p),
                Err(e) => self.error(&path!["trigger", "allowed", i], e),
            }
        }
        (self.errors.len() == errors).then(|| ManualRule {
            inputs: inputs.to_vec(),
            allowed: people,
            needs_conversation,
        })
    }

    fn input(&mut self, input: &InputSpec, i: usize, before: &[InputSpec]) {
        let at = |key: &str| path!["trigger", "inputs", i, key];
        let name_ok = !input.name.is_empty()
            && input.name.len() <= 64
            && input
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            self.error(
                &at("name"),
                format!(
                    "{:?} is not an input name: use letters, digits and `_`",
                    input.name
                ),
            );
        } else if before.iter().any(|b| b.name == input.name) {
            self.error(
                &at("name"),
                format!("two inputs are named {:?}", input.name),
            );
        }
        if input.kind == InputKind::Select && input.options.is_empty() {
            self.error(
                &at("options"),
                "a `select` input needs `options` to choose from",
            );
        }
        if input.kind != InputKind::Select && !input.options.is_empty() {
            self.error(&at("options"), "only `select` inputs have `options`");
        }
        if input.options.len() > MAX_OPTIONS {
            self.error(
                &at("options"),
                format!(
                    "{} options: a Slack select offers at most {MAX_OPTIONS}",
                    input.options.len()
                ),
            );
        }
        if let Some(o) = input
            .options
            .iter()
            .find(|o| o.is_empty() || o.chars().count() > MAX_OPTION_CHARS)
        {
            self.error(
                &at("options"),
                format!("option {o:?}: options are 1 to {MAX_OPTION_CHARS} characters"),
            );
        }
        let numeric = input.min.is_some() || input.max.is_some();
        if numeric && input.kind != InputKind::Number {
            self.error(&at("min"), "only `number` inputs have `min` and `max`");
        }
        if let (Some(min), Some(max)) = (input.min, input.max)
            && min > max
        {
            self.error(&at("max"), format!("`max` ({max}) is below `min` ({min})"));
        }
        if let Some(default) = &input.default
            && let Err(why) = crate::manual::inputs::check_value(input, default)
        {
            self.error(
                &at("default"),
                format!("the default is not a valid value: {why}"),
            );
        }
    }

    pub(super) fn signature(&mut self, spec: &SignatureSpec) {
        if let Err(e) = crate::secrets::check_name(&spec.secret) {
            self.error(&path!["trigger", "signature", "secret"], e.to_string());
        }
        let header_ok = !spec.header.is_empty()
            && spec
                .header
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !header_ok {
            self.error(
                &path!["trigger", "signature", "header"],
                format!("{:?} is not an HTTP header name", spec.header),
            );
        }
    }

    pub(super) fn schedule(&mut self, cron: &str, timezone: Option<&str>) -> Option<ScheduleRule> {
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(cron);
        let cron_rule = match parsed {
            Ok(c) => Some(c),
            Err(e) => {
                self.error(
                    &path!["trigger", "cron"],
                    format!(
                        "{cron:?} is not a cron expression ({e}): write minute hour day-of-month month day-of-week, e.g. \"0 9 * * MON-FRI\""
                    ),
                );
                None
            }
        };
        let tz = match timezone {
            None => Some(chrono_tz::UTC),
            Some(name) => match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    self.error(
                        &path!["trigger", "timezone"],
                        format!("{name:?} is not a time zone: use an IANA name such as \"Europe/Berlin\" or \"America/New_York\""),
                    );
                    None
                }
            },
        };
        Some(ScheduleRule {
            expression: cron.trim().to_owned(),
            cron: cron_rule?,
            timezone: tz?,
        })
    }

    /// The `target` of an SLA trigger. Whether a policy has it is checked where the
    /// policies are known (`load_dir`).
    pub(super) fn sla_targets(&mut self, given: &OneOrMany) -> Vec<Target> {
        let mut targets = Vec::new();
        for (i, name) in given.to_vec().iter().enumerate() {
            let at = match given {
                OneOrMany::Many(_) => path!["trigger", "target", i].to_vec(),
                _ => path!["trigger", "target"].to_vec(),
            };
            match Target::from_name(name) {
                Some(t) => targets.push(t),
                None => self.error(
                    &at,
                    format!("{name:?} is not an SLA target: use first_response, next_reply or resolution"),
                ),
            }
        }
        targets
    }

    /// `after` and `business_hours` of a silence trigger. Whether the calendar exists
    /// is checked where the calendars are known (`load_dir`).
    pub(super) fn silence(
        &mut self,
        after: &str,
        business_hours: Option<&str>,
    ) -> Option<SilenceRule> {
        let parsed = match duration::parse(after) {
            Ok(d) if d.as_secs() >= 60 => Some(d),
            Ok(_) => {
                self.error(
                    &path!["trigger", "after"],
                    format!("{after:?} is shorter than a minute: silences are counted in minutes"),
                );
                None
            }
            Err(e) => {
                self.error(&path!["trigger", "after"], e);
                None
            }
        };
        if let Some(name) = business_hours
            && !crate::automations::calendars::is_name(name)
        {
            self.error(
                &path!["trigger", "business_hours"],
                format!("{name:?} is not a calendar name: use the file name of `calendars/<name>.toml` (letters, digits, - and _)"),
            );
            return None;
        }
        Some(SilenceRule {
            after: parsed?,
            after_text: after.trim().to_owned(),
            business_hours: business_hours.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::automations::{StoredScripts, compile};

    fn check(trigger: &str, action: &str) -> Result<crate::automations::Automation, Vec<String>> {
        let source = format!("[trigger]\n{trigger}\n[[actions]]\n{action}\n");
        compile(
            Path::new("automations/t.toml"),
            &source,
            &StoredScripts::default(),
        )
        .map_err(|errs| errs.iter().map(|d| d.to_string()).collect())
    }

    const POST: &str = "type = \"post\"\nchannel = \"C9\"\ntext = \"x\"";

    #[test]
    fn a_manual_automation_with_inputs_compiles() {
        let a = check(
            "type = \"manual\"\nallowed = [\"@support-leads\"]\n\
             inputs = [{ name = \"who\", type = \"user\" }, { name = \"size\", type = \"select\", options = [\"s\", \"l\"], default = \"s\" }]",
            "type = \"post\"\nchannel = \"C9\"\ntext = \"{{input.who}} wants {{input.size}}\"",
        )
        .unwrap();
        let manual = a.trigger.manual.unwrap();
        assert_eq!(manual.inputs.len(), 2);
        assert_eq!(manual.allowed.len(), 1);
    }

    #[test]
    fn schedules_read_cron_in_their_time_zone() {
        let a = check(
            "type = \"schedule\"\ncron = \"0 9 * * MON-FRI\"\ntimezone = \"Europe/Berlin\"",
            POST,
        )
        .unwrap();
        let schedule = a.trigger.schedule.unwrap();
        // Friday 2026-11-27 08:30 UTC is 09:30 in Berlin: the next tick is Monday 09:00
        // Berlin, 08:00 UTC.
        let friday = chrono::DateTime::parse_from_rfc3339("2026-11-27T08:30:00Z").unwrap();
        let next = schedule.next_after(friday.timestamp_millis()).unwrap();
        assert_eq!(
            chrono::DateTime::from_timestamp_millis(next)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
    }

    #[test]
    fn errors_point_at_the_trigger_settings() {
        let cases = [
            (
                "type = \"schedule\"\ncron = \"0 25 * * *\"",
                ":3:8:",
                "not a cron expression",
            ),
            (
                "type = \"schedule\"\ncron = \"0 9 * * *\"\ntimezone = \"Mars/Olympus\"",
                ":4:12:",
                "not a time zone",
            ),
            (
                "type = \"manual\"\ninputs = [{ name = \"a b\" }]",
                ":3:20:",
                "not an input name",
            ),
            (
                "type = \"manual\"\ninputs = [{ name = \"x\", type = \"select\" }]",
                ":3:11:",
                "needs `options`",
            ),
            (
                "type = \"manual\"\ninputs = [{ name = \"n\", type = \"number\", max = 5, default = 9 }]",
                ":3:",
                "at most 5",
            ),
            (
                "type = \"manual\"\nallowed = [\"C0123ABCD\"]",
                ":3:12:",
                "not channels",
            ),
            (
                "type = \"webhook\"\nsignature = { secret = \"bad name\" }",
                ":3:",
                "secret",
            ),
        ];
        for (trigger, position, words) in cases {
            let errors = check(trigger, POST).unwrap_err();
            assert!(
                errors[0].contains(position) && errors[0].contains(words),
                "{trigger}\nwant {position} {words:?}, got {errors:?}"
            );
        }
        let many: Vec<String> = (0..=super::MAX_OPTIONS)
            .map(|i| format!("\"o{i}\""))
            .collect();
        let trigger = format!(
            "type = \"manual\"\ninputs = [{{ name = \"x\", type = \"select\", options = [{}] }}]",
            many.join(", ")
        );
        let errors = check(&trigger, POST).unwrap_err();
        assert!(
            errors[0].contains("a Slack select offers at most 100"),
            "{errors:?}"
        );
        let long =
            "type = \"manual\"\ninputs = [{ name = \"x\", type = \"select\", options = [\"\"] }]";
        assert!(check(long, POST).unwrap_err()[0].contains("options are 1 to 75 characters"));
        let errors = check(
            "type = \"manual\"\ninputs = [{ name = \"who\" }]",
            "type = \"post\"\nchannel = \"C9\"\ntext = \"{{input.whom}}\"",
        )
        .unwrap_err();
        assert!(
            errors[0].contains("`input.whom` is not an input of this automation; its inputs: who"),
            "{errors:?}"
        );
    }
}
