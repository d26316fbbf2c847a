//! The one mutation helper every target uses: start from real, valid samples and
//! change them the way broken senders and attackers do.
//!
//! - Structural [`Edit`]s on a JSON view of the sample: drop a field, replace a value by
//!   one of another type ([`Junk`]: huge, unicode, numbers at their limits…), give a
//!   field twice, move a part elsewhere, rename a key, nest deeply.
//! - [`ByteEdit`]s on the encoded text: truncate, flip bits, insert, remove, repeat,
//!   splice in a token of the format's [`Grammar`], nest its brackets thousands deep.
//! - Random bytes.
//!
//! Forms and TOML are mutated through the same JSON view ([`form`], [`toml`]), so one
//! set of edits serves every format.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value};

/// What a format is made of: tokens worth splicing in, and brackets worth nesting.
#[derive(Debug)]
pub struct Grammar {
    /// Fragments of the format's syntax and meaning.
    pub tokens: &'static [&'static str],
    /// Opening and closing brackets.
    pub brackets: &'static [(&'static str, &'static str)],
}

/// JSON, as Slack, webhook callers and sandboxes send it.
pub const JSON: Grammar = Grammar {
    tokens: &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\\u0000",
        "\\ud800",
        "null",
        "true",
        "1e999",
        "-0",
        "\"type\":",
        "\"event\":{}",
        "\"payload\":",
        "\"user\":{\"id\":\"U1\"}",
        "\u{0}",
    ],
    brackets: &[("[", "]"), ("{\"a\":", "}")],
};

/// `application/x-www-form-urlencoded`, as Slack posts commands and interactions.
pub const FORM: Grammar = Grammar {
    tokens: &[
        "&",
        "=",
        "%",
        "%zz",
        "%00",
        "%C3",
        "%F0%9F",
        "+",
        "&payload=",
        "&payload={}",
        "&user_id=U1",
        "&text=",
        "&command=%2Fswitchboard",
        "%22",
        "%7B",
    ],
    brackets: &[("%5B", "%5D"), ("%7B%22a%22:", "%7D")],
};

/// Commands typed to the bot in a message.
pub const COMMAND: Grammar = Grammar {
    tokens: &[
        "<@U0BOT>",
        "<@U0BOT|",
        "<@",
        ">",
        "<#C0IT000001|it>",
        " ",
        "\u{a0}",
        "\t",
        "=",
        "\"",
        "“",
        "”",
        "run ",
        "laptop ",
        "count=",
        "count=1e3",
        "count=NaN",
        "count=-0",
        "who=",
        "when=2026-02-30",
        "model=",
        "assign ",
        "me",
        "tag ",
        "status ",
        "priority ",
        "\n",
    ],
    brackets: &[("\"", "\""), ("<", ">")],
};

/// TOML, as automation, calendar and SLA files are written.
pub const TOML: Grammar = Grammar {
    tokens: &[
        "[",
        "]",
        "[[",
        "]]",
        "=",
        "\"",
        "'",
        "\"\"\"",
        "'''",
        "\n",
        "\r\n",
        "#",
        ".",
        ",",
        "{",
        "}",
        "\\u0000",
        "\\U0010FFFF",
        "1979-05-27T07:32:00Z",
        "inf",
        "nan",
        "0x7FFFFFFFFFFFFFFF",
        "[trigger]\n",
        "[[actions]]\n",
        "type = \"reply\"\n",
        "text = \"{{title}}\"\n",
        "[filter]\n",
        "{ field = \"text\", matches = \"(a+)+$\" }",
        "file = \"../x.ts\"\n",
    ],
    brackets: &[("[", "]"), ("{a=", "}"), ("a = [", "]\n")],
};

/// Message templates.
pub const TEMPLATE: Grammar = Grammar {
    tokens: &[
        "{{",
        "}}",
        "{",
        "}",
        ".",
        ".id",
        "input.",
        "{{title}}",
        "{{requester.id}}",
        "{{input.who}}",
        "{{ channel }}",
        "{{tags}}",
        "{{emoji}}",
        "é",
        "\u{0}",
        "🦀",
        "\n",
    ],
    brackets: &[("{{", "}}")],
};

/// TypeScript, as scripts are written.
pub const TYPESCRIPT: Grammar = Grammar {
    tokens: &[
        "export default ",
        "async function (ctx: any) {",
        "}",
        "=>",
        "await ",
        "import ",
        "import type { X } from \"y\";",
        "export ",
        "enum E { A, B = A + 1 }",
        "namespace N {}",
        "declare ",
        "as any",
        "satisfies X",
        "<T,>",
        "?.",
        "??",
        "`${",
        "/*",
        "*/",
        "//",
        "\n",
        "secrets.get(\"A\")",
        "class C { #x = 1; static { } }",
        "@dec ",
        "yield ",
        "\u{2028}",
    ],
    brackets: &[
        ("(", ")"),
        ("{", "}"),
        ("[", "]"),
        ("<", ">"),
        ("`${", "}`"),
    ],
};

