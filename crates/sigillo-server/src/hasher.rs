//! Argon2 off the async runtime, on a fixed pool of threads (one per core), each owning
//! its working memory.
//!
//! Hashing is the one real cost of a login. Running it on tokio's blocking pool works,
//! but every verification then lands on some thread that allocates and faults in 19 MiB
//! afresh — a third of the hash's own cost (bench/RESULTS.md). Long-lived threads that
//! reuse one `Workspace` each pay it once, and a queue in front of them keeps at most one
//! hash per core in flight, which is all the CPU can run anyway.

use sigillo_core::password::{self, HashError, HashParams, Workspace};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

enum Job {
    Verify { phc: String, secret: Zeroizing<String>, reply: oneshot::Sender<bool> },
    Hash { params: HashParams, secret: Zeroizing<String>, reply: oneshot::Sender<Result<String, HashError>> },
}

/// The pool's front door; the threads end when it is dropped.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: crossbeam_channel::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
#[error("the hashing threads are gone")]
pub struct HasherGone;

impl Hasher {
    /// Starts `threads` hashing threads.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("sigillo-hash-{i}")).spawn(move || {
                let mut workspace = Workspace::default();
                // Ends when every sender is gone.
                for job in queue {
                    match job {
                        Job::Verify { phc, secret, reply } => {
                            reply.send(password::verify_in(&mut workspace, &phc, &secret)).ok();
                        }
                        Job::Hash { params, secret, reply } => {
                            reply.send(params.hash(&secret, &mut rand::rngs::OsRng)).ok();
                        }
                    }
                }
            })?;
        }
        Ok(Self { jobs })
    }

    pub async fn verify(&self, phc: String, secret: &str) -> Result<bool, HasherGone> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Verify { phc, secret: Zeroizing::new(secret.to_owned()), reply };
        self.jobs.send(job).map_err(|_| HasherGone)?;
        answer.await.map_err(|_| HasherGone)
    }

    pub async fn hash(&self, params: HashParams, secret: &str) -> Result<Result<String, HashError>, HasherGone> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Hash { params, secret: Zeroizing::new(secret.to_owned()), reply };
        self.jobs.send(job).map_err(|_| HasherGone)?;
        answer.await.map_err(|_| HasherGone)
    }
}
