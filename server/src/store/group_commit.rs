//! Group commit: small independent writes that arrive together share one transaction.
//!
//! A registration storm (every device of a fleet coming online at once through plug-and-play) is
//! thousands of tiny writes a second: a target row, then its attributes. One transaction each costs
//! a commit each (a WAL flush on PostgreSQL, the process-wide write lock on SQLite) and a thread
//! hand-off each. Here a request queues its write and waits; one writer takes everything queued,
//! runs each write in a savepoint of one transaction, commits, and only then answers every waiting
//! request, so a 200 still means the row is stored. While it commits, the next batch gathers: the
//! batch grows with the load and needs no timer, and a lone request is written at once.
//!
//! A write that fails rolls back its savepoint only and gets its own error; the others commit. When
//! the batch as a whole fails (the commit, a dead connection, a deadlock with another node), each
//! write runs again on its own, so no request is answered with another's failure.

use std::sync::{Arc, Mutex};

use diesel::Connection;
use tokio::sync::oneshot;

use super::models::Target;
use super::targets::Registration;
use super::{AnyConnection, Changes, Db, Error, Failure};

/// The most writes one transaction takes; more wait for the next one.
const MAX_BATCH: usize = 512;

/// One queued write. It may run more than once (a retried or a split batch), so it must only act
/// on the database.
pub type Job<E> = Box<dyn Fn(&mut AnyConnection) -> Result<Changes, E> + Send + Sync>;

struct Waiting<E> {
    job: Job<E>,
    reply: oneshot::Sender<Result<Changes, E>>,
}

/// A queued plug-and-play registration and where its row (None: the device existed) goes.
type Registering<E> = (Registration, oneshot::Sender<Result<Option<Target>, E>>);

struct Queue<E> {
    waiting: Vec<Waiting<E>>,
    /// Registrations are not jobs: a batch of them is one multi-row insert (PostgreSQL), without
    /// a savepoint each. A registration storm was bound by the writer's round trips per job.
    registering: Vec<Registering<E>>,
    /// A writer thread is draining the queue.
    writing: bool,
}

/// The queue of one process's grouped writes (`AppState::writes`).
pub struct GroupCommit<E> {
    db: Db,
    queue: Mutex<Queue<E>>,
}

impl<E: Failure + Send + 'static> GroupCommit<E> {
    pub fn new(db: Db) -> Arc<Self> {
        Arc::new(Self {
            db,
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                registering: Vec::new(),
                writing: false,
            }),
        })
    }

    /// Runs `job` in a transaction shared with the writes queued beside it; answers once that
    /// transaction has committed (or with the job's own error).
    pub async fn write(
        self: &Arc<Self>,
        job: impl Fn(&mut AnyConnection) -> Result<Changes, E> + Send + Sync + 'static,
    ) -> Result<Changes, E> {
        let (reply, answer) = oneshot::channel();
        let start_writer = {
            let mut q = self.lock();
            q.waiting.push(Waiting {
                job: Box::new(job),
                reply,
            });
            !std::mem::replace(&mut q.writing, true)
        };
        self.start(start_writer);
        answer
            .await
            .unwrap_or_else(|_| Err(Error::internal("the grouped write stopped before it committed").into()))
    }

    /// Registers an unknown device in a transaction shared with the writes queued beside it;
    /// answers once it has committed with the new target's row, or None when the device existed.
    pub async fn register(self: &Arc<Self>, registration: Registration) -> Result<Option<Target>, E> {
        let (reply, answer) = oneshot::channel();
        let start_writer = {
            let mut q = self.lock();
            q.registering.push((registration, reply));
            !std::mem::replace(&mut q.writing, true)
        };
        self.start(start_writer);
        answer
            .await
            .unwrap_or_else(|_| Err(Error::internal("the grouped write stopped before it committed").into()))
    }

    fn start(self: &Arc<Self>, start_writer: bool) {
        if start_writer {
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.drain());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<E>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Commits batches until the queue is empty.
    fn drain(&self) {
        loop {
            let (batch, registering): (Vec<Waiting<E>>, Vec<Registering<E>>) = {
                let mut q = self.lock();
                if q.waiting.is_empty() && q.registering.is_empty() {
                    q.writing = false;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                let r = q.registering.len().min(MAX_BATCH);
                (q.waiting.drain(..n).collect(), q.registering.drain(..r).collect())
            };
            // A panicking job drops its batch's reply senders (those requests get an error); the
            // writer goes on with the next batch rather than leaving the queue stuck.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.commit(batch, registering);
            }));
        }
    }

    fn commit(&self, batch: Vec<Waiting<E>>, registering: Vec<Registering<E>>) {
        let (jobs, replies): (Vec<Job<E>>, Vec<_>) = batch.into_iter().map(|w| (w.job, w.reply)).unzip();
        let (regs, reg_replies): (Vec<Registration>, Vec<_>) = registering.into_iter().unzip();
        let (registered, written) = self.write_all_together(&regs, &jobs);
        for (reply, result) in reg_replies.into_iter().zip(registered) {
            let _ = reply.send(result);
        }
        for (reply, result) in replies.into_iter().zip(written) {
            let _ = reply.send(result);
        }
    }

    /// Runs `jobs` in one transaction, each in a savepoint of its own, and returns each job's
    /// result once it has committed. A job's error takes back its own writes only. When the
    /// transaction as a whole fails, each job runs again in a transaction of its own. Blocking.
    pub fn write_together(&self, jobs: &[Job<E>]) -> Vec<Result<Changes, E>> {
        self.write_all_together(&[], jobs).1
    }

    /// [`Self::write_together`] with registrations first: one insert for all of them (no
    /// savepoint: a lost race is no error, and any other error fails the batch, which is then
    /// written one by one).
    #[allow(clippy::type_complexity)]
    pub fn write_all_together(
        &self,
        regs: &[Registration],
        jobs: &[Job<E>],
    ) -> (Vec<Result<Option<Target>, E>>, Vec<Result<Changes, E>>) {
        if jobs.len() + regs.len() > 1 {
            let together = self.db.write_blocking(|c| {
                let registered = if regs.is_empty() {
                    Vec::new()
                } else {
                    super::targets::register_all(c, regs)?
                };
                let mut results = Vec::with_capacity(jobs.len());
                for job in jobs {
                    // A savepoint each: a write that fails takes back its own rows only.
                    match c.transaction(|c| job(c)) {
                        // The transaction itself is gone: the whole batch runs again or splits.
                        Err(e) if e.is_unavailable() || e.is_contended() => return Err(e),
                        r => results.push(r),
                    }
                }
                Ok((registered, results))
            });
            match together {
                Ok((registered, results)) => return (registered.into_iter().map(Ok).collect(), results),
                Err(_) => tracing::debug!(
                    writes = jobs.len() + regs.len(),
                    "a grouped transaction failed; writing its parts one by one"
                ),
            }
        }
        let registered = regs
            .iter()
            .map(|r| {
                self.db.write_blocking(|c| {
                    Ok::<_, E>(
                        super::targets::register_all(c, std::slice::from_ref(r))?
                            .pop()
                            .flatten(),
                    )
                })
            })
            .collect();
        let written = jobs
            .iter()
            .map(|job| self.db.write_blocking(|c| job(c)))
            .collect();
        (registered, written)
    }
}