/// A value that replaces another, usually of another type.
#[derive(Debug, Clone)]
pub enum Junk {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, often at a limit.
    Int(i64),
    /// An integer beyond `i64`.
    Big(u64),
    /// A float.
    Float(f64),
    /// Text, often awkward.
    Text(String),
    /// One character, many times.
    Long(char, usize),
    /// `[]`.
    Array,
    /// `{}`.
    Object,
}

impl Junk {
    /// As a JSON value.
    pub fn value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Big(u) => Value::from(*u),
            Self::Float(f) => Value::from(*f),
            Self::Text(t) => Value::String(t.clone()),
            Self::Long(c, n) => Value::String(std::iter::repeat_n(*c, *n).collect()),
            Self::Array => Value::Array(Vec::new()),
            Self::Object => Value::Object(Map::new()),
        }
    }

    /// As text (a key, a form value).
    fn text(&self) -> String {
        match self.value() {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

/// Strings that broke parsers before.
const AWKWARD: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{202e}",
    "\u{feff}",
    "🦀",
    "a\u{301}",
    "\r\n",
    "\"",
    "\\",
    "{{",
    "}}",
    "%",
    "+",
    "&",
    "=",
    "<@U0BOT>",
    "<@U0BOT|switchboard> run",
    "<#C1|x>",
    "1e999",
    "-0",
    "NaN",
    "null",
    "true",
    "000",
    "99999999999999999999",
    "\u{10ffff}",
    "\\u0000",
    "${x}",
    "'",
    "`",
    "../../etc/passwd",
    "T0TEST",
    "U0BOT",
    "Ev0001",
    "1355517523.000005",
    "2026-02-30",
    "v0=",
    "sha256=",
    "#",
    "[",
    "]",
    "(?i)",
    "((((((((((a))))))))))",
    "ǅ",
    "İ",
    "ß",
    "\u{1b}[31m",
];

fn junk() -> impl Strategy<Value = Junk> {
    prop_oneof![
        Just(Junk::Null),
        any::<bool>().prop_map(Junk::Bool),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            Just(9_007_199_254_740_993),
            any::<i64>(),
        ]
        .prop_map(Junk::Int),
        Just(Junk::Big(u64::MAX)),
        prop_oneof![
            Just(f64::MAX),
            Just(-0.0),
            Just(1e-300),
            Just(0.5),
            Just(-1.5)
        ]
        .prop_map(Junk::Float),
        prop_oneof![
            select(AWKWARD).prop_map(str::to_owned),
            "\\PC{0,24}",
            any::<String>(),
        ]
        .prop_map(Junk::Text),
        (
            select(&['a', 'é', '🦀', '\u{0}', '{', '"', '\\', ' ', '\n', '%'][..]),
            prop_oneof![1_000..5_000usize, 50_000..100_000usize],
        )
            .prop_map(|(c, n)| Junk::Long(c, n)),
        Just(Junk::Array),
        Just(Junk::Object),
    ]
}

/// A structural change to a JSON document; positions index its nodes in pre-order.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Removes the field or element (the root becomes `null`).
    Drop(Index),
    /// Replaces it.
    Replace(Index, Junk),
    /// Gives it twice: a copy beside it in an array; in an object, both in a list.
    Duplicate(Index),
    /// Puts a copy of the first node in place of the second.
    Transplant(Index, Index),
    /// Renames the key of an object's field.
    Rename(Index, Junk),
    /// Wraps it in this many arrays (or objects, when set).
    Nest(Index, u16, bool),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => any::<Index>().prop_map(Edit::Drop),
        4 => (any::<Index>(), junk()).prop_map(|(at, j)| Edit::Replace(at, j)),
        1 => any::<Index>().prop_map(Edit::Duplicate),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Edit::Transplant(from, to)),
        1 => (any::<Index>(), junk()).prop_map(|(at, j)| Edit::Rename(at, j)),
        1 => (any::<Index>(), 1..300u16, any::<bool>()).prop_map(|(at, n, o)| Edit::Nest(at, n, o)),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    At(usize),
}

/// Every node's path, in pre-order (the root first).
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(path.clone());
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    path.push(Step::Key(k.clone()));
                    walk(v, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Step::At(i));
                    walk(v, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(k) => node.get_mut(k.as_str()),
        Step::At(i) => node.get_mut(*i),
    })
}

