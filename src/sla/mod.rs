//! SLA policies and how a conversation's clocks move (pure; `track` stores them).
//!
//! A policy (`slas/<name>.toml`) applies to the conversations whose priority, type and
//! customer it matches; the first policy in file-name order that matches wins. It sets
//! targets — `first_response`, `next_reply`, `resolution` — each a time within which
//! the awaited thing must happen, counted in a calendar's working time or in calendar
//! time, with an optional warning before it.
//!
//! - `first_response` starts when the requester side opens the conversation and is
//!   met by the team's first message.
//! - `next_reply` starts at the requester side's first message after an answer and is
//!   met by the team's next message.
//! - `resolution` starts when the conversation opens and is met when it is resolved
//!   or closed; reopening it lets the clock run on from where it stopped.
//!
//! Clocks pause while the status is one of the policy's `pause_when` (default
//! `pending`). Resolving or closing a conversation meets every open target. When the
//! priority, type, customer or status changes, the policy is chosen again and the due
//! times recomputed from the time already counted. A clock that breached stays
//! breached (its `met_at` says when the answer came), and met or breached clocks stay
//! on record when their policy no longer applies.

pub mod track;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration};

use crate::automations::calendars::Calendars;
use crate::calendar::Calendar;
use crate::conversations::sla::{ClockState, SlaClock, Target};
use crate::conversations::{Conversation, Priority, Status};
use crate::deadlines::{TimerChange, TimerOp};
use crate::team::Side;

/// The prefix of SLA timers' names: `sla:<target>:warning` and `sla:<target>:breached`.
pub const PREFIX: &str = "sla:";

/// One target of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRule {
    /// Within how long.
    pub within: Duration,
    /// Warn this long before the due time.
    pub warn_before: Option<Duration>,
    /// Counted in this calendar's open hours; `None`: all the time.
    pub business_hours: Option<String>,
}

/// An SLA policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its name: the file's stem.
    pub name: String,
    /// Only conversations of these priorities (empty: any).
    pub priorities: Vec<Priority>,
    /// Only conversations of these ticket types (empty: any).
    pub ticket_types: Vec<String>,
    /// Only conversations of these customers (empty: any).
    pub customers: Vec<String>,
    /// Statuses in which the clocks stop.
    pub pause_when: Vec<Status>,
    /// Its targets.
    pub targets: BTreeMap<Target, TargetRule>,
}

impl Policy {
    /// Whether it applies to `c`.
    pub fn applies_to(&self, c: &Conversation) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&c.priority))
            && (self.ticket_types.is_empty() || self.ticket_types.contains(&c.ticket_type))
            && (self.customers.is_empty()
                || c.customer
                    .as_ref()
                    .is_some_and(|x| self.customers.contains(x)))
    }
}

/// The policies in force, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct Policies(pub Vec<Arc<Policy>>);

impl Policies {
    /// The policy for `c`: the first that applies.
    pub fn for_conversation(&self, c: &Conversation) -> Option<&Policy> {
        self.0.iter().map(Arc::as_ref).find(|p| p.applies_to(c))
    }

    /// Whether some policy has `target`.
    pub fn defines(&self, target: Target) -> bool {
        self.0.iter().any(|p| p.targets.contains_key(&target))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn named(&self, name: &str) -> Option<&Policy> {
        self.0.iter().map(Arc::as_ref).find(|p| p.name == name)
    }
}

/// What happened to a conversation, as its clocks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    /// It was opened by a message from this side.
    Opened(Side),
    /// Someone of this side wrote in it.
    Spoke(Side),
    /// Its fields changed (or a clock fell due): the policy is chosen again.
    Changed,
}

/// The kinds of SLA timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// The warning before the due time.
    Warning,
    /// The due time.
    Breached,
}

impl Alarm {
    /// The name in timers and event ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Breached => "breached",
        }
    }
}

/// The timer name of a target's alarm.
pub fn timer_name(target: Target, alarm: Alarm) -> String {
    format!("{PREFIX}{target}:{}", alarm.as_str())
}

/// The target and alarm a timer's name stands for.
pub fn parse_timer_name(name: &str) -> Option<(Target, Alarm)> {
    let (target, alarm) = name.strip_prefix(PREFIX)?.split_once(':')?;
    let alarm = match alarm {
        "warning" => Alarm::Warning,
        "breached" => Alarm::Breached,
        _ => return None,
    };
    Some((Target::from_name(target)?, alarm))
}

