//! Runs one fuzz target: its kept regressions first, then proptest cases until the time
//! budget is spent. Every input runs on the target's own worker thread, so that one that
//! does not finish in time fails the target (instead of hanging the suite), and a panic
//! is caught and shrunk like any other failed property.
//!
//! - `SWITCHBOARD_FUZZ_SECONDS`: time per target (default 2).
//! - `SWITCHBOARD_FUZZ_CASE_MS`: longest one input may take (default 2000).
//! - `SWITCHBOARD_FUZZ_SEED`: replays a run (its seed is printed).
//! - `SWITCHBOARD_FUZZ_TRACE=1`: writes each input to `fuzz-last/<target>` under the
//!   target's temporary directory before running it, to recover the input of a crash
//!   that takes the process down (a stack overflow cannot be caught).
//!
//! A failing input is written to `fuzz-findings/<target>/` there; once fixed, keep it
//! under `tests/fuzz/regressions/<target>/` with a short name.

use std::cell::{Cell, RefCell};
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, mpsc};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// A property's verdict on one input: `Err` says which property failed, and how.
pub type Verdict = Result<(), String>;

/// Fails the property with a message when the condition does not hold.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}
pub(crate) use ensure;

/// Stack of a worker thread: what a tokio worker has, where most decoders run.
const DEFAULT_STACK_BYTES: usize = 2 * 1024 * 1024;
/// Cases per proptest batch; the deadline is checked between cases.
const BATCH: u32 = 256;

/// One fuzz target.
pub struct Target {
    name: &'static str,
    stack_bytes: usize,
}

impl Target {
    /// The target `name`, as its regressions directory is named.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            stack_bytes: DEFAULT_STACK_BYTES,
        }
    }

    /// Runs inputs on a thread with this much stack (as the code under test has it).
    pub fn stack_mb(mut self, megabytes: usize) -> Self {
        self.stack_bytes = megabytes * 1024 * 1024;
        self
    }

    /// Replays the kept regressions, then checks `inputs` until the time budget is
    /// spent. `setup` runs on the worker thread and returns the check of one input.
    pub fn run<C>(
        self,
        inputs: impl Strategy<Value = Vec<u8>>,
        setup: impl FnOnce() -> C + Send + 'static,
    ) where
        C: FnMut(&[u8]) -> Verdict + 'static,
    {
        install_panic_hook();
        let worker = Worker::start(self.name, self.stack_bytes, setup);
        let replayed = self.replay_regressions(&worker);
        let seed = seed(self.name);
        let started = Instant::now();
        let deadline = started + budget();
        let failing = Cell::new(false);
        let check = |input: Vec<u8>| -> Result<(), TestCaseError> {
            if Instant::now() >= deadline && !failing.get() {
                return Ok(());
            }
            worker.check(&input).map_err(|why| {
                failing.set(true);
                TestCaseError::fail(why)
            })
        };
        let mut seeds = TestRunner::new(config(RngSeed::Fixed(seed)));
        while Instant::now() < deadline {
            let mut runner = TestRunner::new_with_rng(config(RngSeed::Random), seeds.new_rng());
            match runner.run(&inputs, check) {
                Ok(()) => {}
                Err(TestError::Fail(why, input)) => {
                    self.report(&worker, why.message(), &input, seed)
                }
                Err(TestError::Abort(why)) => panic!("fuzz target {} aborted: {why}", self.name),
            }
        }
        println!(
            "fuzz {}: {} cases in {:.1} s ({replayed} regressions replayed, seed {seed})",
            self.name,
            worker.cases.get(),
            started.elapsed().as_secs_f64(),
        );
    }

    fn replay_regressions(&self, worker: &Worker) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz/regressions")
            .join(self.name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        files.sort();
        for file in &files {
            let input = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if let Err(why) = worker.check(&input) {
                panic!(
                    "fuzz target {}: the regression {} fails again: {why}",
                    self.name,
                    file.display()
                );
            }
        }
        files.len()
    }

    fn report(&self, worker: &Worker, why: &str, shrunk: &[u8], seed: u64) -> ! {
        // An input that hung cannot be shrunk (its worker is stuck): report it as it was.
        let (why, input) = match worker.hung.take() {
            Some(input) => (format!("no answer within {:?}", case_limit()), input),
            None => (why.to_owned(), shrunk.to_vec()),
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        input.hash(&mut hasher);
        let dir = findings_dir().join("fuzz-findings").join(self.name);
        let file = dir.join(format!("{:016x}", hasher.finish()));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&file, &input))
            .map_or_else(
                |e| format!("could not be saved: {e}"),
                |()| format!("saved to {}", file.display()),
            );
        let preview: String = String::from_utf8_lossy(&input)
            .chars()
            .take(600)
            .flat_map(char::escape_debug)
            .collect();
        panic!(
            "fuzz target {} failed (seed {seed}): {why}\ninput of {} bytes {saved}:\n{preview}",
            self.name,
            input.len(),
        );
    }
}

