//! The sandbox processes: a pool of `switchboard sandbox` children, each running one
//! script at a time in a fresh Boa context. The isolation boundary is the process:
//! switchboard kills it when a script outlives its time limit, logs or calls too much,
//! and the kernel stops it at its memory limit; a killed or crashed sandbox is replaced
//! and no other run notices.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::protocol::{
    EngineLimits, FromSandbox, HostResult, MAX_LINE_BYTES, RunRequest, ScriptOutcome, ToSandbox,
};

/// How scripts are confined.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The switchboard binary (it runs `switchboard sandbox`).
    pub binary: PathBuf,
    /// Sandbox processes, i.e. scripts running at once.
    pub processes: usize,
    /// Wall-clock time per script run.
    pub timeout: Duration,
    /// Memory a script may allocate.
    pub memory_bytes: u64,
    /// Host calls per run.
    pub max_host_calls: u32,
    /// Console output per run.
    pub max_log_bytes: usize,
    /// Return value size.
    pub max_output_bytes: usize,
    /// Call depth.
    pub recursion: usize,
}

/// Answers a script's host calls.
pub trait HostHandler: Send + Sync {
    /// Executes host function `name` with `args`. Called in the order the script made
    /// the calls; the returned future may finish in any order.
    fn call<'a>(&'a self, name: &'a str, args: Value) -> BoxFuture<'a, HostResult>;

    /// Checked after each call: whether the script must stop here.
    fn halt(&self) -> Option<Halt> {
        None
    }

    /// Whether calls are being replayed (console output is then not kept again).
    fn replaying(&self) -> bool {
        false
    }
}

/// Why the host stops a script after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The script waits (for an approval): end it now; it runs again later.
    Suspend,
    /// The script cannot go on; the message says why.
    Fail(String),
}

/// A console line of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The text.
    pub message: String,
}

/// How a run ended, seen from switchboard.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The script ended by itself.
    Finished(ScriptOutcome),
    /// switchboard or the kernel stopped it; the message says why.
    Stopped(String),
    /// The host suspended it to wait (see `script::journal`).
    Suspended,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// How it ended.
    pub end: RunEnd,
    /// Console output (capped).
    pub console: Vec<ConsoleLine>,
    /// Host calls made.
    pub host_calls: u32,
    /// Wall-clock time from handing over the script to its end.
    pub duration: Duration,
}

struct Sandbox {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    runs: u32,
}

/// A sandbox is replaced after this many runs, to return memory fragmentation.
const RUNS_PER_PROCESS: u32 = 1000;

/// The pool.
pub struct SandboxPool {
    config: SandboxConfig,
    idle: Mutex<Vec<Sandbox>>,
    slots: Semaphore,
}

