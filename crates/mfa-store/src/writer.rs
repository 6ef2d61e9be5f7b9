//! Group commit: on SQLite every write transaction goes through one writer task, which runs the
//! writes queued while the last commit was syncing, each in a savepoint of its own, inside one
//! transaction with one sync. A write is answered only after its transaction committed, so
//! `synchronous = FULL` still holds for each answer, but a burst of concurrent decisions costs
//! one sync instead of one each. Writes still run one after another, so the conditional
//! updates that make codes and approvals single-use stay exact.
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

/// A write: runs on the writer's connection inside the batch's transaction; says whether it
/// succeeded (else its savepoint is rolled back) and what to do once the batch committed.
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Ran> + Send>;

pub(crate) struct Ran {
    ok: bool,
    answer: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// Where writes go.
#[derive(Clone, Debug)]
pub(crate) enum Writer {
    /// SQLite: the queue of the one writer task.
    Grouped(mpsc::Sender<Job>),
    /// PostgreSQL: a transaction of the pool's per write.
    Direct,
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

/// Runs `write` in a write transaction and answers once it committed: a batch's on SQLite, its
/// own on PostgreSQL. An `Err` from `write` undoes what it wrote and nothing else.
pub(crate) async fn write<T, F>(pool: &AnyPool, writer: &Writer, write: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
{
    let queue = match writer {
        Writer::Direct => {
            let mut tx = pool.begin().await?;
            let value = write(&mut tx).await?;
            tx.commit().await?;
            return Ok(value);
        }
        Writer::Grouped(queue) => queue,
    };
    let (answer_tx, answer_rx) = oneshot::channel();
    let job: Job = Box::new(move |conn| {
        Box::pin(async move {
            let result = write(conn).await;
            Ran {
                ok: result.is_ok(),
                answer: Box::new(move |committed: Result<(), String>| {
                    let _ = answer_tx.send(match committed {
                        Ok(()) => result,
                        Err(e) => Err(StoreError::Commit(e)),
                    });
                }),
            }
        })
    });
    queue
        .send(job)
        .await
        .map_err(|_| StoreError::Commit("the database writer has stopped".into()))?;
    // A job dropped unanswered never ran: its transaction could not start (logged there).
    answer_rx.await.map_err(|_| {
        StoreError::Commit("the write could not run: the database transaction failed".into())
    })?
}

/// The writer task: takes what is queued, up to [`MAX_BATCH`], and commits it as one. It takes
/// a connection per batch, so closing the pool never waits on it.
async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match pool.acquire().await {
            Ok(conn) => commit_batch(conn, &mut batch).await,
            Err(e) => fail_all(&mut batch, &e.to_string()),
        }
    }
}

/// Runs `batch` in one transaction and answers each write once it committed. A connection
/// whose transaction broke is closed rather than given back.
async fn commit_batch(mut conn: PoolConnection<Any>, batch: &mut Vec<Job>) {
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        fail_all(batch, &e.to_string());
        return;
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        match run_in_savepoint(&mut conn, job).await {
            Ok(answer) => answers.push(answer),
            Err((answer, e)) => {
                answer(Err(e));
                let _ = conn.execute("ROLLBACK").await;
                for a in answers {
                    a(Err("an earlier write in its transaction broke it".into()));
                }
                conn.close_on_drop();
                return;
            }
        }
    }
    let committed = conn
        .execute("COMMIT")
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    if committed.is_err() {
        let _ = conn.execute("ROLLBACK").await;
        conn.close_on_drop();
    }
    for a in answers {
        a(committed.clone());
    }
}

type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One write inside a savepoint: kept if it succeeded, rolled back if it failed. An error of the
/// savepoint statements themselves breaks the whole transaction.
async fn run_in_savepoint(conn: &mut AnyConnection, job: Job) -> Result<Answer, (Answer, String)> {
    if let Err(e) = conn.execute("SAVEPOINT write").await {
        drop(job); // unanswered: the caller hears that it never ran
        return Err((Box::new(|_| {}), e.to_string()));
    }
    let ran = job(conn).await;
    let end = if ran.ok {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    match conn.execute(end).await {
        Ok(_) => Ok(ran.answer),
        Err(e) => Err((ran.answer, e.to_string())),
    }
}

/// Drops every job unanswered (their callers hear that they never ran) and logs why.
fn fail_all(batch: &mut Vec<Job>, why: &str) {
    tracing::error!(error = %why, writes = batch.len(), "database writer could not start a transaction");
    batch.clear();
}