/// The thread that runs a target's inputs, one at a time.
struct Worker {
    name: &'static str,
    inputs: mpsc::Sender<Vec<u8>>,
    verdicts: mpsc::Receiver<Verdict>,
    cases: Cell<u64>,
    /// The input that did not finish in time; the worker is stuck with it.
    hung: RefCell<Option<Vec<u8>>>,
}

impl Worker {
    fn start<C: FnMut(&[u8]) -> Verdict + 'static>(
        name: &'static str,
        stack_bytes: usize,
        setup: impl FnOnce() -> C + Send + 'static,
    ) -> Self {
        let (inputs, next_input) = mpsc::channel::<Vec<u8>>();
        let (verdict, verdicts) = mpsc::channel();
        let trace = std::env::var("SWITCHBOARD_FUZZ_TRACE").is_ok_and(|v| v == "1");
        std::thread::Builder::new()
            .name(format!("fuzz-{name}"))
            .stack_size(stack_bytes)
            .spawn(move || {
                let mut check = setup();
                for input in next_input {
                    if trace {
                        let dir = findings_dir().join("fuzz-last");
                        let _ = std::fs::create_dir_all(&dir);
                        let _ = std::fs::write(dir.join(name), &input);
                    }
                    let verdict_of_input = panic::catch_unwind(AssertUnwindSafe(|| check(&input)))
                        .unwrap_or_else(|payload| {
                            Err(format!("panicked: {}", panic_message(&payload)))
                        });
                    if verdict.send(verdict_of_input).is_err() {
                        return;
                    }
                }
            })
            .expect("the worker thread starts");
        Self {
            name,
            inputs,
            verdicts,
            cases: Cell::new(0),
            hung: RefCell::new(None),
        }
    }

    /// The verdict on `input`, or why there is none.
    fn check(&self, input: &[u8]) -> Verdict {
        if self.hung.borrow().is_some() {
            // Shrinking after a hang: nothing more can be learnt from this worker.
            return Ok(());
        }
        self.cases.set(self.cases.get() + 1);
        if self.inputs.send(input.to_vec()).is_err() {
            return Err(format!("the worker of {} is gone", self.name));
        }
        match self.verdicts.recv_timeout(case_limit()) {
            Ok(verdict) => verdict,
            Err(_) => {
                *self.hung.borrow_mut() = Some(input.to_vec());
                Err(format!("no answer within {:?}", case_limit()))
            }
        }
    }
}

fn config(rng_seed: RngSeed) -> Config {
    Config {
        cases: BATCH,
        failure_persistence: None,
        max_shrink_time: 60_000,
        rng_seed,
        ..Config::default()
    }
}

fn budget() -> Duration {
    let seconds = std::env::var("SWITCHBOARD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(seconds)
}

fn case_limit() -> Duration {
    let ms = std::env::var("SWITCHBOARD_FUZZ_CASE_MS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

fn seed(name: &str) -> u64 {
    if let Some(seed) = std::env::var("SWITCHBOARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return seed;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (name, std::time::SystemTime::now()).hash(&mut hasher);
    hasher.finish()
}

fn findings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

/// Panics on the server's threads (`app-…`, the database writers, unnamed ones), with
/// their thread and message: a target that drives a running server checks that its
/// inputs caused none. Panics on fuzz workers and test threads are not counted.
pub fn server_panics() -> Vec<String> {
    install_panic_hook();
    SERVER_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records the server's panics, and shows only the first panic of each fuzz worker (the
/// shrinking that follows repeats it many times).
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            thread_local!(static SHOWN: Cell<bool> = const { Cell::new(false) });
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>");
            if name.starts_with("fuzz-") {
                if !SHOWN.replace(true) {
                    previous(info);
                }
                return;
            }
            if name.starts_with("app-") || name.ends_with("-writer") || thread.name().is_none() {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {message} at {:?}", info.location()));
            }
            previous(info);
        }));
    });
}