fn node<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(k) => node.get(k.as_str()),
        Step::At(i) => node.get(*i),
    })
}

/// `sample` with `edits` applied in order.
pub fn apply(mut sample: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let all = paths(&sample);
        let pick = |at: &Index| all[at.index(all.len())].clone();
        match edit {
            Edit::Drop(at) => {
                let path = pick(at);
                match path.split_last() {
                    None => sample = Value::Null,
                    Some((last, parent)) => match (node_mut(&mut sample, parent), last) {
                        (Some(Value::Object(map)), Step::Key(k)) => {
                            map.shift_remove(k);
                        }
                        (Some(Value::Array(items)), Step::At(i)) => {
                            items.remove(*i);
                        }
                        _ => {}
                    },
                }
            }
            Edit::Replace(at, junk) => {
                if let Some(node) = node_mut(&mut sample, &pick(at)) {
                    *node = junk.value();
                }
            }
            Edit::Duplicate(at) => {
                let path = pick(at);
                let Some((last, parent)) = path.split_last() else {
                    sample = Value::Array(vec![sample.clone(), sample]);
                    continue;
                };
                match (node_mut(&mut sample, parent), last) {
                    (Some(Value::Array(items)), Step::At(i)) => {
                        let copy = items[*i].clone();
                        items.insert(*i + 1, copy);
                    }
                    (Some(Value::Object(map)), Step::Key(k)) => {
                        if let Some(v) = map.get_mut(k) {
                            *v = Value::Array(vec![v.clone(), v.clone()]);
                        }
                    }
                    _ => {}
                }
            }
            Edit::Transplant(from, to) => {
                let copy = node(&sample, &pick(from)).cloned().unwrap_or_default();
                if let Some(node) = node_mut(&mut sample, &pick(to)) {
                    *node = copy;
                }
            }
            Edit::Rename(at, junk) => {
                let path = pick(at);
                if let Some((Step::Key(k), parent)) = path.split_last()
                    && let Some(Value::Object(map)) = node_mut(&mut sample, parent)
                    && let Some(v) = map.shift_remove(k)
                {
                    map.insert(junk.text(), v);
                }
            }
            Edit::Nest(at, depth, as_object) => {
                if let Some(node) = node_mut(&mut sample, &pick(at)) {
                    let mut nested = node.take();
                    for _ in 0..*depth {
                        nested = if *as_object {
                            Value::Object(Map::from_iter([("a".to_owned(), nested)]))
                        } else {
                            Value::Array(vec![nested])
                        };
                    }
                    *node = nested;
                }
            }
        }
    }
    sample
}

/// A change to the bytes of an encoded input; positions are taken modulo its length.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    /// Cuts the rest off.
    Truncate(Index),
    /// XORs one byte with the mask.
    Flip(Index, u8),
    /// Inserts bytes.
    Insert(Index, Vec<u8>),
    /// Removes up to this many bytes.
    Remove(Index, u16),
    /// Repeats up to this many bytes this many times.
    Repeat(Index, u16, u8),
    /// Inserts one of the grammar's tokens.
    Splice(Index, Index),
    /// Inserts one of the grammar's bracket pairs, this many deep.
    Nest(Index, Index, u16),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let inserted = prop_oneof![
        vec(any::<u8>(), 1..16),
        junk().prop_map(|j| j.text().into_bytes()),
    ];
    prop_oneof![
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
        3 => (any::<Index>(), 1..=255u8).prop_map(|(at, mask)| ByteEdit::Flip(at, mask)),
        2 => (any::<Index>(), inserted).prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
        2 => (any::<Index>(), 1..64u16).prop_map(|(at, n)| ByteEdit::Remove(at, n)),
        1 => (any::<Index>(), 1..64u16, 2..32u8).prop_map(|(at, n, times)| ByteEdit::Repeat(at, n, times)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| ByteEdit::Splice(at, token)),
        1 => (any::<Index>(), any::<Index>(), prop_oneof![1..64u16, 1_000..20_000u16])
            .prop_map(|(at, pair, depth)| ByteEdit::Nest(at, pair, depth)),
    ]
}