/// Moves `conversation`'s clocks for `what` at `now_ms`; returns the timers to set
/// and remove.
pub fn update(
    policies: &Policies,
    calendars: &Calendars,
    conversation: &mut Conversation,
    what: Happened,
    now_ms: i64,
) -> Vec<TimerChange> {
    let before: BTreeSet<Target> = conversation.sla.clocks.keys().copied().collect();
    // Count the running clocks up to now in the calendar they ran in.
    for (target, clock) in conversation.sla.clocks.iter_mut() {
        if clock.state == ClockState::Running {
            let calendar = policies
                .named(&clock.policy)
                .and_then(|p| p.targets.get(target))
                .and_then(|r| calendar_for(r, calendars));
            let since = clock.resumed_at.unwrap_or(now_ms);
            clock.used_ms += elapsed(calendar, since, now_ms);
            clock.resumed_at = Some(now_ms);
        }
    }
    let sla = &mut conversation.sla;
    match what {
        Happened::Opened(Side::Team) => sla.answered_at = Some(now_ms),
        Happened::Opened(Side::Requester) => sla.waiting_since = Some(now_ms),
        Happened::Spoke(Side::Team) => {
            sla.answered_at.get_or_insert(now_ms);
            sla.waiting_since = None;
            for target in [Target::FirstResponse, Target::NextReply] {
                if let Some(clock) = sla.clocks.get_mut(&target) {
                    meet(clock, now_ms);
                }
            }
        }
        Happened::Spoke(Side::Requester) => {
            sla.waiting_since.get_or_insert(now_ms);
        }
        Happened::Changed => {}
    }
    // A target that was met or breached stays on record when no policy (or one
    // without that target) applies any more: a breach is not undone by lowering the
    // priority afterwards.
    let settled = |c: &SlaClock| matches!(c.state, ClockState::Met | ClockState::Breached);
    match policies.for_conversation(conversation).cloned() {
        None => conversation.sla.clocks.retain(|_, c| settled(c)),
        Some(p) => {
            start_awaited(&p, calendars, conversation, now_ms);
            let status = conversation.status;
            let clocks = &mut conversation.sla.clocks;
            clocks.retain(|target, c| p.targets.contains_key(target) || settled(c));
            for (target, clock) in clocks.iter_mut() {
                let Some(rule) = p.targets.get(target) else {
                    continue;
                };
                clock.policy = p.name.clone();
                reconcile(
                    clock,
                    *target,
                    rule,
                    calendar_for(rule, calendars),
                    &p,
                    status,
                    now_ms,
                );
            }
        }
    }
    timers(conversation.id, &before, &conversation.sla.clocks)
}

/// Starts the clocks of `policy`'s targets that something is awaited for and that
/// have none yet, each from when the wait began: a conversation that becomes critical
/// an hour after it was opened has used an hour of its first response.
fn start_awaited(policy: &Policy, calendars: &Calendars, c: &mut Conversation, now_ms: i64) {
    let done = matches!(c.status, Status::Resolved | Status::Closed);
    let sla = &mut c.sla;
    let mut awaited: Vec<(Target, i64)> = Vec::new();
    if sla.answered_at.is_none() && !done {
        awaited.push((Target::FirstResponse, c.created_at));
    }
    if let (Some(_), Some(since), false) = (sla.answered_at, sla.waiting_since, done) {
        awaited.push((Target::NextReply, since));
    }
    if !done {
        awaited.push((Target::Resolution, c.created_at));
    }
    for (target, since) in awaited {
        let Some(rule) = policy.targets.get(&target) else {
            continue;
        };
        // A clock exists already, unless it is a next reply met before this wait
        // began (an earlier exchange's).
        let fresh = match sla.clocks.get(&target) {
            None => true,
            Some(clock) => {
                target == Target::NextReply && clock.met_at.is_some_and(|met| met <= since)
            }
        };
        if !fresh {
            continue;
        }
        let since = since.min(now_ms);
        let used = elapsed(calendar_for(rule, calendars), since, now_ms);
        sla.clocks.insert(
            target,
            SlaClock {
                policy: policy.name.clone(),
                state: ClockState::Running,
                started_at: since,
                used_ms: used,
                resumed_at: Some(now_ms),
                due_at: None,
                warn_at: None,
                warned_at: None,
                met_at: None,
                breached_at: None,
            },
        );
    }
}

/// The awaited thing happened.
fn meet(clock: &mut SlaClock, now_ms: i64) {
    match clock.state {
        ClockState::Running | ClockState::Paused => {
            clock.state = ClockState::Met;
            clock.met_at = Some(now_ms);
            clock.resumed_at = None;
            clock.due_at = None;
            clock.warn_at = None;
        }
        ClockState::Breached if clock.met_at.is_none() => clock.met_at = Some(now_ms),
        _ => {}
    }
}

/// Brings a clock in line with the conversation's status and its policy's rule.
fn reconcile(
    clock: &mut SlaClock,
    target: Target,
    rule: &TargetRule,
    calendar: Option<&Calendar>,
    policy: &Policy,
    status: Status,
    now_ms: i64,
) {
    if matches!(status, Status::Resolved | Status::Closed) {
        meet(clock, now_ms);
        return;
    }
    if target == Target::Resolution && clock.state == ClockState::Met {
        // Reopened: the clock runs on from where it stopped.
        clock.state = ClockState::Running;
        clock.met_at = None;
        clock.resumed_at = Some(now_ms);
    }
    let paused = policy.pause_when.contains(&status);
    match clock.state {
        ClockState::Running if paused => {
            clock.state = ClockState::Paused;
            clock.resumed_at = None;
        }
        ClockState::Paused if !paused => {
            clock.state = ClockState::Running;
            clock.resumed_at = Some(now_ms);
        }
        _ => {}
    }
    match clock.state {
        ClockState::Running => {
            let left = rule.within.num_milliseconds() - clock.used_ms;
            clock.due_at = Some(later(calendar, now_ms, left));
            let warn = rule.warn_before.map(|w| {
                let at = left - w.num_milliseconds();
                if at > 0 {
                    later(calendar, now_ms, at)
                } else {
                    now_ms
                }
            });
            // A warning already given for a time that has passed is not given again;
            // a deadline moved later warns again.
            clock.warn_at = warn.filter(|w| clock.warned_at.is_none() || *w > now_ms);
        }
        ClockState::Paused | ClockState::Met => {
            clock.due_at = None;
            clock.warn_at = None;
        }
        ClockState::Breached => clock.warn_at = None,
    }
}

