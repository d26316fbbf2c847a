use std::path::Path;

use super::*;
use crate::automations::calendars;
use crate::automations::slas;

const MIN: i64 = 60_000;

fn calendars() -> Calendars {
    Calendars::of([calendars::compile(
        Path::new("calendars/office.toml"),
        "timezone = \"UTC\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
    )
    .unwrap()])
}

fn policies() -> Policies {
    let calendars = calendars();
    let policy = |name: &str, source: &str| {
        Arc::new(
            slas::compile(Path::new(&format!("slas/{name}.toml")), source, &calendars).unwrap(),
        )
    };
    Policies(vec![
        policy(
            "10-critical",
            "[applies_to]\npriority = [\"critical\"]\n[first_response]\nwithin = \"15m\"\nwarn_before = \"5m\"\n[next_reply]\nwithin = \"30m\"\n[resolution]\nwithin = \"4h\"\nbusiness_hours = \"office\"\n",
        ),
        policy(
            "20-high",
            "[applies_to]\npriority = [\"high\"]\n[first_response]\nwithin = \"1h\"\n[resolution]\nwithin = \"8h\"\n",
        ),
    ])
}

/// Monday 2026-11-30 10:00 UTC, in ms.
fn monday_10() -> i64 {
    DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
        .unwrap()
        .timestamp_millis()
}

fn conversation(priority: Priority) -> Conversation {
    Conversation {
        id: 7,
        team_id: "T1".into(),
        channel: "C1".into(),
        thread_ts: "1.0".into(),
        requester: "U1".into(),
        customer: None,
        title: "VPN down".into(),
        status: Status::Open,
        priority,
        ticket_type: "question".into(),
        assignee: None,
        tags: vec![],
        permalink: String::new(),
        created_at: 0,
        updated_at: 0,
        sla: Default::default(),
    }
}

struct Ticket {
    c: Conversation,
    policies: Policies,
    calendars: Calendars,
    timers: Vec<TimerChange>,
}

impl Ticket {
    fn opened(priority: Priority, at: i64) -> Self {
        let mut c = conversation(priority);
        c.created_at = at;
        let mut t = Ticket {
            c,
            policies: policies(),
            calendars: calendars(),
            timers: vec![],
        };
        t.happen(Happened::Opened(Side::Requester), at);
        t
    }

    fn happen(&mut self, what: Happened, at: i64) {
        self.timers = update(&self.policies, &self.calendars, &mut self.c, what, at);
    }

    fn clock(&self, target: Target) -> &SlaClock {
        &self.c.sla.clocks[&target]
    }

    fn timer(&self, target: Target, alarm: Alarm) -> Option<&TimerOp> {
        let name = timer_name(target, alarm);
        self.timers.iter().find(|c| c.name == name).map(|c| &c.op)
    }
}

#[test]
fn a_critical_ticket_warns_then_breaches_its_first_response() {
    let t0 = monday_10();
    let mut t = Ticket::opened(Priority::Medium, t0);
    assert!(t.c.sla.clocks.is_empty(), "no policy for medium");
    t.c.priority = Priority::Critical;
    t.happen(Happened::Changed, t0);
    let first = t.clock(Target::FirstResponse);
    assert_eq!(first.state, ClockState::Running);
    assert_eq!(first.due_at, Some(t0 + 15 * MIN));
    assert_eq!(first.warn_at, Some(t0 + 10 * MIN));
    assert_eq!(
        t.timer(Target::FirstResponse, Alarm::Warning),
        Some(&TimerOp::Restart {
            since: t0,
            due: t0 + 10 * MIN
        })
    );
    // Resolution counts office hours: 4 h from Monday 10:00 is 14:00.
    assert_eq!(t.clock(Target::Resolution).due_at, Some(t0 + 240 * MIN));

    assert!(ring(
        &mut t.c,
        Target::FirstResponse,
        Alarm::Warning,
        t0 + 10 * MIN
    ));
    assert!(
        !ring(
            &mut t.c,
            Target::FirstResponse,
            Alarm::Warning,
            t0 + 10 * MIN
        ),
        "once"
    );
    assert!(ring(
        &mut t.c,
        Target::FirstResponse,
        Alarm::Breached,
        t0 + 15 * MIN
    ));
    let first = t.clock(Target::FirstResponse);
    assert_eq!(first.state, ClockState::Breached);
    assert_eq!(first.breached_at, Some(t0 + 15 * MIN));
    // The late answer is recorded; the target stays breached.
    t.happen(Happened::Spoke(Side::Team), t0 + 20 * MIN);
    let first = t.clock(Target::FirstResponse);
    assert_eq!(
        (first.state, first.met_at),
        (ClockState::Breached, Some(t0 + 20 * MIN))
    );
}

