//! Sealed secrets as they are stored (ciphertext, nonce, wrapped data key, key id, and
//! the workspace, name and version they are bound to), tampered with: opening one
//! fails with an error and never yields other data.

use serde_json::{Map, Value, json};
use switchboard::secrets::envelope::{self, Sealed, associated_data};
use switchboard::secrets::local::LocalKeys;

use crate::harness::{Target, ensure};
use crate::mutate;

const PLAINTEXT: &[u8] = b"xoxb-1234-5678-s3cr3tValue";

/// One stored row and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    sealed: Sealed,
    workspace: String,
    name: String,
    version: i64,
}

impl Row {
    /// `field=value` lines, binary fields in hex.
    fn text(&self) -> String {
        let s = &self.sealed;
        format!(
            "ciphertext={}\nnonce={}\nwrapped_key={}\nkey_id={}\nworkspace={}\nname={}\nversion={}\n",
            hex::encode(&s.ciphertext),
            hex::encode(&s.nonce),
            hex::encode(&s.wrapped_key),
            s.key_id,
            self.workspace,
            self.name,
            self.version
        )
    }

    /// From its lines; a field that is not hex is taken as the bytes written.
    fn parse(text: &[u8]) -> Self {
        let mut fields = Map::new();
        for line in text.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            if let Some((k, v)) = line.split_once('=') {
                fields
                    .entry(k.to_owned())
                    .or_insert_with(|| Value::String(v.to_owned()));
            }
        }
        let text = |k: &str| {
            fields
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let bytes = |k: &str| {
            let t = text(k);
            hex::decode(&t).unwrap_or_else(|_| t.into_bytes())
        };
        Self {
            sealed: Sealed {
                ciphertext: bytes("ciphertext"),
                nonce: bytes("nonce"),
                wrapped_key: bytes("wrapped_key"),
                key_id: text("key_id"),
            },
            workspace: text("workspace"),
            name: text("name"),
            version: text("version").parse().unwrap_or_default(),
        }
    }
}

/// The JSON view of a row: its byte fields as arrays of numbers, so that edits drop,
/// change, repeat and move single bytes.
fn view(row: &Row) -> Value {
    let s = &row.sealed;
    json!({
        "ciphertext": s.ciphertext, "nonce": s.nonce, "wrapped_key": s.wrapped_key, "key_id": s.key_id,
        "workspace": row.workspace, "name": row.name, "version": row.version,
    })
}

fn row_text(view: &Value) -> Vec<u8> {
    let bytes = |k: &str| -> Vec<u8> {
        match &view[k] {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_u64().map(|n| n as u8))
                .collect(),
            other => other.to_string().into_bytes(),
        }
    };
    let text = |k: &str| match &view[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Row {
        sealed: Sealed {
            ciphertext: bytes("ciphertext"),
            nonce: bytes("nonce"),
            wrapped_key: bytes("wrapped_key"),
            key_id: text("key_id"),
        },
        workspace: text("workspace"),
        name: text("name"),
        version: view["version"].as_i64().unwrap_or_default(),
    }
    .text()
    .into_bytes()
}

#[test]
fn sealed_secrets() {
    let keys = LocalKeys::from_keys(vec![[7u8; 32]]);
    let seal = |workspace: &str, name: &str, version: i64| {
        let aad = associated_data(workspace, name, version);
        let sealed =
            futures::executor::block_on(envelope::seal(&keys, PLAINTEXT, &aad)).expect("it seals");
        Row {
            sealed,
            workspace: workspace.into(),
            name: name.into(),
            version,
        }
    };
    let rows = [
        seal("T0TEST", "OKTA_API_TOKEN", 1),
        seal("*", "JIRA_API_TOKEN", 3),
    ];
    let samples = rows.iter().map(view).collect();
    Target::new("sealed_secrets").run(
        mutate::documents(samples, row_text, &mutate::JSON),
        move || {
            let others = LocalKeys::from_keys(vec![[8u8; 32]]);
            move |input: &[u8]| {
                let row = Row::parse(input);
                let aad = associated_data(&row.workspace, &row.name, row.version);
                match futures::executor::block_on(envelope::open(&keys, &row.sealed, &aad)) {
                    Ok(plaintext) => {
                        ensure!(rows.contains(&row), "a tampered row opened: {row:?}");
                        ensure!(
                            plaintext.as_slice() == PLAINTEXT,
                            "a row opened to other data"
                        );
                    }
                    Err(e) => {
                        let message = e.to_string();
                        ensure!(!message.is_empty(), "refused without a reason");
                        ensure!(
                            !message.contains("s3cr3t"),
                            "the refusal shows the secret: {message}"
                        );
                    }
                }
                let with_another_key =
                    futures::executor::block_on(envelope::open(&others, &row.sealed, &aad));
                ensure!(with_another_key.is_err(), "a row opened with another key");
                Ok(())
            }
        },
    );
}
