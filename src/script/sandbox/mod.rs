//! The sandbox process: `switchboard sandbox` reads runs from stdin, executes each in a
//! fresh Boa context, and talks to switchboard only through the protocol on
//! stdin/stdout. It holds no configuration, no environment and no open files but its
//! pipes, and may open none (see [`harden`]); switchboard kills it when a script runs
//! too long, and its allocator refuses what a run allocates past its limit
//! ([`allocator`]).

pub mod allocator;
mod executor;
pub mod host_api;
pub mod runtime;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use futures::channel::oneshot;
use serde_json::Value;

use super::protocol::{
    FromSandbox, HostResult, MAX_LINE_BYTES, RunRequest, ScriptOutcome, ToSandbox,
};
use runtime::Bridge;

/// Stack of the thread that runs scripts: deep enough for the recursion limit and for
/// built-ins that recurse natively (deeply nested JSON, regexes).
const SCRIPT_STACK_BYTES: usize = 64 * 1024 * 1024;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<HostResult>>>>;

#[derive(Clone)]
struct Output(Arc<Mutex<std::io::Stdout>>);

impl Output {
    fn send(&self, message: &FromSandbox) {
        let Ok(mut line) = serde_json::to_vec(message) else {
            return;
        };
        line.push(b'\n');
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // switchboard went away: nothing left to do.
        if out.write_all(&line).and_then(|()| out.flush()).is_err() {
            std::process::exit(0);
        }
    }
}

struct PipeBridge {
    output: Output,
    pending: Pending,
    next: AtomicU64,
}

impl Bridge for PipeBridge {
    fn call(&self, name: String, args: Value) -> oneshot::Receiver<HostResult> {
        let (tx, rx) = oneshot::channel();
        let call = self.next.fetch_add(1, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call, tx);
        self.output.send(&FromSandbox::Call { call, name, args });
        rx
    }

    fn log(&self, level: &str, message: &str) {
        self.output.send(&FromSandbox::Log {
            level: level.to_owned(),
            message: message.to_owned(),
        });
    }
}

/// The sandbox process's `main`; scripts may allocate `memory_bytes` on top of what the
/// process uses once it is set up.
pub fn main(memory_bytes: u64) -> ExitCode {
    // One malloc arena: threads would otherwise reserve 64 MB of address space each.
    #[cfg(target_os = "linux")]
    // SAFETY: mallopt only tunes the allocator, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let output = Output(Arc::new(Mutex::new(std::io::stdout())));
    let pending: Pending = Arc::default();
    let (runs, next_run) = mpsc::channel::<RunRequest>();
    {
        let pending = pending.clone();
        std::thread::spawn(move || read_input(runs, pending));
    }
    let worker = std::thread::Builder::new()
        .name("script".into())
        .stack_size(SCRIPT_STACK_BYTES)
        .spawn(move || {
            harden(memory_bytes);
            output.send(&FromSandbox::Ready);
            for request in next_run {
                let bridge = Rc::new(PipeBridge {
                    output: output.clone(),
                    pending: pending.clone(),
                    next: AtomicU64::new(0),
                });
                if memory_bytes > 0 {
                    allocator::limit_from_now(memory_bytes);
                }
                let refused = allocator::refusals();
                let mut outcome = runtime::run(&request, bridge);
                // A refused allocation the engine turned into an exception (a typed
                // array too large, say) is still the memory limit: say so.
                let failed = !matches!(outcome, ScriptOutcome::Returned { .. });
                if failed && allocator::refusals() > refused {
                    outcome = ScriptOutcome::Failed {
                        message: allocator::out_of_memory(memory_bytes),
                    };
                }
                // The context is gone; collect its garbage before the next run, or the
                // process grows by what every run left behind.
                boa_engine::gc::force_collect();
                output.send(&FromSandbox::Done(outcome));
            }
        });
    match worker.map(|w| w.join()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn read_input(runs: mpsc::Sender<RunRequest>, pending: Pending) {
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => std::process::exit(0),
            Ok(_) => {}
        }
        match serde_json::from_slice::<ToSandbox>(&line) {
            Ok(ToSandbox::Run(request)) => {
                if runs.send(request).is_err() {
                    std::process::exit(0);
                }
            }
            Ok(ToSandbox::Reply { call, result }) => {
                let waiter = pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&call);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(result);
                }
            }
            Err(e) => {
                eprintln!("sandbox: unreadable message from switchboard: {e}");
                std::process::exit(2);
            }
        }
    }
}

/// Takes away what a script must never use, even through an engine bug: address space
/// far beyond `memory_bytes` (a backstop: the allocator enforces the limit itself, and
/// address space is reserved well ahead of use), new file descriptors (files, sockets),
/// core dumps, privilege gains; and ties the process's life to its parent.
fn harden(memory_bytes: u64) {
    #[cfg(target_os = "linux")]
    {
        // Read before descriptors are forbidden.
        let in_use = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |pages| pages * 4096);
        let limit = |bytes: u64| libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: bytes as libc::rlim_t,
        };
        // SAFETY: prctl and setrlimit with these arguments only change this process's
        // own attributes.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            libc::setrlimit(libc::RLIMIT_CORE, &limit(0));
            if memory_bytes > 0 {
                let backstop = memory_bytes
                    .saturating_mul(4)
                    .max(memory_bytes.saturating_add(1 << 30));
                libc::setrlimit(libc::RLIMIT_AS, &limit(in_use.saturating_add(backstop)));
            }
            // Threads need no descriptors; stdin, stdout and stderr stay open.
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit(0));
        }
    }
}
