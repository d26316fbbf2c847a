//! The host-call journal of a script that waits for an approval.
//!
//! A script cannot be frozen mid-`await` and thawed days later, so a script that calls
//! `approvals.request` and must wait ends there: its sandbox is released, and the
//! results of the host calls it made so far are sealed (encrypted like secrets) and
//! stored. When the decision comes, the script runs again from the top and every host
//! call is answered from the journal, in order, without being carried out again, up
//! to the `approvals.request` that waited, which now returns the decision. Side
//! effects before the wait therefore happen once.
//!
//! The rules for script authors follow: before an approval, the script must make the
//! same host calls in the same order with the same arguments (no branching on
//! `Date.now()` or `Math.random()` before it); a call that differs on replay stops the
//! step with an error naming the call. `secrets.get` is not journaled (secret values
//! are read again, never stored), and console output of the replayed part is not
//! logged twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::protocol::HostResult;

/// One journaled call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Host function name.
    pub name: String,
    /// SHA-256 of its arguments, to notice a script that took another path.
    pub args: String,
    /// What it returned; `None` for the call the script waited at, which is carried
    /// out again (it now returns the decision).
    pub result: Option<HostResult>,
}

/// What to do with a host call.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Answer with the journaled result.
    Replay(HostResult),
    /// Carry it out; record the result at this position.
    Live(usize),
    /// The script made a different call than the first time.
    Diverged(String),
}

/// A call in the journal; `result` is `None` while it is in flight.
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    args: String,
    result: Option<HostResult>,
}

/// The calls of one script step: those replayed, then those made live.
#[derive(Debug, Default)]
pub struct CallJournal {
    slots: Vec<Slot>,
    replay: usize,
    position: usize,
}

/// Functions answered live even on replay.
const LIVE: &[&str] = &["secrets.get"];

fn digest(args: &Value) -> String {
    hex::encode(Sha256::digest(args.to_string().as_bytes()))
}

impl CallJournal {
    /// A journal that replays `entries` before anything runs live.
    pub fn replaying(entries: Vec<Entry>) -> Self {
        Self {
            replay: entries.len(),
            slots: entries
                .into_iter()
                .map(|e| Slot {
                    name: e.name,
                    args: e.args,
                    result: e.result,
                })
                .collect(),
            position: 0,
        }
    }

    /// Whether calls are still answered from the journal.
    pub fn is_replaying(&self) -> bool {
        self.position < self.replay
    }

    /// Whether `name` is journaled at all.
    pub fn journals(name: &str) -> bool {
        !LIVE.contains(&name)
    }

    /// Takes the next position for a call of `name` with `args`, in the order the
    /// script made them.
    pub fn claim(&mut self, name: &str, args: &Value) -> Claim {
        let position = self.position;
        self.position += 1;
        let args = digest(args);
        if position >= self.replay {
            self.slots.push(Slot {
                name: name.to_owned(),
                args,
                result: None,
            });
            return Claim::Live(position);
        }
        let entry = &self.slots[position];
        if entry.name == name && entry.args == args {
            match &entry.result {
                Some(result) => Claim::Replay(result.clone()),
                None => Claim::Live(position),
            }
        } else {
            let what = if entry.name == name {
                format!("{name} with other arguments")
            } else {
                name.to_owned()
            };
            Claim::Diverged(format!(
                "the script took another path when it ran again after its approval: host call #{} was {} the first time and is {what} now; code before approvals.request must make the same calls in the same order (no Date.now() or Math.random() decisions before it)",
                position + 1,
                entry.name
            ))
        }
    }

    /// Records the result of the live call at `position`.
    pub fn record(&mut self, position: usize, result: &HostResult) {
        if let Some(slot) = self.slots.get_mut(position) {
            slot.result = Some(result.clone());
        }
    }

    /// The calls to keep when the script waits at the call at `waiting`: every call
    /// before it (finished, as the script awaited them), then the waiting call itself.
    /// A call still in flight before it ends the list there.
    pub fn up_to(&self, waiting: usize) -> Vec<Entry> {
        let entry = |s: &Slot, result| Entry {
            name: s.name.clone(),
            args: s.args.clone(),
            result,
        };
        let mut kept: Vec<Entry> = self.slots[..waiting.min(self.slots.len())]
            .iter()
            .map_while(|s| s.result.clone().map(|r| entry(s, Some(r))))
            .collect();
        if kept.len() == waiting
            && let Some(s) = self.slots.get(waiting)
        {
            kept.push(entry(s, None));
        }
        kept
    }
}

/// The associated data binding a sealed journal to its run and step.
pub fn associated_data(run_id: i64, step: usize) -> Vec<u8> {
    format!("switchboard script journal v1\0{run_id}\0{step}").into_bytes()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replays_in_order_then_runs_live() {
        let mut first = CallJournal::default();
        let Claim::Live(0) = first.claim("slack.reply", &json!({ "text": "hi" })) else {
            panic!()
        };
        let Claim::Live(1) = first.claim("kv.get", &json!({ "key": "k" })) else {
            panic!()
        };
        first.record(1, &HostResult::ok(json!(3)));
        let Claim::Live(2) = first.claim("approvals.request", &json!({ "title": "t" })) else {
            panic!()
        };
        // The reply is still in flight: only what finished in order is kept.
        assert!(first.up_to(2).is_empty());
        first.record(0, &HostResult::ok(json!({ "ts": "1.2" })));
        let kept = first.up_to(2);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[2].result, None);

        let mut again = CallJournal::replaying(kept);
        assert!(again.is_replaying());
        assert_eq!(
            again.claim("slack.reply", &json!({ "text": "hi" })),
            Claim::Replay(HostResult::ok(json!({ "ts": "1.2" })))
        );
        assert_eq!(
            again.claim("kv.get", &json!({ "key": "k" })),
            Claim::Replay(HostResult::ok(json!(3)))
        );
        // Still replaying until the call it waited at, which runs again.
        assert!(again.is_replaying());
        assert_eq!(
            again.claim("approvals.request", &json!({ "title": "t" })),
            Claim::Live(2)
        );
        assert!(!again.is_replaying());
        assert_eq!(
            again.claim("okta.resetPassword", &json!({})),
            Claim::Live(3)
        );
    }

    #[test]
    fn a_different_call_on_replay_is_named() {
        let mut first = CallJournal::default();
        first.claim("kv.get", &json!({ "key": "a" }));
        first.record(0, &HostResult::ok(Value::Null));
        let mut again = CallJournal::replaying(first.up_to(1));
        let Claim::Diverged(why) = again.claim("kv.get", &json!({ "key": "b" })) else {
            panic!()
        };
        assert!(
            why.contains(
                "host call #1 was kv.get the first time and is kv.get with other arguments"
            ),
            "{why}"
        );
        assert!(!CallJournal::journals("secrets.get"));
    }
}
