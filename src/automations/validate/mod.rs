//! From file text to a checked [`Automation`], or to every problem found, each with
//! file, line and column. Syntax errors come first (all of them); then the shape
//! (serde, one error); then meaning (all of them): unknown fields, filters that cannot
//! hold for the trigger, bad regexes, template placeholders, actions that need a
//! conversation on a trigger without one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};
use toml::de::DeTable;

use super::condition::{ConditionSpec, OpSpec};
use super::definition::{ActionSpec, DefinitionSpec, TriggerSpec};
use super::diagnostic::{Diagnostic, Locator, Seg, path};
use super::{Automation, Branch, ScriptFiles, Step, TriggerRule};
use crate::actions::{Action, CodeAction, SetFields};
use crate::conversations::{Field, Priority, Status};
use crate::rules::facts::{Fact, fact_names};
use crate::rules::filter::{Filter, Op};
use crate::script::transpile::{TranspileCache, secret_reads};
use crate::template::Template;
use crate::trigger::TriggerKind;

mod approval;
mod trigger;

/// Syntax errors reported per file: past these, the rest of a broken file says nothing
/// new (a stray byte repeated thousands of times is one mistake).
const MAX_SYNTAX_ERRORS: usize = 100;

/// Checks one automation file. `file` is used for the id (its stem) and in messages;
/// the scripts of its `code` steps are read from `scripts`.
pub fn compile(
    file: &Path,
    source: &str,
    scripts: &dyn ScriptFiles,
) -> Result<Automation, Vec<Diagnostic>> {
    let locator = Locator::new(file.to_path_buf(), source);

    let (_, syntax_errors) = DeTable::parse_recoverable(source);
    if !syntax_errors.is_empty() {
        let mut shown: Vec<Diagnostic> = syntax_errors
            .iter()
            .take(MAX_SYNTAX_ERRORS)
            .map(|e| toml_error(&locator, e.span(), e.message()))
            .collect();
        if let Some(next) = syntax_errors.get(MAX_SYNTAX_ERRORS) {
            let more = syntax_errors.len() - MAX_SYNTAX_ERRORS;
            shown.push(toml_error(
                &locator,
                next.span(),
                &format!("…and {more} more syntax errors from here on"),
            ));
        }
        return Err(shown);
    }
    let spec: DefinitionSpec =
        toml::from_str(source).map_err(|e| vec![toml_error(&locator, e.span(), e.message())])?;

    let mut checker = Checker {
        locator: &locator,
        errors: Vec::new(),
        script_files: scripts,
        scripts: BTreeMap::new(),
        declared_secrets: Vec::new(),
        inputs: Vec::new(),
    };
    let automation = checker.automation(file, source, spec);
    match automation {
        Some(a) if checker.errors.is_empty() => Ok(a),
        _ => Err(checker.errors),
    }
}

fn toml_error(
    locator: &Locator<'_>,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> Diagnostic {
    let span = span.unwrap_or(0..0);
    // Point at the offending key itself rather than at its table.
    let unknown_key = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    // …or at the offending value, for an unknown variant inside a buffered table.
    let unknown_value = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split('`').next());
    let offset = unknown_key
        .and_then(|key| locator.key_offset(key, span.clone()))
        .or_else(|| unknown_value.and_then(|v| locator.string_offset(v, span.clone())))
        .unwrap_or(span.start);
    locator.at_offset(offset, message.trim())
}

struct Checker<'a> {
    locator: &'a Locator<'a>,
    errors: Vec<Diagnostic>,
    script_files: &'a dyn ScriptFiles,
    scripts: BTreeMap<String, String>,
    declared_secrets: Vec<String>,
    /// Input names of a manual automation, for `{{input.…}}`.
    inputs: Vec<String>,
}

/// Transpiled scripts, shared by every load and reload.
static TRANSPILED: LazyLock<TranspileCache> = LazyLock::new(TranspileCache::default);

