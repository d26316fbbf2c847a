//! The servers, and the kills.

use super::*;

pub(crate) struct Fleet {
    pub(crate) site: Site,
    pub(crate) slots: Vec<Mutex<Slot>>,
    pub(crate) kills: Mutex<Vec<Kill>>,
    pub(crate) rng: Mutex<StdRng>,
}

pub(crate) struct Slot {
    pub(crate) port: u16,
    pub(crate) server: Option<Server>,
    /// The sandboxes this slot's earlier processes left alive.
    pub(crate) orphans: Vec<support::ProcessId>,
}

/// One SIGKILL.
pub(crate) struct Kill {
    pub(crate) at: Instant,
    pub(crate) slot: usize,
    /// How long the victim had lived, and its RSS (MiB) just before.
    pub(crate) age: Duration,
    pub(crate) rss_mib: f64,
    /// How long it took until it was gone, and until it answered again.
    pub(crate) reaped: Duration,
    pub(crate) restart: Duration,
    pub(crate) restart_failed: bool,
}

impl Fleet {
    pub(crate) async fn start(site: Site, replicas: usize, seed: u64) -> Fleet {
        let mut slots = Vec::new();
        // One after the other: the first migrates the fresh database.
        for _ in 0..replicas {
            let server = site.start().await.expect("the server starts");
            slots.push(Mutex::new(Slot {
                port: server.port,
                server: Some(server),
                orphans: Vec::new(),
            }));
        }
        Fleet {
            site,
            slots,
            kills: Mutex::new(Vec::new()),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)),
        }
    }

    /// The base URL of a server that is up, chosen at random; the first server's when
    /// none is (its requests fail, as Slack's would).
    pub(crate) fn pick(&self) -> String {
        let up: Vec<String> = self
            .slots
            .iter()
            .filter_map(|s| s.lock().unwrap().server.as_ref().map(|s| s.base.clone()))
            .collect();
        match up.len() {
            0 => format!("http://127.0.0.1:{}", self.slots[0].lock().unwrap().port),
            n => up[self.rng.lock().unwrap().random_range(0..n)].clone(),
        }
    }

    /// Kills a server at random moments `every` apart until `until`, restarting each.
    pub(crate) async fn chaos(&self, every: (Duration, Duration), until: Instant) {
        loop {
            let wait = {
                let mut rng = self.rng.lock().unwrap();
                let (low, high) = (every.0.as_millis() as u64, every.1.as_millis() as u64);
                Duration::from_millis(rng.random_range(low..=high))
            };
            if Instant::now() + wait >= until {
                return;
            }
            tokio::time::sleep(wait).await;
            self.kill_one().await;
        }
    }

    /// SIGKILLs one server (never the last one up) and starts it again on its port.
    pub(crate) async fn kill_one(&self) {
        let slot = self.rng.lock().unwrap().random_range(0..self.slots.len());
        let (victim, port) = {
            let mut s = self.slots[slot].lock().unwrap();
            (
                s.server.take().expect("every server is up between kills"),
                s.port,
            )
        };
        let sandboxes: Vec<support::ProcessId> = victim
            .sandboxes()
            .iter()
            .filter_map(|(pid, _)| support::ProcessId::of(*pid))
            .collect();
        let (age, rss_mib) = (victim.started.elapsed(), victim.rss_mib());
        let at = Instant::now();
        // Off the runtime's thread: a process stuck in the kernel (a slow fsync) dies
        // only when that returns, and the load must go on meanwhile.
        tokio::task::spawn_blocking(move || drop(victim))
            .await
            .unwrap();
        let reaped = at.elapsed();
        let mut restarted = None;
        for _ in 0..3 {
            match self.site.start_on(port).await {
                Ok(server) => {
                    restarted = Some(server);
                    break;
                }
                Err(e) => eprintln!("soak: the server did not restart: {e:#}"),
            }
        }
        let restart = at.elapsed();
        // Sandboxes die with their server (PR_SET_PDEATHSIG); any left are orphans.
        let orphans: Vec<support::ProcessId> =
            sandboxes.into_iter().filter(|p| p.alive()).collect();
        let restart_failed = restarted.is_none();
        {
            let mut s = self.slots[slot].lock().unwrap();
            s.server = restarted;
            s.orphans.extend(orphans);
        }
        self.kills.lock().unwrap().push(Kill {
            at,
            slot,
            age,
            rss_mib,
            reaped,
            restart,
            restart_failed,
        });
        if restart_failed {
            // Nothing more can be learnt; end the soak with what happened.
            panic!("the server did not restart after a kill (see the server log)");
        }
    }

    pub(crate) fn kill_times(&self) -> Vec<Instant> {
        self.kills.lock().unwrap().iter().map(|k| k.at).collect()
    }

    /// Sandboxes that outlived their server, still alive now.
    pub(crate) fn orphans(&self) -> Vec<u32> {
        self.slots
            .iter()
            .flat_map(|s| s.lock().unwrap().orphans.clone())
            .filter(|p| p.alive())
            .map(|p| p.pid)
            .collect()
    }

    pub(crate) async fn stop(self) {
        let Fleet { site, slots, .. } = self;
        drop(slots);
        site.remove().await;
    }
}
