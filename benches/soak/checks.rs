//! The checks.

use super::*;

/// A run, as the checks read it.
pub(crate) struct RunRow {
    pub(crate) id: i64,
    pub(crate) event_id: String,
    pub(crate) automation: String,
    pub(crate) status: String,
    pub(crate) conversation: Option<i64>,
    pub(crate) error: String,
    pub(crate) lease_expires_at: Option<i64>,
}

/// An approval request, as the checks read it.
pub(crate) struct ApprovalRow {
    pub(crate) run: i64,
    pub(crate) status: String,
    pub(crate) decided_by: String,
}

/// What the checks look at: the database after the drain, what the load sent, what
/// the fakes received, the kills, the samples and the servers' log.
pub(crate) struct Facts<'a> {
    pub(crate) runs: Vec<RunRow>,
    /// Conversation id → its thread's ts.
    pub(crate) threads: HashMap<i64, String>,
    pub(crate) approvals: HashMap<i64, ApprovalRow>,
    /// (event, automation) pairs with more than one run, and how many.
    pub(crate) twice: Vec<(String, String, i64)>,
    pub(crate) sent: &'a [Sent],
    pub(crate) load: &'a Load,
    pub(crate) fakes: &'a Fakes,
    pub(crate) samples: &'a [Sample],
    pub(crate) log: String,
}

/// The fake Slack and the fake vendors.
pub(crate) struct Fakes {
    pub(crate) slack: FakeSlack,
    pub(crate) vendors: FakeVendors,
}

/// One check: what it says, and what contradicts it.
pub(crate) struct Check {
    pub(crate) name: &'static str,
    /// What was checked, for the line that says it passed.
    pub(crate) detail: String,
    pub(crate) problems: Vec<String>,
}

impl<'a> Facts<'a> {
    pub(crate) async fn read(
        load: &'a Load,
        sent: &'a [Sent],
        fakes: &'a Fakes,
        samples: &'a [Sample],
        log: &std::path::Path,
    ) -> Facts<'a> {
        let db = load.db.reader();
        type Row = (
            i64,
            String,
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let runs = sqlx::query_as::<_, Row>(
            "SELECT id, event_id, automation_id, status, conversation_id, error, lease_expires_at
             FROM runs",
        )
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .map(
            |(id, event_id, automation, status, conversation, error, lease_expires_at)| RunRow {
                id,
                event_id,
                automation,
                status,
                conversation,
                error: error.unwrap_or_default(),
                lease_expires_at,
            },
        )
        .collect();
        let threads = sqlx::query_as::<_, (i64, String)>("SELECT id, thread_ts FROM conversations")
            .fetch_all(db)
            .await
            .unwrap()
            .into_iter()
            .collect();
        let approvals = sqlx::query_as::<_, (i64, i64, String, Option<String>)>(
            "SELECT id, run_id, status, decided_by FROM approvals",
        )
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, run, status, by)| {
            let decided_by = by.unwrap_or_default();
            (
                id,
                ApprovalRow {
                    run,
                    status,
                    decided_by,
                },
            )
        })
        .collect();
        let twice = sqlx::query_as(
            "SELECT event_id, automation_id, COUNT(*) FROM runs
             GROUP BY event_id, automation_id HAVING COUNT(*) > 1",
        )
        .fetch_all(db)
        .await
        .unwrap();
        Facts {
            runs,
            threads,
            approvals,
            twice,
            sent,
            load,
            fakes,
            samples,
            log: std::fs::read_to_string(log).unwrap_or_default(),
        }
    }

    pub(crate) fn run_of(&self, event: &str, automation: &str) -> Option<&RunRow> {
        self.runs
            .iter()
            .find(|r| r.event_id == event && r.automation == automation)
    }

    pub(crate) fn acked(&self, kind: Kind) -> impl Iterator<Item = &Sent> {
        self.sent
            .iter()
            .filter(move |s| s.kind == kind && !s.acked.is_empty())
    }

    /// The runs of approval requests nobody clicked (they wait, as they should).
    pub(crate) fn waiting_for_click(&self) -> HashSet<i64> {
        self.approvals
            .values()
            .filter(|a| a.status == "pending")
            .map(|a| a.run)
            .collect()
    }
}

/// Acknowledged means recorded: every acknowledged event has its runs.
pub(crate) fn events_have_runs(f: &Facts) -> Check {
    let by_event: HashSet<(&str, &str)> = f
        .runs
        .iter()
        .map(|r| (r.event_id.as_str(), r.automation.as_str()))
        .collect();
    let (mut events, mut runs, mut problems) = (0, 0, Vec::new());
    for sent in f
        .sent
        .iter()
        .filter(|s| !s.acked.is_empty() && !s.expects.is_empty())
    {
        events += 1;
        for automation in &sent.expects {
            runs += 1;
            if !by_event.contains(&(sent.id.as_str(), *automation)) {
                problems.push(format!(
                    "{} was acknowledged but has no {automation} run",
                    sent.id
                ));
            }
        }
    }
    Check {
        name: "every acknowledged Slack event has its runs",
        detail: format!("{events} events, {runs} runs"),
        problems,
    }
}

