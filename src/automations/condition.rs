//! The filter syntax of automation files:
//!
//! ```toml
//! [filter]
//! all = [
//!   { field = "status", is_not = "closed" },
//!   { any = [{ field = "tags", contains = "vip" }, { field = "customer", in = ["Acme"] }] },
//!   { not = { field = "channel", is = "C0123" } },
//! ]
//! ```
//!
//! A condition is either a combinator (`all`, `any`, `not`) or a test of one field with
//! exactly one operator. Deserialized by hand so that a mistake gets a precise message
//! instead of serde's "did not match any variant".

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

/// A filter condition as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionSpec {
    /// Every condition holds.
    All(Vec<ConditionSpec>),
    /// At least one condition holds.
    Any(Vec<ConditionSpec>),
    /// The condition does not hold.
    Not(Box<ConditionSpec>),
    /// A test of one field.
    Test {
        /// Field name (see the README's list).
        field: String,
        /// The operator and its operand.
        op: OpSpec,
    },
}

/// An operator and its operand, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum OpSpec {
    /// Equals.
    Is(String),
    /// Does not equal.
    IsNot(String),
    /// Equals one of.
    In(Vec<String>),
    /// Equals none of.
    NotIn(Vec<String>),
    /// Contains, ignoring case (text: substring; lists: an element).
    Contains(String),
    /// Matches a regular expression.
    Matches(String),
    /// Has a value (`true`) or has none (`false`).
    Exists(bool),
}

/// Operator names, in documentation order.
pub const OPERATORS: [&str; 7] = [
    "is", "is_not", "in", "not_in", "contains", "matches", "exists",
];

impl<'de> Deserialize<'de> for ConditionSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ConditionVisitor)
    }
}

struct ConditionVisitor;

impl<'de> Visitor<'de> for ConditionVisitor {
    type Value = ConditionSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a condition: a table with `all`, `any` or `not`, or with `field` and one operator",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConditionSpec, A::Error> {
        let mut combinator: Option<ConditionSpec> = None;
        let mut field: Option<String> = None;
        let mut op: Option<OpSpec> = None;
        while let Some(key) = map.next_key::<String>()? {
            let parsed = match key.as_str() {
                "all" => Part::Combinator(ConditionSpec::All(map.next_value()?)),
                "any" => Part::Combinator(ConditionSpec::Any(map.next_value()?)),
                "not" => Part::Combinator(ConditionSpec::Not(Box::new(map.next_value()?))),
                "field" => Part::Field(map.next_value()?),
                "is" => Part::Op(OpSpec::Is(map.next_value()?)),
                "is_not" => Part::Op(OpSpec::IsNot(map.next_value()?)),
                "in" => Part::Op(OpSpec::In(map.next_value()?)),
                "not_in" => Part::Op(OpSpec::NotIn(map.next_value()?)),
                "contains" => Part::Op(OpSpec::Contains(map.next_value()?)),
                "matches" => Part::Op(OpSpec::Matches(map.next_value()?)),
                "exists" => Part::Op(OpSpec::Exists(map.next_value()?)),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a condition: expected `all`, `any`, `not`, or `field` with one of {}",
                        OPERATORS.map(|o| format!("`{o}`")).join(", ")
                    )));
                }
            };
            match parsed {
                Part::Combinator(c) if combinator.is_none() => combinator = Some(c),
                Part::Field(f) if field.is_none() => field = Some(f),
                Part::Op(o) if op.is_none() => op = Some(o),
                _ => {
                    return Err(de::Error::custom(format!(
                        "a condition takes one combinator, or `field` with one operator; `{key}` is one too many (split it into `all = [...]`)"
                    )));
                }
            }
        }
        match (combinator, field, op) {
            (Some(c), None, None) => Ok(c),
            (None, Some(field), Some(op)) => Ok(ConditionSpec::Test { field, op }),
            (None, Some(field), None) => Err(de::Error::custom(format!(
                "the condition on `{field}` has no operator: add one of {}",
                OPERATORS.join(", ")
            ))),
            (None, None, Some(_)) => Err(de::Error::custom(
                "this condition has an operator but no `field = \"…\"`",
            )),
            (Some(_), _, _) => Err(de::Error::custom(
                "`all`, `any` and `not` cannot be mixed with `field` in one table",
            )),
            (None, None, None) => Err(de::Error::custom(
                "empty condition: use `all`, `any`, `not`, or `field` with an operator",
            )),
        }
    }
}

enum Part {
    Combinator(ConditionSpec),
    Field(String),
    Op(OpSpec),
}

impl schemars::JsonSchema for ConditionSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let condition = serde_json::json!({ "$ref": "#/$defs/Condition" });
        let conditions = serde_json::json!({ "type": "array", "items": condition });
        let string = serde_json::json!({ "type": "string" });
        let strings = serde_json::json!({ "type": "array", "items": string });
        let test = |op: &str, operand: &serde_json::Value| {
            serde_json::json!({
                "type": "object",
                "properties": { "field": string, op: operand },
                "required": ["field", op],
                "additionalProperties": false
            })
        };
        let combinator = |name: &str, operand: &serde_json::Value| {
            serde_json::json!({
                "type": "object",
                "properties": { name: operand },
                "required": [name],
                "additionalProperties": false
            })
        };
        schemars::json_schema!({
            "description": "A condition: `all`/`any` of conditions, `not` a condition, or a test of one field with one operator.",
            "oneOf": [
                combinator("all", &conditions),
                combinator("any", &conditions),
                combinator("not", &condition),
                test("is", &string),
                test("is_not", &string),
                test("in", &strings),
                test("not_in", &strings),
                test("contains", &string),
                test("matches", &string),
                test("exists", &serde_json::json!({ "type": "boolean" })),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConditionSpec, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            filter: ConditionSpec,
        }
        toml::from_str::<Wrapper>(text)
            .map(|w| w.filter)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_form() {
        let spec = parse(
            r#"
[filter]
all = [
  { field = "status", is_not = "closed" },
  { any = [{ field = "tags", contains = "vip" }, { field = "customer", in = ["Acme", "Globex"] }] },
  { not = { field = "channel", is = "C1" } },
  { field = "assignee", exists = false },
  { field = "text", matches = "(?i)password" },
  { field = "priority", not_in = ["low"] },
]
"#,
        )
        .unwrap();
        let ConditionSpec::All(items) = spec else {
            panic!("not all: {spec:?}")
        };
        assert_eq!(items.len(), 6);
        assert_eq!(
            items[2],
            ConditionSpec::Not(Box::new(ConditionSpec::Test {
                field: "channel".into(),
                op: OpSpec::Is("C1".into())
            }))
        );
    }

    #[test]
    fn mistakes_get_precise_messages() {
        let cases = [
            ("[filter]\nfield = \"status\"\n", "has no operator"),
            ("[filter]\nis = \"open\"\n", "no `field"),
            (
                "[filter]\nfield = \"status\"\nequals = \"open\"\n",
                "unknown key `equals`",
            ),
            (
                "[filter]\nfield = \"status\"\nis = \"open\"\nis_not = \"x\"\n",
                "one too many",
            ),
            (
                "[filter]\nall = []\nfield = \"x\"\nis = \"y\"\n",
                "cannot be mixed",
            ),
            ("[filter]\n", "empty condition"),
            ("[filter]\nfield = \"tags\"\nin = \"vip\"\n", "sequence"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}\n→ {err}");
            assert!(err.contains("line"), "no position in: {err}");
        }
    }
}