/// `bytes` with `edits` applied in order.
pub fn apply_bytes(mut bytes: Vec<u8>, edits: &[ByteEdit], grammar: &Grammar) -> Vec<u8> {
    for edit in edits {
        let position = |at: &Index, len: usize| at.index(len + 1);
        match edit {
            ByteEdit::Truncate(at) => bytes.truncate(position(at, bytes.len())),
            ByteEdit::Flip(at, mask) => {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] ^= mask;
                }
            }
            ByteEdit::Insert(at, inserted) => {
                let i = position(at, bytes.len());
                bytes.splice(i..i, inserted.iter().copied());
            }
            ByteEdit::Remove(at, n) => {
                let i = position(at, bytes.len());
                let end = (i + *n as usize).min(bytes.len());
                bytes.drain(i..end);
            }
            ByteEdit::Repeat(at, n, times) => {
                let i = position(at, bytes.len());
                let end = (i + *n as usize).min(bytes.len());
                let part = bytes[i..end].to_vec();
                for _ in 1..*times {
                    bytes.splice(end..end, part.iter().copied());
                }
            }
            ByteEdit::Splice(at, token) => {
                let token = grammar.tokens[token.index(grammar.tokens.len())];
                let i = position(at, bytes.len());
                bytes.splice(i..i, token.bytes());
            }
            ByteEdit::Nest(at, pair, depth) => {
                let (open, close) = grammar.brackets[pair.index(grammar.brackets.len())];
                let i = position(at, bytes.len());
                let mut nested = open.repeat(*depth as usize);
                nested.push_str(&close.repeat(*depth as usize));
                bytes.splice(i..i, nested.into_bytes());
            }
        }
    }
    bytes
}

fn random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..512),
        any::<String>().prop_map(String::into_bytes),
    ]
}

/// Inputs made from `samples`, seen as JSON and written out by `encode`: structural
/// edits, byte edits of the encoded text on top, and random bytes.
pub fn documents(
    samples: Vec<Value>,
    encode: fn(&Value) -> Vec<u8>,
    grammar: &'static Grammar,
) -> BoxedStrategy<Vec<u8>> {
    let structural = (select(samples.clone()), vec(edit(), 1..6))
        .prop_map(move |(sample, edits)| encode(&apply(sample, &edits)));
    let both = (select(samples), vec(edit(), 0..4), vec(byte_edit(), 1..4)).prop_map(
        move |(sample, edits, byte_edits)| {
            apply_bytes(encode(&apply(sample, &edits)), &byte_edits, grammar)
        },
    );
    prop_oneof![5 => structural, 4 => both, 1 => random_bytes()].boxed()
}

/// Inputs made from texts: byte edits, and random bytes.
pub fn texts(samples: Vec<String>, grammar: &'static Grammar) -> BoxedStrategy<Vec<u8>> {
    let samples: Vec<Vec<u8>> = samples.into_iter().map(String::into_bytes).collect();
    let edited = (select(samples), vec(byte_edit(), 1..8))
        .prop_map(move |(sample, edits)| apply_bytes(sample, &edits, grammar));
    prop_oneof![9 => edited, 1 => random_bytes()].boxed()
}

/// JSON text.
pub fn json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A form from its JSON view: an array of `[name, value]` pairs (a value that is not a
/// string is written as JSON, as Slack writes `payload`).
pub fn form(value: &Value) -> Vec<u8> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    let pairs: Vec<(String, String)> = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(pair) => (text(pair.first()), text(pair.get(1))),
                other => (text(Some(other)), String::new()),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), text(Some(v))))
            .collect(),
        other => vec![(text(Some(other)), String::new())],
    };
    for (name, value) in pairs {
        out.append_pair(&name, &value);
    }
    out.finish().into_bytes()
}

/// The JSON view of a form: `[name, value]` pairs, with JSON values (Slack's `payload`)
/// parsed so that they are mutated structurally too.
pub fn form_view(body: &str) -> Value {
    let pairs = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| {
            let value = serde_json::from_str::<Value>(&v)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::String(v.into_owned()));
            Value::Array(vec![Value::String(k.into_owned()), value])
        })
        .collect();
    Value::Array(pairs)
}

/// TOML text from a JSON view (TOML has no `null`: such fields are left out).
pub fn toml(value: &Value) -> Vec<u8> {
    fn without_nulls(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), without_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| match v {
                        Value::Null => Value::String(String::new()),
                        v => without_nulls(v),
                    })
                    .collect(),
            ),
            v => v.clone(),
        }
    }
    let table = match without_nulls(value) {
        table @ Value::Object(_) => table,
        other => Value::Object(Map::from_iter([("value".to_owned(), other)])),
    };
    toml::to_string(&table).unwrap_or_default().into_bytes()
}

/// The JSON view of a TOML document.
pub fn toml_view(source: &str) -> Value {
    let table: toml::Table = toml::from_str(source).expect("the sample is TOML");
    serde_json::to_value(table).expect("TOML is JSON")
}
