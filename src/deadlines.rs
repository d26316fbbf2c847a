//! Changes to a conversation's timers, as the pure parts (silences, SLA clocks) plan
//! them and `db::timers` applies them; `timers` fires the ones that fall due.

use std::collections::HashMap;

/// What happens to one timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOp {
    /// Set it to count from `since`, whatever it was.
    Restart {
        /// When the clock started.
        since: i64,
        /// When it falls due.
        due: i64,
    },
    /// Start it counting from `since` unless it exists (running or fired).
    StartIfAbsent {
        /// When the clock started.
        since: i64,
        /// When it falls due.
        due: i64,
    },
    /// Remove it: the awaited message came.
    Stop,
}

/// A change to the timer `name` of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerChange {
    /// The conversation.
    pub conversation_id: i64,
    /// `silence:<automation id>`.
    pub name: String,
    /// What happens to it.
    pub op: TimerOp,
}

/// The changes in order, folded into one per (conversation, timer): the one that
/// leaves each timer as all of its changes would have, one after the other.
pub fn fold_into(changes: Vec<TimerChange>) -> Vec<TimerChange> {
    let mut order: Vec<(i64, String)> = Vec::new();
    let mut folded: HashMap<(i64, String), TimerOp> = HashMap::new();
    for c in changes {
        let key = (c.conversation_id, c.name);
        match folded.get_mut(&key) {
            None => {
                order.push(key.clone());
                folded.insert(key, c.op);
            }
            Some(before) => *before = fold(before.clone(), c.op),
        }
    }
    order
        .into_iter()
        .map(|key| {
            let op = folded.remove(&key).expect("every key was folded");
            TimerChange {
                conversation_id: key.0,
                name: key.1,
                op,
            }
        })
        .collect()
}

/// The one change that does what `first` then `then` do.
fn fold(first: TimerOp, then: TimerOp) -> TimerOp {
    match (first, then) {
        // After a stop the timer is absent: a conditional start starts it.
        (TimerOp::Stop, TimerOp::StartIfAbsent { since, due }) => TimerOp::Restart { since, due },
        // A timer just set (or left as it was) stays.
        (first, TimerOp::StartIfAbsent { .. }) => first,
        (_, then) => then,
    }
}