impl Checker<'_> {
    fn error(&mut self, path: &[Seg], message: impl Into<String>) {
        self.errors.push(self.locator.at_path(path, message));
    }

    fn automation(
        &mut self,
        file: &Path,
        source: &str,
        spec: DefinitionSpec,
    ) -> Option<Automation> {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.errors.push(self.locator.at_offset(
                0,
                format!(
                    "the file name {id:?} is the automation's id: use letters, digits, `-` and `_` only"
                ),
            ));
        }
        for (i, name) in spec.secrets.iter().enumerate() {
            if let Err(e) = crate::secrets::check_name(name) {
                self.error(&path!["secrets", i], e.to_string());
            }
        }
        self.declared_secrets = spec.secrets.clone();
        let trigger = self.trigger(&spec.trigger);
        if let TriggerSpec::Manual { inputs, .. } = &spec.trigger {
            self.inputs = inputs.iter().map(|i| i.name.clone()).collect();
        }
        let filter = spec
            .filter
            .as_ref()
            .map(|f| self.condition(f, trigger.kind, path!["filter"].to_vec()));
        if spec.actions.is_empty() {
            self.error(
                &path!["actions"],
                "an automation needs at least one action (`[[actions]]` with a `type`)",
            );
        }
        let steps = self.steps(&spec.actions, trigger.kind);
        let filter = match filter {
            Some(f) => Some(f?),
            None => None,
        };
        Some(Automation {
            name: spec.name.unwrap_or_else(|| id.clone()),
            id,
            description: spec.description,
            enabled: spec.enabled,
            secrets: spec.secrets,
            trigger,
            filter,
            steps: steps?,
            path: file.to_path_buf(),
            source: source.to_owned(),
            content_hash: content_hash(source, &self.scripts),
            scripts: std::mem::take(&mut self.scripts),
        })
    }

    fn trigger(&mut self, spec: &TriggerSpec) -> TriggerRule {
        let mut automations = Vec::new();
        let (mut manual, mut signature, mut schedule) = (None, None, None);
        let mut silence = None;
        let mut sla_targets = Vec::new();
        let (kind, fields, emoji) = match spec {
            TriggerSpec::ConversationCreated {} => {
                (TriggerKind::ConversationCreated, vec![], vec![])
            }
            TriggerSpec::ConversationUpdated { fields } => {
                (TriggerKind::ConversationUpdated, fields.clone(), vec![])
            }
            TriggerSpec::MessageReceived {} => (TriggerKind::MessageReceived, vec![], vec![]),
            TriggerSpec::ApprovalResponse { automation } => {
                automations = automation.to_vec();
                (TriggerKind::ApprovalResponse, vec![], vec![])
            }
            TriggerSpec::Manual {
                inputs,
                allowed,
                needs_conversation,
            } => {
                manual = self.manual(inputs, allowed, *needs_conversation);
                (TriggerKind::Manual, vec![], vec![])
            }
            TriggerSpec::Webhook { signature: spec } => {
                if let Some(spec) = spec {
                    self.signature(spec);
                }
                signature = spec.clone();
                (TriggerKind::Webhook, vec![], vec![])
            }
            TriggerSpec::Schedule { cron, timezone } => {
                schedule = self.schedule(cron, timezone.as_deref());
                (TriggerKind::Schedule, vec![], vec![])
            }
            TriggerSpec::ReactionAdded { emoji } => {
                let names = emoji
                    .to_vec()
                    .iter()
                    .filter_map(|e| self.emoji(e, &path!["trigger", "emoji"]))
                    .collect();
                (TriggerKind::ReactionAdded, vec![], names)
            }
            TriggerSpec::UserJoined {} => (TriggerKind::UserJoined, vec![], vec![]),
            TriggerSpec::SlaWarning { target } => {
                sla_targets = self.sla_targets(target);
                (TriggerKind::SlaWarning, vec![], vec![])
            }
            TriggerSpec::SlaBreached { target } => {
                sla_targets = self.sla_targets(target);
                (TriggerKind::SlaBreached, vec![], vec![])
            }
            TriggerSpec::NoResponse {
                after,
                business_hours,
            } => {
                silence = self.silence(after, business_hours.as_deref());
                (TriggerKind::NoResponse, vec![], vec![])
            }
            TriggerSpec::NoReply {
                after,
                business_hours,
            } => {
                silence = self.silence(after, business_hours.as_deref());
                (TriggerKind::NoReply, vec![], vec![])
            }
            TriggerSpec::Idle {
                after,
                business_hours,
            } => {
                silence = self.silence(after, business_hours.as_deref());
                (TriggerKind::Idle, vec![], vec![])
            }
        };
        TriggerRule {
            kind,
            fields,
            emoji,
            automations,
            manual,
            signature,
            schedule,
            silence,
            sla_targets,
        }
    }

    /// Normalizes `:bangbang:` to `bangbang`; rejects pasted emoji characters.
    fn emoji(&mut self, raw: &str, at: &[Seg]) -> Option<String> {
        let name = raw.trim().trim_matches(':');
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-':".contains(c));
        if valid {
            Some(name.to_owned())
        } else {
            self.error(
                at,
                format!(
                    "{raw:?} is not an emoji name: use Slack's name without colons, e.g. \"bangbang\" for ‼️"
                ),
            );
            None
        }
    }

    fn condition(
        &mut self,
        spec: &ConditionSpec,
        kind: TriggerKind,
        at: Vec<Seg>,
    ) -> Option<Filter> {
        let list = |items: &[ConditionSpec], key: &str, this: &mut Self| {
            let filters: Vec<Option<Filter>> = items
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut p = at.clone();
                    p.push(Seg::from(key));
                    p.push(Seg::Index(i));
                    this.condition(c, kind, p)
                })
                .collect();
            filters.into_iter().collect::<Option<Vec<_>>>()
        };
        match spec {
            ConditionSpec::All(items) => list(items, "all", self).map(Filter::All),
            ConditionSpec::Any(items) => list(items, "any", self).map(Filter::Any),
            ConditionSpec::Not(inner) => {
                let mut p = at.clone();
                p.push(Seg::from("not"));
                self.condition(inner, kind, p)
                    .map(|f| Filter::Not(Box::new(f)))
            }
            ConditionSpec::Test { field, op } => self.test(field, op, kind, at),
        }
    }

    fn test(
        &mut self,
        field: &str,
        op: &OpSpec,
        kind: TriggerKind,
        at: Vec<Seg>,
    ) -> Option<Filter> {
        let field_at = [at.as_slice(), &path!["field"]].concat();
        let Some(fact) = Fact::from_name(field) else {
            self.error(
                &field_at,
                format!(
                    "unknown field `{field}`; filters can test: {}",
                    fact_names()
                ),
            );
            return None;
        };
        if !fact.is_available_for(kind) {
            self.error(
                &field_at,
                format!(
                    "`{field}` has no value for {kind} triggers, so this condition could never be true (it exists for: {})",
                    fact.availability_text()
                ),
            );
            return None;
        }
        let op_at = [at, vec![Seg::from(op_name(op))]].concat();
        for value in op_values(op) {
            if let Some(problem) = value_problem(fact, value) {
                self.error(&op_at, problem);
                return None;
            }
        }
        let op = match op {
            OpSpec::Is(v) => Op::Is(v.clone()),
            OpSpec::IsNot(v) => Op::IsNot(v.clone()),
            OpSpec::In(v) => Op::In(v.clone()),
            OpSpec::NotIn(v) => Op::NotIn(v.clone()),
            OpSpec::Contains(v) => Op::Contains(v.to_lowercase()),
            OpSpec::Exists(v) => Op::Exists(*v),
            OpSpec::Matches(pattern) => match Regex::new(pattern) {
                Ok(re) => Op::Matches(re),
                Err(e) => {
                    self.error(&op_at, format!("invalid regular expression: {e}"));
                    return None;
                }
            },
        };
        Some(Filter::Test { fact, op })
    }

    /// The steps of `actions`, each approval followed by the steps of its branches.
    fn steps(&mut self, actions: &[ActionSpec], kind: TriggerKind) -> Option<Vec<Step>> {
        let mut steps = Vec::new();
        let mut ok = true;
        let mut after_approval = false;
        for (i, spec) in actions.iter().enumerate() {
            let at = path!["actions", i].to_vec();
            let ActionSpec::Approval(approval) = spec else {
                ok &= self.step_with_timeout(spec, kind, &at, after_approval, None, &mut steps);
                continue;
            };
            let approval_step = steps.len();
            match self.approval(approval, kind, &at, after_approval) {
                Some(action) => steps.push(Step {
                    action,
                    branch: None,
                }),
                None => ok = false,
            }
            let branches = [
                ("approved", "on_approved", &approval.on_approved),
                ("denied", "on_denied", &approval.on_denied),
                ("expired", "on_expired", &approval.on_expired),
            ];
            for (decision, key, list) in branches {
                for (j, inner) in list.iter().enumerate() {
                    let inner_at = [at.as_slice(), &path![key, j]].concat();
                    if matches!(inner, ActionSpec::Approval(_)) {
                        self.error(
                            &[inner_at.as_slice(), &path!["type"]].concat(),
                            "an approval cannot be inside another approval's branch: put it at the top level, after the first one",
                        );
                        ok = false;
                        continue;
                    }
                    let branch = Some(Branch {
                        approval_step,
                        decision,
                    });
                    ok &= self.step_with_timeout(inner, kind, &inner_at, true, branch, &mut steps);
                }
            }
            after_approval = true;
        }
        ok.then_some(steps)
    }

    /// A step that is not an approval, in `branch`; a wait's `on_timeout` steps follow
    /// it, in its timed-out branch (nested waits nest). Whether all checked out.
    fn step_with_timeout(
        &mut self,
        spec: &ActionSpec,
        kind: TriggerKind,
        at: &[Seg],
        after_approval: bool,
        branch: Option<Branch>,
        steps: &mut Vec<Step>,
    ) -> bool {
        let index = steps.len();
        let mut ok = match self.action(spec, kind, at, after_approval) {
            Some(action) => {
                steps.push(Step { action, branch });
                true
            }
            None => false,
        };
        let ActionSpec::Wait {
            until, on_timeout, ..
        } = spec
        else {
            return ok;
        };
        if !on_timeout.is_empty() && until.is_none() {
            self.error(
                &[at, &path!["on_timeout"]].concat(),
                "`on_timeout` runs when the time ran out before `until` happened: give the wait an `until`",
            );
            return false;
        }
        for (j, inner) in on_timeout.iter().enumerate() {
            let inner_at = [at, &path!["on_timeout", j]].concat();
            if matches!(inner, ActionSpec::Approval(_)) {
                self.error(
                    &[inner_at.as_slice(), &path!["type"]].concat(),
                    "an approval cannot be inside a wait's on_timeout: put it at the top level",
                );
                ok = false;
                continue;
            }
            let timed_out = Some(Branch {
                approval_step: index,
                decision: crate::actions::wait::TIMED_OUT,
            });
            ok &= self.step_with_timeout(inner, kind, &inner_at, after_approval, timed_out, steps);
        }
        ok
    }

    fn action(
        &mut self,
        spec: &ActionSpec,
        kind: TriggerKind,
        base: &[Seg],
        after_approval: bool,
    ) -> Option<Action> {
        let at = |key: &str| [base, &path![key]].concat();
        let needs_conversation = matches!(
            spec,
            ActionSpec::Reply { .. } | ActionSpec::React { .. } | ActionSpec::SetFields { .. }
        );
        if needs_conversation && !kind.has_conversation() {
            self.error(
                &at("type"),
                format!(
                    "`{}` acts on a conversation, and {kind} triggers have none",
                    spec.type_name()
                ),
            );
            return None;
        }
        Some(match spec {
            ActionSpec::Reply { text } => Action::Reply {
                text: self.template(text, kind, &at("text"), after_approval)?,
            },
            ActionSpec::Post { channel, text } => {
                let channel = self.template(channel, kind, &at("channel"), after_approval);
                let text = self.template(text, kind, &at("text"), after_approval);
                Action::Post {
                    channel: channel?,
                    text: text?,
                }
            }
            ActionSpec::Dm { user, text } => {
                let user = self.template(user, kind, &at("user"), after_approval);
                let text = self.template(text, kind, &at("text"), after_approval);
                Action::Dm {
                    user: user?,
                    text: text?,
                }
            }
            ActionSpec::React { emoji } => Action::React {
                emoji: self.emoji(emoji, &at("emoji"))?,
            },
            ActionSpec::SetFields {
                status,
                priority,
                ticket_type,
                assignee,
                tags,
                add_tags,
                remove_tags,
            } => {
                let nothing = status.is_none()
                    && priority.is_none()
                    && ticket_type.is_none()
                    && assignee.is_none()
                    && tags.is_none()
                    && add_tags.is_empty()
                    && remove_tags.is_empty();
                if nothing {
                    self.error(
                        &at("type"),
                        "`set_fields` sets nothing: give at least one of status, priority, ticket_type, assignee, tags, add_tags, remove_tags",
                    );
                    return None;
                }
                let assignee = match assignee {
                    Some(a) => Some(self.template(a, kind, &at("assignee"), after_approval)?),
                    None => None,
                };
                Action::SetFields(SetFields {
                    status: *status,
                    priority: *priority,
                    ticket_type: ticket_type.clone(),
                    assignee,
                    tags: tags.clone(),
                    add_tags: add_tags.clone(),
                    remove_tags: remove_tags.clone(),
                })
            }
            ActionSpec::Code { file } => Action::Code(self.code(file, &at("file"))?),
            ActionSpec::Wait {
                duration, until, ..
            } => {
                if until.is_some() && !kind.has_conversation() {
                    self.error(
                        &at("until"),
                        format!("`until` waits for something in a conversation, and a {kind} trigger has none"),
                    );
                    return None;
                }
                let until = until.as_ref().map(|u| crate::actions::Until {
                    reply_from: u.reply_from,
                    status: u.status.clone(),
                    field_changes: u.field_changes.clone(),
                });
                if let Some(u) = &until
                    && u.reply_from.is_none()
                    && u.status.is_empty()
                    && u.field_changes.is_empty()
                {
                    self.error(&at("until"), "`until` names nothing to wait for: give reply_from, status or field_changes");
                    return None;
                }
                match super::duration::parse(duration) {
                    Ok(duration) => Action::Wait { duration, until },
                    Err(e) => {
                        self.error(&at("for"), e);
                        return None;
                    }
                }
            }
            // Reached only for approvals in branches, which `steps` refuses.
            ActionSpec::Approval(spec) => return self.approval(spec, kind, base, after_approval),
            ActionSpec::Page {
                group,
                channel,
                text,
            } => {
                let group = self.group(group, &at("group"));
                let channel = self.template(channel, kind, &at("channel"), after_approval);
                let default_text = if kind.has_conversation() {
                    ":rotating_light: {{priority}}: {{title}} {{permalink}}"
                } else {
                    ":rotating_light: you are needed"
                };
                let text = match text {
                    Some(t) => self.template(t, kind, &at("text"), after_approval),
                    None => Template::parse(default_text).ok(),
                };
                Action::Page {
                    group: group?,
                    channel: channel?,
                    text: text?,
                }
            }
        })
    }

    fn template(
        &mut self,
        source: &str,
        kind: TriggerKind,
        at: &[Seg],
        after_approval: bool,
    ) -> Option<Template> {
        let (template, mut problems) = Template::parse_lenient(source);
        problems.extend(template.check_in(kind, after_approval));
        problems.extend(template.check_inputs(&self.inputs));
        problems.sort_by_key(|p| p.offset);
        let ok = problems.is_empty();
        for p in problems {
            self.errors
                .push(self.locator.in_string(at, p.offset, p.message));
        }
        ok.then_some(template)
    }

    /// Reads and transpiles a script; its errors point into the script file.
    fn code(&mut self, file: &str, at: &[Seg]) -> Option<CodeAction> {
        if !file.ends_with(".ts") {
            self.error(
                at,
                format!("{file:?}: a code step runs a TypeScript file (`.ts`)"),
            );
            return None;
        }
        let source = match self.script_files.read(file) {
            Ok(s) => s,
            Err(e) => {
                self.error(at, e);
                return None;
            }
        };
        let path = self.script_files.path(file);
        match TRANSPILED.get(&path, &source) {
            Ok(compiled) => {
                let script = Locator::new(path.clone(), &source);
                for (offset, name) in secret_reads(&source) {
                    if !self.declared_secrets.contains(&name) {
                        self.errors.push(script.at_offset(
                            offset,
                            format!("the script reads the secret {name}, which its automation does not declare: add `secrets = [\"{name}\"]` to {}", self.locator_file()),
                        ));
                    }
                }
                self.scripts.insert(file.to_owned(), source);
                Some(CodeAction {
                    file: file.to_owned(),
                    compiled,
                })
            }
            Err(errors) => {
                let script = Locator::new(path, &source);
                self.errors.extend(
                    errors
                        .into_iter()
                        .map(|e| script.at_offset(e.offset, e.message)),
                );
                None
            }
        }
    }

    fn locator_file(&self) -> String {
        self.locator
            .at_offset(0, "")
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    fn group(&mut self, raw: &str, at: &[Seg]) -> Option<String> {
        let handle = raw.trim().trim_start_matches('@');
        let valid = !handle.is_empty()
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if valid {
            Some(handle.to_owned())
        } else {
            self.error(
                at,
                format!("{raw:?} is not a user group: use its id (S0123ABCD) or handle (@oncall)"),
            );
            None
        }
    }
}

