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
    /// The clocks as committed, read with their rows locked (PostgreSQL).
    current: HashMap<i64, crate::conversations::sla::Sla>,
}

impl<'a> ClockMoves<'a> {
    /// Moves under `policies`, counted in `calendars`.
    pub fn new(policies: &'a Policies, calendars: &'a Calendars) -> Self {
        Self {
            policies,
            calendars,
            moved: HashMap::new(),
            timers: Vec::new(),
            current: HashMap::new(),
        }
    }

    /// Whether clocks move at all (a policy is in force).
    pub fn active(&self) -> bool {
        !self.policies.is_empty()
    }

    /// Locks the rows of `conversations` and moves their clocks from the state
    /// committed now rather than from the copies the caller read earlier: another
    /// connection may have moved them meanwhile.
    pub async fn lock(&mut self, tx: &mut dyn Tx, conversations: &[i64]) -> sqlx::Result<()> {
        if self.active() {
            self.current = db::conversations::lock_sla(tx, conversations).await?;
        }
        Ok(())
    }

    /// Moves `conversation`'s clocks for `what` (after the moves before it in this
    /// transaction); `conversation` is updated in place.
    pub fn apply(&mut self, conversation: &mut Conversation, what: Happened, now_ms: i64) {
        if self.policies.is_empty() && conversation.sla.is_empty() {
            return;
        }
        if let Some(earlier) = self.moved.get(&conversation.id) {
            conversation.sla = earlier.sla.clone();
        } else if let Some(committed) = self.current.remove(&conversation.id) {
            conversation.sla = committed;
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
