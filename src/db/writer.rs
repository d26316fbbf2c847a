//! Group commit for the event path: one writer owns a connection and commits, in one
//! transaction, whatever jobs arrived while the previous transaction was busy.
//!
//! Jobs come in lanes, one per kind of work ([`BatchKind`]: recording events, a run's
//! journal entries, claiming runs). A batch takes each lane's waiting jobs in priority
//! order, up to the lane's share, and each lane runs its jobs together (one multi-row
//! statement for all of them where it can), so a batch of 50 events costs a handful of
//! statements and one commit. Nobody is answered before the commit. If the batch
//! fails, it is rolled back and every job is tried again in a transaction of its own,
//! so that one bad job fails alone.
//!
//! On SQLite one writer thread with its own connection (`db::sqlite`) serves every
//! lane, events first. On PostgreSQL each class of lanes has a writer task with a
//! dedicated connection, so that recording events never waits behind the runs'
//! journal (nor for a pooled connection).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};

use super::tx::Tx;

/// What a batch of jobs of kind `K` produced: one result per job, and what the batch
/// still owes once committed.
pub type BatchOutput<K> = (Vec<<K as BatchKind>::Done>, <K as BatchKind>::Pending);

/// A kind of job the writer runs in batches.
pub trait BatchKind: Send + Sync + 'static {
    /// One job.
    type Job: Send + 'static;
    /// Its result, handed back after the commit.
    type Done: Send + 'static;
    /// What the jobs' statements still owe when `run` returns (rows of deferred
    /// statements, `Tx::defer_fetch`), to be read once the batch is committed.
    type Pending: Send + 'static;

    /// Runs `jobs` in the open transaction; returns one result per job, in order, and
    /// what is pending. It must await nothing but `tx`: on SQLite it runs on the
    /// writer thread, outside any runtime.
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn Tx,
        jobs: &'a [Self::Job],
    ) -> BoxFuture<'a, sqlx::Result<BatchOutput<Self>>>;

    /// Called once the batch is committed, before the results are handed back.
    fn committed(&self, pending: Self::Pending, done: &mut [Self::Done]);
}

/// Why a job was not committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(String),
    /// The writer has stopped (shutting down).
    #[error("the database writer has stopped")]
    Stopped,
}

/// Which writer serves a lane (on PostgreSQL, each class has its own connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Recording what arrives from outside: served first.
    Events,
    /// The run queue: journal entries, claims.
    Runs,
}

/// A lane's place in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// Lower goes first.
    pub priority: u8,
    /// Most jobs of the lane in one batch.
    pub max: usize,
    /// Most jobs waiting before `submit` waits for room.
    pub depth: usize,
}

struct Pending<K: BatchKind> {
    job: K::Job,
    reply: oneshot::Sender<Result<K::Done, WriteError>>,
    _room: OwnedSemaphorePermit,
}

struct Queue<K: BatchKind> {
    kind: Arc<K>,
    pending: Mutex<VecDeque<Pending<K>>>,
    room: Arc<Semaphore>,
}

/// Jobs of one lane, as the writer sees them.
trait LaneQueue: Send + Sync {
    fn take(&self, max: usize) -> Option<Box<dyn Group>>;
}

/// Jobs of one lane taken into a batch.
trait Group: Send {
    fn run<'a>(&'a mut self, tx: &'a mut dyn Tx) -> BoxFuture<'a, sqlx::Result<()>>;
    fn committed(self: Box<Self>);
    fn failed(self: Box<Self>, error: &sqlx::Error);
    /// One group per job, to try each alone after a failed batch.
    fn split(self: Box<Self>) -> Vec<Box<dyn Group>>;
    fn len(&self) -> usize;
}

struct Taken<K: BatchKind> {
    kind: Arc<K>,
    jobs: Vec<K::Job>,
    replies: Vec<oneshot::Sender<Result<K::Done, WriteError>>>,
    done: Option<(Vec<K::Done>, K::Pending)>,
}

