//! The upkeep of stored conversations while the server runs: flushing the answers being
//! written, the lease on them (and on their places in Redis's counts), the sweep of answers
//! whose process died, Stop heard from other replicas, and the last writes at shutdown.

use std::{
    sync::{Arc, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

use super::{Conversations, sweep_gate::SweepGate};
use crate::replicas;

impl Conversations {
    /// Starts the background work the conversations need while the server runs: flushing the
    /// answers being written, the lease on them and, with Redis, listening for Stops sent to
    /// other replicas. Kept out of [`crate::app`], which only builds the router; `main` and the
    /// tests call it.
    pub fn spawn_upkeep(&self) {
        tokio::spawn(Arc::clone(&self.answer_logs).flush_every());
        self.renewing.spawn(self.clone().keep_lease());
        tokio::spawn(self.clone().listen_for_stops());
    }

    /// Keeps this process's answers leased (in the store, and in each owner's count of running
    /// answers in Redis), and marks `interrupted` the answers of processes that stopped renewing
    /// theirs (a crash, a `kill -9`), as a [`SweepGate`] allows. Runs until
    /// [`flush`](Self::flush) ends it, or with the runtime.
    async fn keep_lease(self) {
        let mut every = tokio::time::interval(self.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gate = SweepGate::new(Instant::now(), self.lease, self.shared);
        loop {
            // Between renewals, never during one: the last is written before flush goes on.
            tokio::select! {
                _ = every.tick() => {}
                () = self.stop_renewing.cancelled() => return,
            }
            // Side by side: Redis slow or away never delays the lease in the database.
            let (_, renewed) =
                tokio::join!(self.live.renew_claims(), self.store.heartbeat(self.replica, self.lease));
            if renewed.is_ok() {
                *self.renewed_at.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            }
            match renewed {
                Ok(()) => {
                    if gate.renewed(Instant::now()) {
                        self.sweep().await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the lease on running answers");
                    gate.failed();
                }
            }
        }
    }

    /// Marks `interrupted` the answers of processes that stopped renewing their lease.
    pub(super) async fn sweep(&self) {
        match self.store.sweep_interrupted(self.replica).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(answers = n, "marked answers of a stopped server as interrupted"),
            Err(e) => tracing::warn!(error = %e, "cannot look for interrupted answers"),
        }
    }

    /// Stops the answers running here that a Stop sent to another replica names. Without
    /// Redis there is no other replica to hear from, and this returns at once. Runs with the
    /// runtime.
    async fn listen_for_stops(self) {
        if let Some(redis) = self.redis {
            let live = self.live;
            replicas::stops::obey(redis, move |conversation, message| {
                live.stop_from_elsewhere(conversation, message);
            })
            .await;
        }
    }

    /// Waits, until `deadline` resolves, for answers still being written to end and reach the
    /// database, then gives up this process's lease: an answer whose end was not stored in time
    /// is then marked `interrupted` by the next sweep at once, and no longer holds its
    /// conversation's turn for the rest of the lease. Then closes the database.
    pub async fn flush(&self, deadline: impl Future<Output = ()>) {
        self.writers.close();
        tokio::select! {
            () = self.writers.wait() => {}
            () = deadline => {
                tracing::warn!(tasks = self.writers.len(), "some answers were not fully stored before exit");
            }
        }
        self.stop_renewing.cancel();
        self.renewing.close();
        self.renewing.wait().await;
        if let Err(e) = self.store.heartbeat(self.replica, Duration::ZERO).await {
            tracing::warn!(error = %e, "cannot give up the lease on running answers");
        }
        self.store.close().await;
    }
}