/// A run per acknowledged webhook call, the same one for every retry of the call.
pub(crate) fn webhooks_have_runs(f: &Facts) -> Check {
    let (mut calls, mut problems) = (0, Vec::new());
    for sent in f.acked(Kind::Webhook) {
        calls += 1;
        let answered: HashSet<i64> = sent.acked.iter().filter_map(Value::as_i64).collect();
        match f.run_of(&format!("hook:soak-alert:{}", sent.id), "soak-alert") {
            Some(run) if answered.len() == 1 && answered.contains(&run.id) => {}
            Some(run) => problems.push(format!(
                "webhook call {} was answered with runs {answered:?}, its run is {}",
                sent.id, run.id
            )),
            None => problems.push(format!(
                "webhook call {} was acknowledged ({answered:?}) but has no run",
                sent.id
            )),
        }
    }
    Check {
        name: "every acknowledged webhook call has its run",
        detail: format!("{calls} calls"),
        problems,
    }
}

/// An acknowledged click on an open request decided it.
pub(crate) fn clicks_decided(f: &Facts) -> Check {
    let (mut clicks, mut problems) = (0, Vec::new());
    for sent in f.acked(Kind::Click) {
        clicks += 1;
        let id: i64 = sent.id.parse().expect("clicks are named by their request");
        match f.approvals.get(&id) {
            Some(a) if a.status == "approved" && a.decided_by == APPROVER => {}
            Some(a) => problems.push(format!(
                "approval {id} was clicked (acknowledged) but is {} (by {:?})",
                a.status, a.decided_by
            )),
            None => problems.push(format!(
                "approval {id} was clicked but is not in the database"
            )),
        }
    }
    Check {
        name: "every acknowledged click decided its request",
        detail: format!("{clicks} clicks"),
        problems,
    }
}

/// At most one run per (event, automation).
pub(crate) fn runs_unique(f: &Facts) -> Check {
    Check {
        name: "no (event, automation) has two runs",
        detail: format!("{} runs", f.runs.len()),
        problems: f
            .twice
            .iter()
            .map(|(e, a, n)| format!("{e} / {a}: {n} runs"))
            .collect(),
    }
}

/// Every run ended: none failed, none left queued or running; waiting only for an
/// approval nobody clicked. And during the soak, no run stayed `running` a whole
/// lease past its lease.
pub(crate) fn runs_ended(f: &Facts) -> Check {
    let now = chrono::Utc::now().timestamp_millis();
    let waiting = f.waiting_for_click();
    let mut problems = Vec::new();
    for run in &f.runs {
        match run.status.as_str() {
            "succeeded" => {}
            "waiting" if waiting.contains(&run.id) => {}
            "running" if run.lease_expires_at.is_some_and(|at| at < now) => {
                let expired =
                    Duration::from_millis((now - run.lease_expires_at.unwrap_or(now)) as u64);
                problems.push(format!(
                    "run {} ({}) is stuck in running: its lease expired {:.1} s ago",
                    run.id,
                    run.automation,
                    expired.as_secs_f64()
                ));
            }
            "failed" => problems.push(format!(
                "run {} ({}, {}) failed: {}",
                run.id, run.automation, run.event_id, run.error
            )),
            other => problems.push(format!(
                "run {} ({}) is {other} after the drain",
                run.id, run.automation
            )),
        }
    }
    for s in f.samples.iter().filter(|s| s.stale > 0) {
        problems.push(format!(
            "at {}, {} runs were still running although a server's reaper should have requeued them",
            clock(s.at),
            s.stale
        ));
    }
    Check {
        name: "every run ended (none failed, queued, or running past its lease)",
        detail: format!(
            "{} runs, {} waiting for a click",
            f.runs.len(),
            waiting.len()
        ),
        problems,
    }
}

/// What succeeded happened in Slack, and what it chained ran.
pub(crate) fn effects_happened(f: &Facts) -> Check {
    let ledger = &f.load.ledger;
    let escalated_to_jira: HashSet<i64> = f
        .runs
        .iter()
        .filter(|r| r.automation == "critical-to-jira")
        .filter_map(|r| r.conversation)
        .collect();
    let (mut effects, mut problems) = (0, Vec::new());
    for run in f.runs.iter().filter(|r| r.status == "succeeded") {
        let thread = run
            .conversation
            .and_then(|c| f.threads.get(&c))
            .map_or("", String::as_str);
        for want in expected_effects(thread, run) {
            effects += 1;
            if !ledger.has(&want) {
                problems.push(format!(
                    "run {} ({}) succeeded but Slack never got {want:?}",
                    run.id, run.automation
                ));
            }
        }
        if run.automation == "escalate-bangbang"
            && !run
                .conversation
                .is_some_and(|c| escalated_to_jira.contains(&c))
        {
            problems.push(format!(
                "run {} made conversation {:?} critical but critical-to-jira did not run",
                run.id, run.conversation
            ));
        }
    }
    Check {
        name: "every succeeded run's Slack side effects happened",
        detail: format!("{effects} side effects"),
        problems,
    }
}