/// One hash over the definition and every script it runs.
fn content_hash(source: &str, scripts: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    hash.update(source.as_bytes());
    for (name, script) in scripts {
        hash.update(b"\0");
        hash.update(name.as_bytes());
        hash.update(b"\0");
        hash.update(script.as_bytes());
    }
    hex::encode(hash.finalize())
}

fn op_name(op: &OpSpec) -> &'static str {
    match op {
        OpSpec::Is(_) => "is",
        OpSpec::IsNot(_) => "is_not",
        OpSpec::In(_) => "in",
        OpSpec::NotIn(_) => "not_in",
        OpSpec::Contains(_) => "contains",
        OpSpec::Matches(_) => "matches",
        OpSpec::Exists(_) => "exists",
    }
}

/// The literal values an operator compares with (not patterns or substrings).
fn op_values(op: &OpSpec) -> Vec<&str> {
    match op {
        OpSpec::Is(v) | OpSpec::IsNot(v) => vec![v.as_str()],
        OpSpec::In(v) | OpSpec::NotIn(v) => v.iter().map(String::as_str).collect(),
        _ => vec![],
    }
}

/// Why `value` can never be a value of `fact`, if it cannot.
fn value_problem(fact: Fact, value: &str) -> Option<String> {
    let names: &[&str] = match fact {
        Fact::Status => Status::NAMES,
        Fact::Priority => Priority::NAMES,
        Fact::Changed => &["status", "priority", "ticket_type", "assignee", "tags"],
        _ => return None,
    };
    debug_assert_eq!(
        Field::ALL.map(Field::as_str).as_slice(),
        ["status", "priority", "ticket_type", "assignee", "tags"]
    );
    (!names.contains(&value)).then(|| {
        format!(
            "{value:?} is never a {}: expected one of {}",
            fact.name(),
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automations::StoredScripts;

    fn check(source: &str) -> Result<Automation, Vec<String>> {
        compile(
            Path::new("automations/test-case.toml"),
            source,
            &StoredScripts::default(),
        )
        .map_err(|errs| errs.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn a_complete_file_compiles() {
        let a = check(
            r#"
name = "Escalate on ‼️"
[trigger]
type = "reaction_added"
emoji = ":bangbang:"
[filter]
all = [{ field = "priority", is_not = "critical" }, { field = "status", in = ["open", "pending"] }]
[[actions]]
type = "set_fields"
priority = "critical"
add_tags = ["escalated"]
[[actions]]
type = "page"
group = "@oncall"
channel = "C0ONCALL"
[[actions]]
type = "reply"
text = "Escalated by {{actor}}"
"#,
        )
        .unwrap();
        assert_eq!(a.id, "test-case");
        assert_eq!(a.name, "Escalate on ‼️");
        assert_eq!(a.trigger.emoji, vec!["bangbang"]);
        assert_eq!(a.steps.len(), 3);
        assert_eq!(a.content_hash.len(), 64);
    }

    #[test]
    fn errors_have_file_line_and_column() {
        // (file text, expected "line:col: …" prefix, expected words)
        let cases: &[(&str, &str, &str)] = &[
            (
                "[trigger]\ntype = \"no_response\"\nafter = \"soon\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":3:9:",
                "not a duration",
            ),
            (
                "[trigger]\ntype = \"idle\"\nafter = \"30s\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":3:9:",
                "shorter than a minute",
            ),
            (
                "[trigger]\ntype = \"sla_breached\"\ntarget = \"first_reply\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":3:10:",
                "not an SLA target",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"wait\"\nfor = \"1d\"\n[[actions.on_timeout]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":6:",
                "give the wait an `until`",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"wait\"\nfor = \"1d\"\nuntil = {}\n",
                ":6:9:",
                "names nothing to wait for",
            ),
            (
                "[trigger]\ntype = \"schedule\"\ncron = \"0 9 * * *\"\n[[actions]]\ntype = \"wait\"\nfor = \"1d\"\nuntil = { reply_from = \"requester\" }\n",
                ":7:9:",
                "a schedule trigger has none",
            ),
            ("name = \n", ":1:8:", "string"),
            (
                "[trigger]\ntype = \"reaction_addd\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":2:8:",
                "unknown variant `reaction_addd`",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"Hi {{nope}}\"\n",
                ":5:14:",
                "unknown field `nope`",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"{{emoji}}\"\n",
                ":5:11:",
                "no value for conversation_created",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[filter]\nfield = \"prio\"\nis = \"high\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":4:9:",
                "unknown field `prio`",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[filter]\nfield = \"priority\"\nis = \"urgent\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":5:6:",
                "never a priority",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[filter]\nfield = \"text\"\nmatches = \"(unclosed\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":5:11:",
                "invalid regular expression",
            ),
            (
                "[trigger]\ntype = \"user_joined\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":4:8:",
                "have none",
            ),
            (
                "actions = []\n[trigger]\ntype = \"conversation_created\"\n",
                ":1:11:",
                "at least one action",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"set_fields\"\n",
                ":4:8:",
                "sets nothing",
            ),
            (
                "[trigger]\ntype = \"reaction_added\"\nemoji = \"‼️\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":3:9:",
                "not an emoji name",
            ),
            (
                "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntxt = \"x\"\n",
                ":5:1:",
                "unknown field `txt`",
            ),
            ("[trigger\n", ":1:9:", "unclosed table"),
            (
                "[trigger]\ntype = \"conversation_created\"\nemoji = \"x\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
                ":3:1:",
                "unknown field `emoji`",
            ),
        ];
        for (source, position, words) in cases {
            let errors = check(source).unwrap_err();
            let first = &errors[0];
            assert!(
                first.starts_with("automations/test-case.toml") && first.contains(position),
                "{source}\nwant {position}, got {errors:?}"
            );
            assert!(
                first.contains(words),
                "{source}\nwant {words:?}, got {errors:?}"
            );
        }
    }

    #[test]
    fn every_meaning_error_is_reported_at_once() {
        let errors = check(
            "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"{{a}}\"\n[[actions]]\ntype = \"dm\"\nuser = \"{{b}}\"\ntext = \"{{c}}\"\n",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn file_names_must_make_good_ids() {
        let errors = compile(
            Path::new("automations/bad name.toml"),
            "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n",
            &StoredScripts::default(),
        )
        .unwrap_err();
        assert!(errors[0].message.contains("id"), "{errors:?}");
    }
}
