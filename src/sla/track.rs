//! Moving the clocks of a batch's conversations and storing them, inside the
//! transaction that records what moved them (the ingest's, or a run's journal entry):
//! a clock is never behind what the database says happened.

use std::collections::HashMap;

use super::{Happened, Policies, update};
use crate::automations::calendars::Calendars;
use crate::conversations::Conversation;
use crate::db::{self, tx::Tx};
use crate::deadlines::{self, TimerChange};

/// The clocks moved in one transaction, stored by [`save`](Self::save).
#[derive(Debug)]
pub struct ClockMoves<'a> {
    policies: &'a Policies,
    calendars: &'a Calendars,
    moved: HashMap<i64, Conversation>,
    timers: Vec<TimerChange>,
}

impl<'a> ClockMoves<'a> {
    /// Moves under `policies`, counted in `calendars`.
    pub fn new(policies: &'a Policies, calendars: &'a Calendars) -> Self {
        Self {
            policies,
            calendars,
            moved: HashMap::new(),
            timers: Vec::new(),
        }
    }

    /// Moves `conversation`'s clocks for `what` (after the moves before it in this
    /// transaction); `conversation` is updated in place.
    pub fn apply(&mut self, conversation: &mut Conversation, what: Happened, now_ms: i64) {
        if self.policies.is_empty() && conversation.sla.is_empty() {
            return;
        }
        if let Some(earlier) = self.moved.get(&conversation.id) {
            conversation.sla = earlier.sla.clone();
        }
        let changes = update(self.policies, self.calendars, conversation, what, now_ms);
        self.timers.extend(changes);
        self.moved.insert(conversation.id, conversation.clone());
    }

    /// Stores the moved clocks and their timers (deferred statements).
    pub async fn save(self, tx: &mut dyn Tx) -> sqlx::Result<()> {
        for conversation in self.moved.values() {
            db::conversations::save_sla(tx, conversation).await?;
        }
        let timers = deadlines::fold_into(self.timers);
        if !timers.is_empty() {
            db::timers::apply(tx, &timers).await?;
        }
        Ok(())
    }
}