impl<K: BatchKind> LaneQueue for Queue<K> {
    fn take(&self, max: usize) -> Option<Box<dyn Group>> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return None;
        }
        let n = pending.len().min(max);
        let (jobs, replies) = pending.drain(..n).map(|p| (p.job, p.reply)).unzip();
        Some(Box::new(Taken {
            kind: self.kind.clone(),
            jobs,
            replies,
            done: None,
        }))
    }
}

impl<K: BatchKind> Group for Taken<K> {
    fn run<'a>(&'a mut self, tx: &'a mut dyn Tx) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            let (done, pending) = self.kind.run(tx, &self.jobs).await?;
            if done.len() != self.jobs.len() {
                return Err(sqlx::Error::Protocol(format!(
                    "a batch of {} jobs gave {} results",
                    self.jobs.len(),
                    done.len()
                )));
            }
            self.done = Some((done, pending));
            Ok(())
        })
    }

    fn committed(self: Box<Self>) {
        let Some((mut done, pending)) = self.done else {
            return;
        };
        self.kind.committed(pending, &mut done);
        for (done, reply) in done.into_iter().zip(self.replies) {
            let _ = reply.send(Ok(done));
        }
    }

    fn failed(self: Box<Self>, error: &sqlx::Error) {
        for reply in self.replies {
            let _ = reply.send(Err(WriteError::Database(error.to_string())));
        }
    }

    fn split(self: Box<Self>) -> Vec<Box<dyn Group>> {
        let kind = self.kind;
        self.jobs
            .into_iter()
            .zip(self.replies)
            .map(|(job, reply)| {
                Box::new(Taken {
                    kind: kind.clone(),
                    jobs: vec![job],
                    replies: vec![reply],
                    done: None,
                }) as Box<dyn Group>
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.jobs.len()
    }
}

struct Registered {
    priority: u8,
    max: usize,
    queue: Arc<dyn LaneQueue>,
}

#[derive(Default)]
struct Shared {
    lanes: Mutex<Vec<Registered>>,
    notify: Notify,
    thread: OnceLock<std::thread::Thread>,
    stopping: AtomicBool,
    stats: Mutex<Stats>,
}

/// What a writer has done since its last report (logged at debug level every ten
/// seconds of activity: the first place to look when commits are slow).
#[derive(Debug, Default)]
struct Stats {
    since: Option<std::time::Instant>,
    batches: u64,
    jobs: u64,
    statements: u64,
    busy: Duration,
}

impl Stats {
    fn record(&mut self, jobs: usize, statements: u64, busy: Duration) {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.batches += 1;
        self.jobs += jobs as u64;
        self.statements += statements;
        self.busy += busy;
        let elapsed = since.elapsed();
        if elapsed >= Duration::from_secs(10) {
            tracing::debug!(
                batches = self.batches,
                jobs_per_batch = format!("{:.1}", self.jobs as f64 / self.batches as f64),
                statements_per_batch =
                    format!("{:.1}", self.statements as f64 / self.batches as f64),
                ms_per_batch =
                    format!("{:.2}", self.busy.as_secs_f64() * 1e3 / self.batches as f64),
                busy = format!(
                    "{:.0}%",
                    self.busy.as_secs_f64() * 100.0 / elapsed.as_secs_f64()
                ),
                "batch writer"
            );
            *self = Stats::default();
        }
    }
}

/// Counts the statements of a batch.
struct Counting<'a> {
    inner: &'a mut dyn Tx,
    statements: u64,
}

impl Tx for Counting<'_> {
    fn backend(&self) -> super::Backend {
        self.inner.backend()
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<super::tx::Arg>,
    ) -> BoxFuture<'a, sqlx::Result<u64>> {
        self.statements += 1;
        self.inner.execute(sql, args)
    }

    fn fetch_all<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<super::tx::Arg>,
    ) -> BoxFuture<'a, sqlx::Result<Vec<super::tx::Row>>> {
        self.statements += 1;
        self.inner.fetch_all(sql, args)
    }

    fn defer<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<super::tx::Arg>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        self.statements += 1;
        self.inner.defer(sql, args)
    }

    fn defer_fetch<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<super::tx::Arg>,
    ) -> BoxFuture<'a, sqlx::Result<super::tx::Deferred>> {
        self.statements += 1;
        self.inner.defer_fetch(sql, args)
    }

    fn sync(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        self.inner.sync()
    }

    fn statements_are_cheap(&self) -> bool {
        self.inner.statements_are_cheap()
    }
}

