//! Printing.

use super::*;

pub(crate) fn print_header(backend: &str, o: &Options, replicas: usize, log: &std::path::Path) {
    let servers = match replicas {
        1 => "1 server".to_owned(),
        n => format!("{n} servers on one database"),
    };
    let kills = match o.kill_every {
        Some((low, high)) => format!(
            "SIGKILL every {}–{} s",
            low.as_secs_f64(),
            high.as_secs_f64()
        ),
        None => "no kills".into(),
    };
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "[{backend}] soak: {} of load at {} operations/s, {servers}, {kills}, lease {} s, {build} build, seed {}; server log {}",
        clock(o.duration),
        o.rate,
        o.lease_seconds,
        o.seed,
        log.display(),
    );
}

pub(crate) fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

pub(crate) fn print_load(backend: &str, load: &Load, elapsed: Duration, drained: Option<Duration>) {
    let state = load.state.lock().unwrap();
    println!(
        "[{backend}] load: {} operations in {:.0} s; drain {}",
        state.sent.len(),
        elapsed.as_secs_f64(),
        drained.map_or("did not finish".to_owned(), |d| format!(
            "took {:.1} s",
            d.as_secs_f64()
        )),
    );
    let mut kinds: BTreeMap<Kind, Vec<&Sent>> = BTreeMap::new();
    for sent in &state.sent {
        kinds.entry(sent.kind).or_default().push(sent);
    }
    for (kind, sent) in kinds {
        let first = sent
            .iter()
            .filter(|s| !s.acked.is_empty() && s.attempts == 1)
            .count();
        let later = sent
            .iter()
            .filter(|s| !s.acked.is_empty() && s.attempts > 1)
            .count();
        let never = sent.iter().filter(|s| s.acked.is_empty()).count();
        let mut latencies: Vec<Duration> = sent.iter().filter_map(|s| s.latency).collect();
        latencies.sort();
        println!(
            "  {:<18} {:>7} sent, {:>7} acknowledged at once, {:>5} after a retry, {:>4} never; ack p50 {} p99 {}",
            kind.name(),
            sent.len(),
            first,
            later,
            never,
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
        );
    }
    if state.skipped_clicks > 0 {
        println!(
            "  ({} click turns found no open request)",
            state.skipped_clicks
        );
    }
}

pub(crate) fn print_kills(backend: &str, fleet: &Fleet) {
    let kills = fleet.kills.lock().unwrap();
    if kills.is_empty() {
        println!("[{backend}] no kills");
        return;
    }
    let sorted = |f: fn(&Kill) -> Duration| {
        let mut v: Vec<Duration> = kills.iter().map(f).collect();
        v.sort();
        v
    };
    let (reaped, restarts) = (sorted(|k| k.reaped), sorted(|k| k.restart));
    let mut ages: Vec<Duration> = kills.iter().map(|k| k.age).collect();
    ages.sort();
    let per_slot: Vec<String> = (0..fleet.slots.len())
        .map(|s| kills.iter().filter(|k| k.slot == s).count().to_string())
        .collect();
    let tenth = kills.len().div_ceil(10);
    let mean = |ks: &[Kill]| ks.iter().map(|k| k.rss_mib).sum::<f64>() / ks.len().max(1) as f64;
    println!(
        "[{backend}] {} kills (per server: {}); the victim had lived p50 {:.1} s, max {:.1} s; gone after p50 {} max {}; answering again after p50 {} max {}; victim RSS at the kill: first tenth {:.1} MiB, last tenth {:.1} MiB; {} failed restarts",
        kills.len(),
        per_slot.join(" / "),
        percentile(&ages, 0.5).as_secs_f64(),
        ages.last().copied().unwrap_or_default().as_secs_f64(),
        ms(percentile(&reaped, 0.5)),
        ms(reaped.last().copied().unwrap_or_default()),
        ms(percentile(&restarts, 0.5)),
        ms(restarts.last().copied().unwrap_or_default()),
        mean(&kills[..tenth]),
        mean(&kills[kills.len() - tenth..]),
        kills.iter().filter(|k| k.restart_failed).count(),
    );
}

pub(crate) fn print_memory(backend: &str, samples: &[Sample], o: &Options, load: &Load) {
    println!("[{backend}] memory and database over time:");
    println!(
        "    time  phase    acked     runs  queued stale  servers: RSS MiB (age)          sandboxes: n × RSS   database"
    );
    for s in samples {
        let servers: Vec<String> = s
            .servers
            .iter()
            .map(|v| match v {
                Some((rss, age)) => format!("{rss:5.1} ({:>4})", short_age(*age)),
                None => "  restarting".into(),
            })
            .collect();
        println!(
            "  {:>6}  {:<6} {:>7} {:>8} {:>7} {:>5}  {:<32} {:>2} × {:>5.1} MiB     {:>8.1} MiB",
            clock(s.at),
            s.phase,
            s.acked,
            s.runs,
            s.queued,
            s.stale,
            servers.join(", "),
            s.sandboxes,
            s.sandbox_mib / s.sandboxes.max(1) as f64,
            s.database_mib,
        );
    }
    // Warm-up: a fifth of the load, at most a minute.
    let warmup = (o.duration / 5).min(Duration::from_secs(60));
    let during: Vec<&Sample> = samples.iter().filter(|s| s.phase == "load").collect();
    let (Some(first), Some(last)) = (during.iter().find(|s| s.at >= warmup), during.last()) else {
        println!("[{backend}] (too short for a warm-up figure)");
        return;
    };
    let server_mean = |s: &Sample| {
        let up: Vec<f64> = s.servers.iter().flatten().map(|(rss, _)| *rss).collect();
        up.iter().sum::<f64>() / up.len().max(1) as f64
    };
    let growth = |a: f64, b: f64| {
        format!(
            "{a:.1} → {b:.1} MiB ({:+.1} MiB, {:+.0} %)",
            b - a,
            if a > 0.0 { (b - a) * 100.0 / a } else { 0.0 }
        )
    };
    let acked = load.acknowledged();
    let per_event = if last.acked > first.acked {
        (last.database_mib - first.database_mib) * 1024.0 / (last.acked - first.acked) as f64
    } else {
        0.0
    };
    println!(
        "[{backend}] warm-up ({}) → end of load ({}): server RSS (mean per server) {}; sandboxes (total) {}; database {}, {per_event:.2} KiB per acknowledged operation ({acked} in all)",
        clock(first.at),
        clock(last.at),
        growth(server_mean(first), server_mean(last)),
        growth(first.sandbox_mib, last.sandbox_mib),
        growth(first.database_mib, last.database_mib),
    );
}

pub(crate) fn short_age(d: Duration) -> String {
    match d.as_secs() {
        s if s < 120 => format!("{s}s"),
        s => format!("{}m", s / 60),
    }
}
