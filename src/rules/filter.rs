//! Compiled filters and their evaluation. Pure: a filter and a [`FactContext`] in, a
//! boolean out.

use regex::Regex;

use super::facts::{Fact, FactContext, FactShape, FactValue};

/// A checked filter condition.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every condition holds (true when empty).
    All(Vec<Filter>),
    /// At least one condition holds (false when empty).
    Any(Vec<Filter>),
    /// The condition does not hold.
    Not(Box<Filter>),
    /// A test of one fact.
    Test {
        /// The fact tested.
        fact: Fact,
        /// How.
        op: Op,
    },
}

/// A checked operator.
#[derive(Debug, Clone)]
pub enum Op {
    /// The value (or one element of a list) equals this.
    Is(String),
    /// Negation of `Is`.
    IsNot(String),
    /// The value (or one element) equals one of these.
    In(Vec<String>),
    /// Negation of `In`.
    NotIn(Vec<String>),
    /// Text contains this, ignoring case; a list has this element, ignoring case.
    /// Stored lower-cased.
    Contains(String),
    /// The value (or one element) matches.
    Matches(Regex),
    /// The fact has a non-empty value (`true`), or has none (`false`).
    Exists(bool),
}

impl Filter {
    /// Whether the condition holds in `ctx`.
    pub fn eval(&self, ctx: &FactContext<'_>) -> bool {
        match self {
            Self::All(items) => items.iter().all(|f| f.eval(ctx)),
            Self::Any(items) => items.iter().any(|f| f.eval(ctx)),
            Self::Not(inner) => !inner.eval(ctx),
            Self::Test { fact, op } => op.holds(fact.shape(), &fact.value(ctx)),
        }
    }
}

impl Op {
    fn holds(&self, shape: FactShape, value: &FactValue) -> bool {
        let items = value.items();
        match self {
            Self::Is(want) => items.iter().any(|v| v == want),
            Self::IsNot(want) => !items.iter().any(|v| v == want),
            Self::In(wants) => items.iter().any(|v| wants.contains(v)),
            Self::NotIn(wants) => !items.iter().any(|v| wants.contains(v)),
            Self::Contains(needle) => match shape {
                FactShape::List => items.iter().any(|v| v.to_lowercase() == *needle),
                _ => items
                    .iter()
                    .any(|v| v.to_lowercase().contains(needle.as_str())),
            },
            Self::Matches(re) => items.iter().any(|v| re.is_match(v)),
            Self::Exists(want) => items.iter().any(|v| !v.is_empty()) == *want,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::{Conversation, Field, FieldChange, Priority, Status};
    use crate::trigger::{Message, Trigger, TriggerEvent};

    fn conversation() -> Conversation {
        Conversation {
            id: 1,
            team_id: "T1".into(),
            channel: "C1".into(),
            thread_ts: "1.0".into(),
            requester: "U1".into(),
            customer: Some("Acme".into()),
            title: "Password reset please".into(),
            status: Status::Open,
            priority: Priority::High,
            ticket_type: "access".into(),
            assignee: None,
            tags: vec!["VIP".into(), "sso".into()],
            permalink: String::new(),
            created_at: 0,
            updated_at: 0,
            sla: Default::default(),
        }
    }

    fn message_trigger(text: &str) -> Trigger {
        Trigger {
            event_id: "Ev1".into(),
            team_id: "T1".into(),
            actor: Some("U1".into()),
            conversation_id: Some(1),
            depth: 0,
            event: TriggerEvent::ConversationCreated {
                message: Message {
                    channel: "C1".into(),
                    ts: "1.0".into(),
                    thread_ts: None,
                    user: "U1".into(),
                    text: text.into(),
                },
            },
        }
    }

    fn test(fact: Fact, op: Op) -> Filter {
        Filter::Test { fact, op }
    }

    #[test]
    fn evaluates_table() {
        let c = conversation();
        let t = message_trigger("I forgot my PASSWORD");
        let ctx = FactContext::new(&t, Some(&c));
        let s = |v: &str| v.to_owned();
        let cases: Vec<(&str, Filter, bool)> = vec![
            ("is", test(Fact::Priority, Op::Is(s("high"))), true),
            ("is other", test(Fact::Priority, Op::Is(s("low"))), false),
            ("is_not", test(Fact::Status, Op::IsNot(s("closed"))), true),
            (
                "in",
                test(Fact::Customer, Op::In(vec![s("Globex"), s("Acme")])),
                true,
            ),
            (
                "not_in",
                test(Fact::Customer, Op::NotIn(vec![s("Acme")])),
                false,
            ),
            (
                "contains text ignores case",
                test(Fact::Text, Op::Contains(s("password"))),
                true,
            ),
            (
                "contains list element",
                test(Fact::Tags, Op::Contains(s("vip"))),
                true,
            ),
            (
                "contains list is not substring",
                test(Fact::Tags, Op::Contains(s("ss"))),
                false,
            ),
            ("is on a list", test(Fact::Tags, Op::Is(s("sso"))), true),
            (
                "matches",
                test(
                    Fact::Title,
                    Op::Matches(Regex::new("(?i)^password").unwrap()),
                ),
                true,
            ),
            (
                "absent is nothing",
                test(Fact::Assignee, Op::Is(s("U1"))),
                false,
            ),
            (
                "absent is_not",
                test(Fact::Assignee, Op::IsNot(s("U1"))),
                true,
            ),
            (
                "exists false on absent",
                test(Fact::Assignee, Op::Exists(false)),
                true,
            ),
            ("exists true", test(Fact::Customer, Op::Exists(true)), true),
            (
                "emoji absent on message",
                test(Fact::Emoji, Op::Exists(true)),
                false,
            ),
            ("empty all", Filter::All(vec![]), true),
            ("empty any", Filter::Any(vec![]), false),
            (
                "all",
                Filter::All(vec![
                    test(Fact::Priority, Op::Is(s("high"))),
                    test(Fact::Channel, Op::Is(s("C1"))),
                ]),
                true,
            ),
            (
                "any",
                Filter::Any(vec![
                    test(Fact::Priority, Op::Is(s("low"))),
                    test(Fact::Requester, Op::Is(s("U1"))),
                ]),
                true,
            ),
            (
                "not",
                Filter::Not(Box::new(test(Fact::Priority, Op::Is(s("high"))))),
                false,
            ),
        ];
        for (name, filter, want) in cases {
            assert_eq!(filter.eval(&ctx), want, "{name}");
        }
    }

    #[test]
    fn changed_fields_are_a_list() {
        let c = conversation();
        let t = Trigger {
            event: TriggerEvent::ConversationUpdated {
                changes: vec![FieldChange {
                    field: Field::Priority,
                    before: "medium".into(),
                    after: "high".into(),
                }],
            },
            ..message_trigger("")
        };
        let ctx = FactContext::new(&t, Some(&c));
        assert!(test(Fact::Changed, Op::Contains("priority".into())).eval(&ctx));
        assert!(!test(Fact::Changed, Op::Is("status".into())).eval(&ctx));
    }
}