impl Shared {
    fn ring(&self) {
        self.notify.notify_one();
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// The next batch: each lane's waiting jobs, in priority order, up to its share.
    fn take_batch(&self) -> Vec<Box<dyn Group>> {
        let lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.iter().filter_map(|l| l.queue.take(l.max)).collect()
    }
}

/// Submits jobs of kind `K` to a writer.
pub struct Lane<K: BatchKind> {
    queue: Arc<Queue<K>>,
    shared: Arc<Shared>,
}

impl<K: BatchKind> Clone for Lane<K> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<K: BatchKind> std::fmt::Debug for Lane<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("kind", &std::any::type_name::<K>())
            .finish()
    }
}

impl<K: BatchKind> Lane<K> {
    /// Hands `job` to the writer; returns its result once it is committed.
    pub async fn submit(&self, job: K::Job) -> Result<K::Done, WriteError> {
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(WriteError::Stopped);
        }
        let room = self
            .queue
            .room
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| WriteError::Stopped)?;
        let (reply, answer) = oneshot::channel();
        self.queue
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Pending {
                job,
                reply,
                _room: room,
            });
        self.shared.ring();
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

/// A running writer.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
    done: Arc<Mutex<Option<Done>>>,
}

enum Done {
    Thread(std::thread::JoinHandle<()>),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// Where a writer gets its connection.
pub enum Connector {
    /// The SQLite writer thread's own connection, and the lock it shares with sqlx's
    /// writer connection so that the two never write at once.
    Sqlite {
        /// The connection.
        conn: super::sqlite::SqliteConn,
        /// Held for each batch.
        lock: Arc<tokio::sync::Mutex<()>>,
    },
    /// Dedicated PostgreSQL connections, (re)opened from these options, each taking
    /// batches as they come: PostgreSQL commits them side by side, so the writer is not
    /// limited to one batch per round-trip chain.
    Postgres {
        /// `DATABASE_URL`.
        url: String,
        /// How many connections.
        connections: usize,
    },
}

impl Writer {
    /// Starts a writer.
    pub fn start(connector: Connector) -> Self {
        let shared = Arc::new(Shared::default());
        let done = match connector {
            Connector::Sqlite { conn, lock } => {
                let worker = shared.clone();
                let handle = std::thread::Builder::new()
                    .name("sqlite-writer".into())
                    .spawn(move || serve_sqlite(&worker, conn, &lock))
                    .expect("the writer thread starts");
                let _ = shared.thread.set(handle.thread().clone());
                Done::Thread(handle)
            }
            Connector::Postgres { url, connections } => {
                // A thread and runtime of their own: a writer waiting for PostgreSQL's
                // answer is woken at once, not after the request handlers queued on the
                // server's runtime.
                let worker = shared.clone();
                let handle = std::thread::Builder::new()
                    .name("postgres-writer".into())
                    .spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("the writer's runtime starts");
                        runtime.block_on(async move {
                            let tasks: Vec<_> = (0..connections.max(1))
                                .map(|_| tokio::spawn(serve_postgres(worker.clone(), url.clone())))
                                .collect();
                            for t in tasks {
                                let _ = t.await;
                            }
                        });
                    })
                    .expect("the writer thread starts");
                Done::Thread(handle)
            }
        };
        Self {
            shared,
            done: Arc::new(Mutex::new(Some(done))),
        }
    }

    /// A lane for jobs of kind `K`.
    pub fn lane<K: BatchKind>(&self, kind: K, share: Share) -> Lane<K> {
        let queue = Arc::new(Queue {
            kind: Arc::new(kind),
            pending: Mutex::new(VecDeque::new()),
            room: Arc::new(Semaphore::new(share.depth)),
        });
        let mut lanes = self.shared.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes.push(Registered {
            priority: share.priority,
            max: share.max,
            queue: queue.clone(),
        });
        lanes.sort_by_key(|l| l.priority);
        Lane {
            queue,
            shared: self.shared.clone(),
        }
    }

    /// Commits what is waiting, then stops; later submissions fail.
    pub async fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.ring();
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
        match done {
            Some(Done::Thread(handle)) => {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            None => {}
        }
    }
}