/// The timers the clocks need: the running ones' warning and due time; none for the
/// others (of the targets that had a clock before, or have one now).
fn timers(
    conversation_id: i64,
    before: &BTreeSet<Target>,
    sla: &BTreeMap<Target, SlaClock>,
) -> Vec<TimerChange> {
    let mut changes = Vec::new();
    let targets: BTreeSet<Target> = before.iter().chain(sla.keys()).copied().collect();
    for target in targets {
        let clock = sla.get(&target).filter(|c| c.state == ClockState::Running);
        for (alarm, at) in [
            (Alarm::Warning, clock.and_then(|c| c.warn_at)),
            (Alarm::Breached, clock.and_then(|c| c.due_at)),
        ] {
            let op = match (clock, at) {
                (Some(c), Some(due)) => TimerOp::Restart {
                    since: c.started_at,
                    due,
                },
                _ => TimerOp::Stop,
            };
            changes.push(TimerChange {
                conversation_id,
                name: timer_name(target, alarm),
                op,
            });
        }
    }
    changes
}

/// Records that `alarm` of `target` fell due at `due_ms`: a breach ends the clock.
/// Returns whether the clock was still waiting for it.
pub fn ring(conversation: &mut Conversation, target: Target, alarm: Alarm, due_ms: i64) -> bool {
    let Some(clock) = conversation.sla.clocks.get_mut(&target) else {
        return false;
    };
    if clock.state != ClockState::Running {
        return false;
    }
    match alarm {
        Alarm::Warning => {
            if clock.warn_at != Some(due_ms) {
                return false;
            }
            clock.warned_at = Some(due_ms);
            clock.warn_at = None;
        }
        Alarm::Breached => {
            if clock.due_at != Some(due_ms) {
                return false;
            }
            clock.state = ClockState::Breached;
            clock.breached_at = Some(due_ms);
            clock.resumed_at = None;
            clock.warn_at = None;
        }
    }
    true
}

/// One line per clock for people: `first_response  breached at … (policy 10-critical)`.
pub fn describe(clocks: &BTreeMap<Target, SlaClock>) -> Vec<String> {
    use crate::clock::format_ms;
    clocks
        .iter()
        .map(|(target, c)| {
            let state = match c.state {
                ClockState::Running => format!(
                    "running, due {}{}",
                    c.due_at.map(format_ms).unwrap_or_default(),
                    c.warn_at
                        .map(|w| format!(", warning at {}", format_ms(w)))
                        .unwrap_or_default()
                ),
                ClockState::Paused => format!("paused, {} min counted", c.used_ms / 60_000),
                ClockState::Met => {
                    format!("met at {}", c.met_at.map(format_ms).unwrap_or_default())
                }
                ClockState::Breached => format!(
                    "BREACHED at {}{}",
                    c.breached_at.map(format_ms).unwrap_or_default(),
                    c.met_at
                        .map(|m| format!(", answered at {}", format_ms(m)))
                        .unwrap_or_default()
                ),
            };
            format!("{:<15} {state}  (policy {})", target.as_str(), c.policy)
        })
        .collect()
}

fn calendar_for<'a>(rule: &TargetRule, calendars: &'a Calendars) -> Option<&'a Calendar> {
    rule.business_hours
        .as_deref()
        .and_then(|name| calendars.get(name))
        .map(Arc::as_ref)
}

/// Counted time between two instants (ms).
fn elapsed(calendar: Option<&Calendar>, from_ms: i64, to_ms: i64) -> i64 {
    match (
        calendar,
        DateTime::from_timestamp_millis(from_ms),
        DateTime::from_timestamp_millis(to_ms),
    ) {
        (Some(c), Some(from), Some(to)) => c.between(from, to).num_milliseconds(),
        _ => (to_ms - from_ms).max(0),
    }
}

/// The instant `ms` of counted time after `from_ms` (at once when none is left).
fn later(calendar: Option<&Calendar>, from_ms: i64, ms: i64) -> i64 {
    if ms <= 0 {
        return from_ms;
    }
    let Some(calendar) = calendar else {
        return from_ms.saturating_add(ms);
    };
    DateTime::from_timestamp_millis(from_ms)
        .and_then(|from| calendar.add(from, Duration::milliseconds(ms)))
        .map_or(i64::MAX, |t| t.timestamp_millis())
}

#[cfg(test)]
mod tests;
