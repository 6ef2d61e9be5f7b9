//! Group commit: on SQLite every write transaction goes through one writer task, which runs the
//! writes queued while the last commit was syncing one after another inside one transaction
//! with one sync. A write is answered only after its transaction committed, so
//! `synchronous = FULL` still holds for each answer, but a burst of concurrent decisions costs
//! one sync instead of one each. Writes still run one at a time, so the conditional updates
//! that make codes and approvals single-use stay exact.
//!
//! A write that fails must not leave half its changes to be committed with the others, and a
//! savepoint around each write would cost two more statements apiece (each a round trip to
//! sqlx's SQLite worker thread: measured, a third of a verification's cost). So a write is a
//! function that can run again: when one fails, the whole transaction is rolled back, that
//! write is answered with its error, and the others run again in a new one. Failures are rare
//! (a constraint violated, a test's trigger), so this costs nothing in the common case.
//!
//! PostgreSQL commits concurrently from its pool (it groups WAL flushes itself), so there a
//! write is simply its own transaction; the queries are the same on both.

use std::future::Future;
use std::pin::Pin;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::{Backend, StoreError};

/// At most this many writes share one transaction: bounds the latency a long batch adds.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer; a caller beyond this waits to queue.
const QUEUE: usize = 4096;

pub(crate) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A queued write: run it (again, after another write's failure rolled its transaction back),
/// then answer its caller once the transaction's fate is known.
pub(crate) trait Job: Send {
    /// Runs the write on `conn`; false when it failed.
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool>;
    /// Answers the caller: the write's own result if `committed`, else the commit's error.
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Write<D, T, F> {
    data: D,
    write: F,
    result: Option<Result<T, StoreError>>,
    caller: oneshot::Sender<Result<T, StoreError>>,
}

impl<D, T, F> Job for Write<D, T, F>
where
    D: Send + Sync + 'static,
    T: Send + 'static,
    F: WriteFn<D, T>,
{
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool> {
        let Write {
            data,
            write,
            result,
            ..
        } = self;
        Box::pin(async move {
            let outcome = write(conn, data).await;
            let ok = outcome.is_ok();
            *result = Some(outcome);
            ok
        })
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Commit("the write did not run".into())),
            (Err(e), _) => Err(StoreError::Commit(e)),
        };
        let _ = self.caller.send(answer);
    }
}

type Queued = Box<dyn Job>;

/// A write: what it does with its data on a connection. It may run more than once.
pub(crate) trait WriteFn<D, T>:
    for<'c> Fn(&'c mut AnyConnection, &'c D) -> BoxFuture<'c, Result<T, StoreError>>
    + Send
    + Sync
    + 'static
{
}

impl<D, T, F> WriteFn<D, T> for F where
    F: for<'c> Fn(&'c mut AnyConnection, &'c D) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + Sync
        + 'static
{
}

/// Where writes go.
#[derive(Clone, Debug)]
pub(crate) enum Writer {
    /// SQLite: the queue of the one writer task.
    Grouped(mpsc::Sender<Queued>),
    /// PostgreSQL: a transaction of the pool's per write.
    Direct,
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Writer {
    pub(crate) fn new(pool: &AnyPool, backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Writer::Direct,
            Backend::Sqlite => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(pool.clone(), rx));
                Writer::Grouped(tx)
            }
        }
    }
}

/// Runs `write` on `data` in a write transaction and answers once it committed: a batch's on
/// SQLite, its own on PostgreSQL. An `Err` from `write` undoes what it wrote and nothing else.
/// `write` may run more than once (see the module's doc): it must only use `conn`.
pub(crate) async fn write<D, T, F>(
    pool: &AnyPool,
    writer: &Writer,
    data: D,
    write: F,
) -> Result<T, StoreError>
where
    D: Send + Sync + 'static,
    T: Send + 'static,
    F: WriteFn<D, T>,
{
    let queue = match writer {
        Writer::Direct => {
            let mut tx = pool.begin().await?;
            let value = write(&mut tx, &data).await?;
            tx.commit().await?;
            return Ok(value);
        }
        Writer::Grouped(queue) => queue,
    };
    let (caller, answer) = oneshot::channel();
    let job = Box::new(Write {
        data,
        write,
        result: None,
        caller,
    });
    queue
        .send(job)
        .await
        .map_err(|_| StoreError::Commit("the database writer has stopped".into()))?;
    // Every job is answered, even when its transaction could not start; a job dropped
    // unanswered means the writer task itself ended (a panic).
    answer
        .await
        .map_err(|_| StoreError::Commit("the database writer stopped before answering".into()))?
}

/// The writer task: takes what is queued, up to [`MAX_BATCH`], and commits it as one. It takes
/// a connection per batch, so closing the pool never waits on it.
async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match pool.acquire().await {
            Ok(conn) => commit_batch(conn, &mut batch).await,
            Err(e) => fail_all(&mut batch, &e.to_string()),
        }
    }
}

/// Runs `batch` in one transaction and answers each write once it committed. When a write
/// fails, the transaction is rolled back, that write answered with its error, and the rest
/// run again. A connection whose transaction broke is closed rather than given back.
async fn commit_batch(mut conn: PoolConnection<Any>, batch: &mut Vec<Queued>) {
    while !batch.is_empty() {
        if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
            fail_all(batch, &e.to_string());
            conn.close_on_drop();
            return;
        }
        let mut failed = None;
        for (i, job) in batch.iter_mut().enumerate() {
            if !job.run(&mut conn).await {
                failed = Some(i);
                break;
            }
        }
        let Some(i) = failed else {
            let committed = conn.execute("COMMIT").await.map(drop);
            let committed = committed.map_err(|e| e.to_string());
            if committed.is_err() {
                let _ = conn.execute("ROLLBACK").await;
                conn.close_on_drop();
            }
            for job in batch.drain(..) {
                job.answer(committed.clone());
            }
            return;
        };
        if let Err(e) = conn.execute("ROLLBACK").await {
            fail_all(batch, &e.to_string());
            conn.close_on_drop();
            return;
        }
        // Its own error, which it keeps; nothing of it was committed.
        batch.remove(i).answer(Ok(()));
    }
}

/// Answers every job with `why`: nothing of theirs was committed.
fn fail_all(batch: &mut Vec<Queued>, why: &str) {
    tracing::error!(error = %why, writes = batch.len(), "database writer: transaction failed");
    for job in batch.drain(..) {
        job.answer(Err(why.to_owned()));
    }
}