fn serve_sqlite(
    shared: &Shared,
    mut conn: super::sqlite::SqliteConn,
    lock: &tokio::sync::Mutex<()>,
) {
    loop {
        let groups = shared.take_batch();
        if groups.is_empty() {
            if shared.stopping.load(Ordering::Acquire) {
                return;
            }
            std::thread::park();
            continue;
        }
        let _turn = lock.blocking_lock();
        // Every future of this connection is ready at once: nothing here waits.
        futures::executor::block_on(process(shared, &mut conn, "BEGIN IMMEDIATE", groups));
    }
}

async fn serve_postgres(shared: Arc<Shared>, url: String) {
    let mut conn: Option<super::postgres::PgConn> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let notified = shared.notify.notified();
        let groups = shared.take_batch();
        if groups.is_empty() {
            if shared.stopping.load(Ordering::Acquire) {
                // The other connections of this writer may be waiting too.
                shared.notify.notify_one();
                return;
            }
            notified.await;
            continue;
        }
        // More may be waiting than this batch took: let another connection take them.
        shared.notify.notify_one();
        if conn.as_ref().is_some_and(|c| c.is_closed()) {
            conn = None;
        }
        if conn.is_none() {
            match super::postgres::PgConn::connect(&url).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the database writer cannot connect; failing its jobs and trying again");
                    for g in groups {
                        g.failed(&e);
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        if !process(&shared, c, "BEGIN", groups).await {
            // A broken connection: the next batch gets a new one.
            conn = None;
        }
    }
}

/// Runs `groups` in one transaction, or each job alone if that fails. Returns `false`
/// when the connection itself seems broken.
async fn process(
    shared: &Shared,
    conn: &mut dyn Tx,
    begin: &str,
    groups: Vec<Box<dyn Group>>,
) -> bool {
    let started = std::time::Instant::now();
    let jobs = groups.iter().map(|g| g.len()).sum();
    let mut counting = Counting {
        inner: conn,
        statements: 0,
    };
    let healthy = commit(&mut counting, begin, groups).await;
    shared
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(jobs, counting.statements, started.elapsed());
    healthy
}

async fn commit(conn: &mut dyn Tx, begin: &str, mut groups: Vec<Box<dyn Group>>) -> bool {
    let error = match attempt(conn, begin, &mut groups).await {
        Ok(()) => {
            for g in groups {
                g.committed();
            }
            return true;
        }
        Err(e) => e,
    };
    let _ = conn.execute("ROLLBACK", vec![]).await;
    if broken(&error) {
        tracing::error!(error = %error, "database connection lost; the jobs of this batch fail");
        for g in groups {
            g.failed(&error);
        }
        return false;
    }
    let jobs: usize = groups.iter().map(|g| g.len()).sum();
    if jobs == 1 {
        tracing::error!(error = %error, "a database write failed");
        for g in groups {
            g.failed(&error);
        }
        return true;
    }
    tracing::warn!(error = %error, jobs, "a batch failed; trying each of its jobs alone");
    for group in groups {
        for single in group.split() {
            let mut one = vec![single];
            match attempt(conn, begin, &mut one).await {
                Ok(()) => one.pop().expect("one group").committed(),
                Err(e) => {
                    let _ = conn.execute("ROLLBACK", vec![]).await;
                    tracing::error!(error = %e, "a database write failed");
                    one.pop().expect("one group").failed(&e);
                }
            }
        }
    }
    true
}

async fn attempt(
    conn: &mut dyn Tx,
    begin: &str,
    groups: &mut [Box<dyn Group>],
) -> sqlx::Result<()> {
    // Sent along with the first statement on a pipelining connection.
    conn.defer(begin, vec![]).await?;
    for group in groups.iter_mut() {
        group.run(conn).await?;
    }
    conn.execute("COMMIT", vec![]).await?;
    Ok(())
}

fn broken(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed
    )
}