#[test]
fn changing_priority_midway_moves_the_due_time_by_the_time_already_counted() {
    let t0 = monday_10();
    let mut t = Ticket::opened(Priority::High, t0);
    assert_eq!(t.clock(Target::FirstResponse).due_at, Some(t0 + 60 * MIN));
    assert_eq!(t.clock(Target::FirstResponse).policy, "20-high");
    // Twenty minutes in, it becomes critical: 15 minutes allowed, 20 used.
    t.c.priority = Priority::Critical;
    t.happen(Happened::Changed, t0 + 20 * MIN);
    let first = t.clock(Target::FirstResponse);
    assert_eq!(first.policy, "10-critical");
    assert_eq!(first.used_ms, 20 * MIN);
    assert_eq!(first.due_at, Some(t0 + 20 * MIN), "overdue: due at once");
    // Back to high: 40 minutes left of the hour.
    t.c.priority = Priority::High;
    t.happen(Happened::Changed, t0 + 25 * MIN);
    assert_eq!(t.clock(Target::FirstResponse).due_at, Some(t0 + 60 * MIN));
    // No policy for low: the clocks and their timers go.
    t.c.priority = Priority::Low;
    t.happen(Happened::Changed, t0 + 26 * MIN);
    assert!(t.c.sla.clocks.is_empty());
    assert_eq!(
        t.timer(Target::FirstResponse, Alarm::Breached),
        Some(&TimerOp::Stop)
    );
}

#[test]
fn pending_pauses_the_clocks_and_resolving_meets_them() {
    let t0 = monday_10();
    let mut t = Ticket::opened(Priority::Critical, t0);
    t.happen(Happened::Spoke(Side::Team), t0 + 5 * MIN);
    assert_eq!(t.clock(Target::FirstResponse).state, ClockState::Met);
    // Pending at 11:00 after an hour of office time; open again on Tuesday 09:00.
    t.c.status = Status::Pending;
    t.happen(Happened::Changed, t0 + 60 * MIN);
    let resolution = t.clock(Target::Resolution);
    assert_eq!(
        (resolution.state, resolution.used_ms, resolution.due_at),
        (ClockState::Paused, 60 * MIN, None)
    );
    assert_eq!(
        t.timer(Target::Resolution, Alarm::Breached),
        Some(&TimerOp::Stop)
    );
    let tuesday_9 = t0 + 23 * 60 * MIN;
    t.c.status = Status::Open;
    t.happen(Happened::Changed, tuesday_9);
    // Three hours left: Tuesday 12:00.
    assert_eq!(
        t.clock(Target::Resolution).due_at,
        Some(tuesday_9 + 180 * MIN)
    );
    t.c.status = Status::Resolved;
    t.happen(Happened::Changed, tuesday_9 + 60 * MIN);
    let resolution = t.clock(Target::Resolution);
    assert_eq!(resolution.state, ClockState::Met);
    assert_eq!(resolution.used_ms, 120 * MIN);
    // Reopened: it runs on with the hour that is left.
    t.c.status = Status::Open;
    t.happen(Happened::Changed, tuesday_9 + 120 * MIN);
    assert_eq!(t.clock(Target::Resolution).state, ClockState::Running);
    assert_eq!(
        t.clock(Target::Resolution).due_at,
        Some(tuesday_9 + 240 * MIN)
    );
}

#[test]
fn next_reply_counts_from_the_first_unanswered_message_after_an_answer() {
    let t0 = monday_10();
    let mut t = Ticket::opened(Priority::Critical, t0);
    t.happen(Happened::Spoke(Side::Requester), t0 + MIN);
    assert!(
        !t.c.sla.clocks.contains_key(&Target::NextReply),
        "not answered yet"
    );
    t.happen(Happened::Spoke(Side::Team), t0 + 2 * MIN);
    t.happen(Happened::Spoke(Side::Requester), t0 + 3 * MIN);
    t.happen(Happened::Spoke(Side::Requester), t0 + 4 * MIN);
    let next = t.clock(Target::NextReply);
    assert_eq!(
        (next.started_at, next.due_at),
        (t0 + 3 * MIN, Some(t0 + 33 * MIN))
    );
    t.happen(Happened::Spoke(Side::Team), t0 + 10 * MIN);
    assert_eq!(t.clock(Target::NextReply).state, ClockState::Met);
    t.happen(Happened::Spoke(Side::Requester), t0 + 11 * MIN);
    assert_eq!(
        t.clock(Target::NextReply).started_at,
        t0 + 11 * MIN,
        "a new cycle"
    );
}

#[test]
fn a_conversation_opened_by_the_team_awaits_no_first_response() {
    let mut t = Ticket::opened(Priority::Critical, monday_10());
    t.c.sla = Default::default();
    t.happen(Happened::Opened(Side::Team), monday_10());
    assert!(!t.c.sla.clocks.contains_key(&Target::FirstResponse));
    assert!(t.c.sla.clocks.contains_key(&Target::Resolution));
}

#[test]
fn timer_names_round_trip() {
    for target in Target::ALL {
        for alarm in [Alarm::Warning, Alarm::Breached] {
            assert_eq!(
                parse_timer_name(&timer_name(target, alarm)),
                Some((target, alarm))
            );
        }
    }
    assert_eq!(parse_timer_name("silence:x"), None);
}
