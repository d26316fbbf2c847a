//! Input fields of manual runs: checking what a person filled in (a Slack form or
//! `--input k=v`) against the automation's declarations. Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::automations::definition::{InputKind, InputSpec};

/// Longest text accepted.
pub const MAX_TEXT: usize = 3000;

/// Checks `value` for `input`; returns it normalized (numbers as numbers, integral
/// ones as integers), or why it is not acceptable.
pub fn check_value(input: &InputSpec, value: &Value) -> Result<Value, String> {
    let text = || {
        value
            .as_str()
            .map(str::trim)
            .ok_or_else(|| format!("expected text, not {value}"))
    };
    match input.kind {
        InputKind::Text | InputKind::Multiline => {
            let t = text()?;
            if t.chars().count() > MAX_TEXT {
                return Err(format!("at most {MAX_TEXT} characters"));
            }
            Ok(json!(t))
        }
        InputKind::Number => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("{} is not a number", display(value)))?;
            if let Some(min) = input.min.filter(|min| n < *min) {
                return Err(format!("must be at least {min}"));
            }
            if let Some(max) = input.max.filter(|max| n > *max) {
                return Err(format!("must be at most {max}"));
            }
            Ok(if n.fract() == 0.0 && n.abs() < 9.0e15 {
                json!(n as i64)
            } else {
                json!(n)
            })
        }
        InputKind::Select => {
            let t = text()?;
            if input.options.iter().any(|o| o == t) {
                Ok(json!(t))
            } else {
                Err(format!("{t:?} is not one of: {}", input.options.join(", ")))
            }
        }
        InputKind::User => id(text()?, &['U', 'W'], "a user id (U…)"),
        InputKind::Channel => id(text()?, &['C', 'G', 'D'], "a channel id (C…)"),
        InputKind::Date => {
            let t = text()?;
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|_| json!(t))
                .map_err(|_| format!("{t:?} is not a date (YYYY-MM-DD)"))
        }
    }
}

fn id(t: &str, first: &[char], what: &str) -> Result<Value, String> {
    let ok = t.len() >= 8
        && t.starts_with(first)
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(json!(t))
    } else {
        Err(format!("{t:?} is not {what}"))
    }
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Checks every field: filled values are checked, empty ones take their default, and
/// required ones without either are errors. Returns the inputs, or the problems by
/// field name (a name that is not an input is a problem too).
pub fn validate(
    fields: &[InputSpec],
    given: &BTreeMap<String, Value>,
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut inputs = Map::new();
    let mut problems = BTreeMap::new();
    for name in given.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let known = if known.is_empty() {
                "it has none".to_owned()
            } else {
                format!("its inputs: {}", known.join(", "))
            };
            problems.insert(
                name.clone(),
                format!("not an input of this automation ({known})"),
            );
        }
    }
    for field in fields {
        let filled = given
            .get(&field.name)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()));
        let value = match (filled, &field.default) {
            (Some(v), _) => check_value(field, v),
            (None, Some(default)) => Ok(default.clone()),
            (None, None) if field.required => Err("required".to_owned()),
            (None, None) => Ok(Value::Null),
        };
        match value {
            Ok(v) => {
                inputs.insert(field.name.clone(), v);
            }
            Err(why) => {
                problems.insert(field.name.clone(), why);
            }
        }
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: InputKind) -> InputSpec {
        InputSpec {
            name: name.into(),
            label: None,
            kind,
            required: true,
            default: None,
            options: vec![],
            placeholder: None,
            min: None,
            max: None,
        }
    }

    #[test]
    fn values_table() {
        let mut count = field("count", InputKind::Number);
        count.min = Some(1.0);
        count.max = Some(10.0);
        let mut size = field("size", InputKind::Select);
        size.options = vec!["small".into(), "large".into()];
        let cases: Vec<(InputSpec, Value, Result<Value, &str>)> = vec![
            (field("t", InputKind::Text), json!("  hi "), Ok(json!("hi"))),
            (field("t", InputKind::Text), json!(3), Err("expected text")),
            (count.clone(), json!("3"), Ok(json!(3))),
            (count.clone(), json!(2.5), Ok(json!(2.5))),
            (count.clone(), json!("11"), Err("at most 10")),
            (count.clone(), json!("0"), Err("at least 1")),
            (count, json!("three"), Err("not a number")),
            (size.clone(), json!("large"), Ok(json!("large"))),
            (size, json!("huge"), Err("not one of: small, large")),
            (
                field("u", InputKind::User),
                json!("U0123ABCD"),
                Ok(json!("U0123ABCD")),
            ),
            (
                field("u", InputKind::User),
                json!("bob"),
                Err("not a user id"),
            ),
            (
                field("c", InputKind::Channel),
                json!("C0123ABCD"),
                Ok(json!("C0123ABCD")),
            ),
            (
                field("d", InputKind::Date),
                json!("2026-02-28"),
                Ok(json!("2026-02-28")),
            ),
            (
                field("d", InputKind::Date),
                json!("2026-02-30"),
                Err("not a date"),
            ),
        ];
        for (input, value, want) in cases {
            let got = check_value(&input, &value);
            match (got, want) {
                (Ok(v), Ok(w)) => assert_eq!(v, w, "{value}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{value}: {e}"),
                (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_form_is_checked_as_a_whole() {
        let mut optional = field("note", InputKind::Multiline);
        optional.required = false;
        let mut defaulted = field("priority", InputKind::Select);
        defaulted.options = vec!["low".into(), "high".into()];
        defaulted.default = Some(json!("low"));
        let fields = vec![field("who", InputKind::User), optional, defaulted];

        let given = BTreeMap::from([("who".to_owned(), json!("U0123ABCD"))]);
        let inputs = validate(&fields, &given).unwrap();
        assert_eq!(
            Value::Object(inputs),
            json!({ "who": "U0123ABCD", "note": null, "priority": "low" })
        );

        let given = BTreeMap::from([
            ("who".to_owned(), json!(" ")),
            ("colour".to_owned(), json!("red")),
        ]);
        let problems = validate(&fields, &given).unwrap_err();
        assert_eq!(problems["who"], "required");
        assert!(
            problems["colour"].contains("its inputs: who, note, priority"),
            "{problems:?}"
        );
    }
}