impl std::fmt::Debug for SandboxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SandboxPool {
    /// A pool; processes start on first use (see [`SandboxPool::warm_up`]).
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self {
            slots: Semaphore::new(config.processes.max(1)),
            idle: Mutex::new(Vec::new()),
            config,
        })
    }

    /// How many scripts can run at once.
    pub fn capacity(&self) -> usize {
        self.config.processes.max(1)
    }

    /// Starts the processes now, so the first runs do not wait for them.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        for _ in 0..self.config.processes.max(1) {
            let sandbox = self.spawn().await?;
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sandbox);
        }
        Ok(())
    }

    /// Runs `js` with `context` (the `ctx` object as JSON), answering host calls with
    /// `host`.
    pub async fn run(&self, js: &str, context: String, host: &dyn HostHandler) -> RunReport {
        let stopped = |why: String| RunReport {
            end: RunEnd::Stopped(why),
            console: Vec::new(),
            host_calls: 0,
            duration: Duration::ZERO,
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return stopped("the script sandbox is shutting down".into());
        };
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut sandbox = match reused {
            Some(s) => s,
            None => match self.spawn().await {
                Ok(s) => s,
                Err(e) => return stopped(format!("could not start a script sandbox: {e:#}")),
            },
        };
        // The time limit counts from the hand-over, not from waiting for a sandbox.
        let started = Instant::now();
        let request = ToSandbox::Run(RunRequest {
            js: js.to_owned(),
            context,
            limits: EngineLimits {
                recursion: self.config.recursion,
                max_output_bytes: self.config.max_output_bytes,
            },
        });
        let mut report = self.drive(&mut sandbox, &request, host, started).await;
        report.duration = started.elapsed();
        let healthy = matches!(report.end, RunEnd::Finished(_));
        sandbox.runs += 1;
        if healthy && sandbox.runs < RUNS_PER_PROCESS {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sandbox);
        } else {
            let _ = sandbox.child.start_kill();
            let _ = sandbox.child.wait().await;
        }
        report
    }

    async fn drive(
        &self,
        sandbox: &mut Sandbox,
        request: &ToSandbox,
        host: &dyn HostHandler,
        started: Instant,
    ) -> RunReport {
        let deadline = tokio::time::Instant::from_std(started + self.config.timeout);
        let mut report = RunReport {
            end: RunEnd::Stopped(String::new()),
            console: Vec::new(),
            host_calls: 0,
            duration: Duration::ZERO,
        };
        let mut log_bytes = 0usize;
        if let Err(why) = self
            .send(sandbox, request, deadline, "could not hand the script over")
            .await
        {
            report.end = RunEnd::Stopped(why);
            return report;
        }
        let mut calls: FuturesUnordered<BoxFuture<'_, (u64, HostResult)>> = FuturesUnordered::new();
        let mut line = Vec::new();
        loop {
            tokio::select! {
                read = read_line(&mut sandbox.stdout, &mut line) => {
                    let message = match read {
                        Ok(true) => {
                            let message = serde_json::from_slice::<FromSandbox>(&line);
                            line.clear();
                            message
                        }
                        Ok(false) => {
                            report.end = RunEnd::Stopped(self.crashed(sandbox, "the sandbox process exited").await);
                            return report;
                        }
                        Err(e) => {
                            report.end = RunEnd::Stopped(self.crashed(sandbox, &e.to_string()).await);
                            return report;
                        }
                    };
                    match message {
                        Ok(FromSandbox::Call { call, name, args }) => {
                            report.host_calls += 1;
                            if report.host_calls > self.config.max_host_calls {
                                report.end = RunEnd::Stopped(format!(
                                    "the script made more than {} host calls, the limit per run (runs.script.max_host_calls)",
                                    self.config.max_host_calls
                                ));
                                return report;
                            }
                            calls.push(Box::pin(async move {
                                let name = name;
                                (call, host.call(&name, args).await)
                            }));
                        }
                        Ok(FromSandbox::Log { .. }) if host.replaying() => {}
                        Ok(FromSandbox::Log { level, message }) => {
                            log_bytes += message.len();
                            if log_bytes > self.config.max_log_bytes {
                                report.end = RunEnd::Stopped(format!(
                                    "the script logged more than {} bytes, the limit per run",
                                    self.config.max_log_bytes
                                ));
                                return report;
                            }
                            report.console.push(ConsoleLine {
                                at_ms: chrono::Utc::now().timestamp_millis(),
                                level,
                                message,
                            });
                        }
                        Ok(FromSandbox::Done(outcome)) => {
                            report.end = RunEnd::Finished(outcome);
                            return report;
                        }
                        Ok(FromSandbox::Ready) => {}
                        Err(e) => {
                            report.end = RunEnd::Stopped(format!("the sandbox sent an unreadable message: {e}"));
                            return report;
                        }
                    }
                }
                Some((call, result)) = calls.next(), if !calls.is_empty() => {
                    match host.halt() {
                        Some(Halt::Suspend) => {
                            report.end = RunEnd::Suspended;
                            return report;
                        }
                        Some(Halt::Fail(why)) => {
                            report.end = RunEnd::Stopped(why);
                            return report;
                        }
                        None => {}
                    }
                    let reply = ToSandbox::Reply { call, result };
                    if let Err(why) = self.send(sandbox, &reply, deadline, "could not answer a host call").await {
                        report.end = RunEnd::Stopped(why);
                        return report;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    report.end = RunEnd::Stopped(self.over_time());
                    return report;
                }
            }
        }
    }

    /// Writes `message` to the sandbox by `deadline` (one that stops reading must not
    /// hold the run past its time); `Err` says why the run stops.
    async fn send(
        &self,
        sandbox: &mut Sandbox,
        message: &ToSandbox,
        deadline: tokio::time::Instant,
        failing: &str,
    ) -> Result<(), String> {
        match tokio::time::timeout_at(deadline, write_message(&mut sandbox.stdin, message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.crashed(sandbox, &format!("{failing}: {e}")).await),
            Err(_) => Err(self.over_time()),
        }
    }

    fn over_time(&self) -> String {
        format!(
            "the script ran longer than {} s, the time limit per run, and was stopped",
            self.config.timeout.as_secs_f32()
        )
    }

    /// Why a sandbox process died, from its exit status and last words.
    async fn crashed(&self, sandbox: &mut Sandbox, context: &str) -> String {
        let status = tokio::time::timeout(Duration::from_secs(2), sandbox.child.wait()).await;
        // Give the stderr reader a moment to collect the last words.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stderr =
            String::from_utf8_lossy(&sandbox.stderr.lock().unwrap_or_else(|e| e.into_inner()))
                .into_owned();
        if stderr.contains("memory allocation") {
            return super::sandbox::allocator::out_of_memory(self.config.memory_bytes);
        }
        let how = match status {
            Ok(Ok(status)) => {
                use std::os::unix::process::ExitStatusExt;
                match status.signal() {
                    Some(signal) => format!("killed by signal {signal}"),
                    None => format!("exited with {status}"),
                }
            }
            _ => "did not exit".to_owned(),
        };
        let last = stderr.lines().last().unwrap_or_default();
        format!("the script sandbox crashed ({context}; {how}) {last}")
            .trim_end()
            .to_owned()
    }

    async fn spawn(&self) -> anyhow::Result<Sandbox> {
        let mut child = Command::new(&self.config.binary)
            .arg("sandbox")
            .arg("--memory-mb")
            .arg(
                (self.config.memory_bytes / (1024 * 1024))
                    .max(1)
                    .to_string(),
            )
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start {} sandbox (runs.script.sandbox_binary): {e}",
                    self.config.binary.display()
                )
            })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("piped");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(8192);
                kept.drain(..excess);
            }
        });
        let mut line = Vec::new();
        let ready =
            tokio::time::timeout(Duration::from_secs(10), read_line(&mut stdout, &mut line)).await;
        match ready {
            Ok(Ok(true)) if matches!(serde_json::from_slice(&line), Ok(FromSandbox::Ready)) => {
                Ok(Sandbox {
                    child,
                    stdin,
                    stdout,
                    stderr,
                    runs: 0,
                })
            }
            _ => anyhow::bail!(
                "{} sandbox did not start: {}",
                self.config.binary.display(),
                String::from_utf8_lossy(&stderr.lock().unwrap_or_else(|e| e.into_inner()))
            ),
        }
    }
}

async fn write_message(stdin: &mut ChildStdin, message: &ToSandbox) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(message)?;
    bytes.push(b'\n');
    stdin.write_all(&bytes).await?;
    stdin.flush().await
}

/// Reads the rest of a line into `line`; `Ok(false)` at end of input. Cancel-safe when
/// used in `select!`: bytes read before a cancellation stay in `line`, so the caller
/// clears `line` only after it has taken a whole message out of it.
async fn read_line(
    stdout: &mut BufReader<ChildStdout>,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len()) as u64;
    let n = (&mut *stdout).take(room).read_until(b'\n', line).await?;
    if line.last() == Some(&b'\n') {
        return Ok(true);
    }
    if n > 0 && line.len() > MAX_LINE_BYTES {
        return Err(std::io::Error::other(
            "the sandbox sent an over-long message",
        ));
    }
    Ok(false)
}
