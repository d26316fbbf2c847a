//! Checking the `approval` action: approvers, quorum, durations and texts. Its
//! branches are checked as steps by [`Checker::steps`].

use super::{Checker, Seg, path};
use crate::actions::{Action, ApprovalAction};
use crate::approvals::{Principal, Rules};
use crate::automations::definition::ApprovalSpec;
use crate::automations::duration;
use crate::template::Template;
use crate::trigger::TriggerKind;

impl Checker<'_> {
    pub(super) fn approval(
        &mut self,
        spec: &ApprovalSpec,
        kind: TriggerKind,
        base: &[Seg],
        after_approval: bool,
    ) -> Option<Action> {
        let at = |key: &str| [base, &path![key]].concat();
        let mut ok = true;
        if spec.approvers.is_empty() {
            self.error(
                &at("approvers"),
                "an approval needs at least one approver: a user id, a user group (@it-managers) or a channel id",
            );
            ok = false;
        }
        let mut approvers = Vec::new();
        for (k, raw) in spec.approvers.iter().enumerate() {
            match raw.parse::<Principal>() {
                Ok(a) => approvers.push(a),
                Err(e) => {
                    self.error(&[base, &path!["approvers", k]].concat(), e);
                    ok = false;
                }
            }
        }
        let only_users = approvers.iter().all(|a| matches!(a, Principal::User(_)));
        if spec.quorum == 0 {
            self.error(
                &at("quorum"),
                "`quorum` is the number of approvals needed: at least 1",
            );
            ok = false;
        } else if only_users && !approvers.is_empty() && spec.quorum as usize > approvers.len() {
            self.error(
                &at("quorum"),
                format!(
                    "a quorum of {} can never be reached with {} approver(s)",
                    spec.quorum,
                    approvers.len()
                ),
            );
            ok = false;
        }
        let expires_in = self.duration(spec.expires_in.as_deref(), &at("expires_in"));
        let remind_after = self.duration(spec.remind_after.as_deref(), &at("remind_after"));
        if let (Some(Some(expiry)), Some(Some(remind))) = (expires_in, remind_after)
            && remind >= expiry
        {
            self.error(
                &at("remind_after"),
                "the reminder would come after the request expires: make `remind_after` shorter than `expires_in`",
            );
            ok = false;
        }
        let channel = spec
            .channel
            .as_ref()
            .map(|c| self.template(c, kind, &at("channel"), after_approval));
        let conversation = kind.has_conversation();
        let title = match &spec.title {
            Some(t) => self.template(t, kind, &at("title"), after_approval),
            None if conversation => Template::parse("Approval needed: {{title}}").ok(),
            None => Template::parse("Approval needed").ok(),
        };
        let text = match &spec.text {
            Some(t) => self.template(t, kind, &at("text"), after_approval),
            None if conversation => {
                Template::parse("> {{title}}\n<{{permalink}}|Open the conversation> in {{channel}}")
                    .ok()
            }
            None => {
                self.error(
                    &at("approvers"),
                    format!(
                        "give the approval a `text`: {kind} triggers have no conversation to describe the request"
                    ),
                );
                None
            }
        };
        if !ok || matches!(channel, Some(None)) {
            return None;
        }
        Some(Action::Approval(ApprovalAction {
            approvers,
            channel: channel.flatten(),
            title: title?,
            text: text?,
            rules: Rules {
                reason: spec.reason,
                quorum: spec.quorum,
                allow_self_approval: spec.allow_self_approval,
                first_deny_wins: spec.first_deny_wins,
                expires_in: expires_in?,
                remind_after: remind_after?,
            },
        }))
    }

    /// `None` when invalid (reported), `Some(None)` when not given.
    fn duration(&mut self, text: Option<&str>, at: &[Seg]) -> Option<Option<std::time::Duration>> {
        match text.map(duration::parse) {
            None => Some(None),
            Some(Ok(d)) => Some(Some(d)),
            Some(Err(e)) => {
                self.error(at, e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::actions::Action;
    use crate::automations::{Branch, StoredScripts, compile};

    const HEAD: &str =
        "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"approval\"\n";

    fn check(body: &str) -> Result<crate::automations::Automation, Vec<String>> {
        compile(
            Path::new("automations/test-case.toml"),
            &format!("{HEAD}{body}"),
            &StoredScripts::default(),
        )
        .map_err(|errs| errs.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn branches_follow_their_approval() {
        let a = check(
            "approvers = [\"@it-managers\", \"U0123ABCD\"]\nexpires_in = \"2d\"\nremind_after = \"4h\"\n\
             [[actions.on_approved]]\ntype = \"reply\"\ntext = \"Approved by {{decided_by}}\"\n\
             [[actions.on_denied]]\ntype = \"reply\"\ntext = \"Denied: {{decision_reason}}\"\n\
             [[actions]]\ntype = \"reply\"\ntext = \"{{decision}}\"\n",
        )
        .unwrap();
        let kinds: Vec<_> = a
            .steps
            .iter()
            .map(|s| (s.action.type_name(), s.branch))
            .collect();
        let on = |decision| {
            Some(Branch {
                approval_step: 0,
                decision,
            })
        };
        assert_eq!(
            kinds,
            [
                ("approval", None),
                ("reply", on("approved")),
                ("reply", on("denied")),
                ("reply", None)
            ]
        );
        let Action::Approval(approval) = &a.steps[0].action else {
            panic!()
        };
        assert_eq!(
            approval.rules.expires_in.map(|d| d.as_secs()),
            Some(172_800)
        );
        assert_eq!(approval.rules.quorum, 1);
        assert!(approval.rules.first_deny_wins);
    }

    #[test]
    fn errors_point_at_the_approval() {
        let cases: &[(&str, &str, &str)] = &[
            ("approvers = []\n", ":5:13:", "at least one approver"),
            (
                "approvers = [\"U0123ABCD\", \"#it\"]\n",
                ":5:27:",
                "names nobody",
            ),
            (
                "approvers = [\"U0123ABCD\"]\nquorum = 2\n",
                ":6:10:",
                "never be reached",
            ),
            (
                "approvers = [\"U0123ABCD\"]\nexpires_in = \"2 days\"\n",
                ":6:14:",
                "not a duration",
            ),
            (
                "approvers = [\"U0123ABCD\"]\nexpires_in = \"1h\"\nremind_after = \"2h\"\n",
                ":7:16:",
                "after the request expires",
            ),
            (
                "approvers = [\"U0123ABCD\"]\n[[actions.on_denied]]\ntype = \"reply\"\ntext = \"{{nope}}\"\n",
                ":8:11:",
                "unknown field `nope`",
            ),
            (
                "approvers = [\"U0123ABCD\"]\n[[actions.on_denied]]\ntype = \"approval\"\napprovers = [\"U0123ABCD\"]\n",
                ":7:8:",
                "inside another approval",
            ),
            (
                "approvers = [\"U0123ABCD\"]\nreason = \"maybe\"\n",
                ":6:10:",
                "unknown variant",
            ),
        ];
        for (body, position, words) in cases {
            let errors = check(body).unwrap_err();
            let first = &errors[0];
            assert!(
                first.contains(position),
                "{body}\nwant {position}, got {errors:?}"
            );
            assert!(
                first.contains(words),
                "{body}\nwant {words:?}, got {errors:?}"
            );
        }
    }

    #[test]
    fn approval_facts_exist_only_after_an_approval() {
        let errors = compile(
            Path::new("automations/test-case.toml"),
            "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"{{decision}}\"\n",
            &StoredScripts::default(),
        )
        .unwrap_err();
        assert!(
            errors[0]
                .message
                .contains("no value for conversation_created"),
            "{errors:?}"
        );
    }

    #[test]
    fn without_a_conversation_the_text_is_required() {
        let errors = compile(
            Path::new("automations/test-case.toml"),
            "[trigger]\ntype = \"user_joined\"\n[[actions]]\ntype = \"approval\"\napprovers = [\"U0123ABCD\"]\n",
            &StoredScripts::default(),
        )
        .unwrap_err();
        assert!(
            errors[0].message.contains("give the approval a `text`"),
            "{errors:?}"
        );
    }
}