/// Exactly once where promised: a side effect repeats only across a kill (its step
/// was in flight when its server died; README, "Steps are journaled").
pub(crate) fn effects_once(f: &Facts) -> Check {
    let kills = f.load.fleet.kill_times();
    let mut problems = Vec::new();
    let mut across_kill = 0;
    for (effect, mut times) in f.load.ledger.repeated() {
        times.sort();
        // The kill came after the first copy was sent (a second of slack for the
        // fake's clock) and before the next one.
        let explained = times.windows(2).all(|pair| {
            kills
                .iter()
                .any(|k| *k + Duration::from_secs(1) >= pair[0] && *k <= pair[1])
        });
        if explained {
            across_kill += 1;
        } else {
            problems.push(format!(
                "{} times with no kill in between: {effect}",
                times.len()
            ));
        }
    }
    Check {
        name: "no Slack side effect happened twice unless its server was killed mid-step",
        detail: format!(
            "{} Slack calls; {across_kill} side effects repeated after a kill, allowed",
            f.load.ledger.calls()
        ),
        problems,
    }
}

/// The fakes saw nothing Slack or the vendors would refuse, the servers refused no
/// request, nothing panicked, and no sandbox outlived its server.
pub(crate) fn nothing_wrong(f: &Facts) -> Check {
    let mut problems: Vec<String> = f.fakes.slack.violations();
    problems.extend(f.fakes.vendors.violations());
    for s in f.sent {
        for r in &s.refused {
            problems.push(format!("{} {} refused: {r}", s.kind.name(), s.id));
        }
    }
    let panics = f.log.lines().filter(|l| l.contains("panicked")).take(20);
    problems.extend(panics.map(str::to_owned));
    let orphans = f.load.fleet.orphans();
    problems.extend(
        orphans
            .iter()
            .map(|pid| format!("sandbox {pid} outlived its server")),
    );
    Check {
        name: "no refused call or request, no panic, no orphaned sandbox",
        detail: String::new(),
        problems,
    }
}

/// Runs every check; prints them, and what else the facts say; returns whether all
/// passed.
pub(crate) fn check(backend: &str, f: &Facts) -> bool {
    let mut statuses: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for run in &f.runs {
        *statuses.entry((&run.automation, &run.status)).or_default() += 1;
    }
    let statuses: Vec<String> = statuses
        .iter()
        .map(|((a, s), n)| format!("{a} {s} {n}"))
        .collect();
    println!(
        "[{backend}] runs by automation and status: {}",
        statuses.join(", ")
    );
    let issues = f.fakes.vendors.calls_to("/rest/api/3/issue");
    let distinct: HashSet<String> = issues
        .iter()
        .map(|c| c.body["fields"]["summary"].to_string())
        .collect();
    println!(
        "[{backend}] Jira: {} issues for {} conversations ({} again: a script step killed in flight runs again from its start, README \"Scripts\")",
        issues.len(),
        distinct.len(),
        issues.len() - distinct.len()
    );
    println!("[{backend}] {}", log_summary(&f.log));
    let checks = [
        events_have_runs(f),
        webhooks_have_runs(f),
        clicks_decided(f),
        runs_unique(f),
        runs_ended(f),
        effects_happened(f),
        effects_once(f),
        nothing_wrong(f),
    ];
    println!("[{backend}] checks:");
    for c in &checks {
        if c.problems.is_empty() {
            let detail = if c.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.detail)
            };
            println!("  ok    {}{detail}", c.name);
            continue;
        }
        println!("  FAIL  {} ({} problems):", c.name, c.problems.len());
        for p in c.problems.iter().take(15) {
            println!("          {p}");
        }
        if c.problems.len() > 15 {
            println!("          … and {} more", c.problems.len() - 15);
        }
    }
    checks.iter().all(|c| c.problems.is_empty())
}

/// The servers' warnings and errors (JSON lines), by message, most frequent first.
pub(crate) fn log_summary(log: &str) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            // Not the logger's: a panic's message, or the sandbox's last words.
            *counts.entry(format!("(not JSON) {line:.100}")).or_default() += 1;
            continue;
        };
        let level = entry["level"].as_str().unwrap_or_default();
        if level == "WARN" || level == "ERROR" {
            let what = format!(
                "{level} {}: {}",
                entry["target"].as_str().unwrap_or_default(),
                entry["message"].as_str().unwrap_or_default()
            );
            *counts.entry(what).or_default() += 1;
        }
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if counts.is_empty() {
        return "server log: no warnings or errors".into();
    }
    let lines: Vec<String> = counts
        .iter()
        .take(15)
        .map(|(m, n)| format!("    {n:>6} × {m}"))
        .collect();
    format!(
        "server log, warnings and errors by message:\n{}",
        lines.join("\n")
    )
}
