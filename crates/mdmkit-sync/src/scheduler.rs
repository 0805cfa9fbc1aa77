//! The scheduler: refresh and group sync for every connected workspace, on time, within bounds.
//!
//! [`Scheduler::tick`] is the whole scheduling decision for one instant: it lists connected workspaces, works
//! out what is due, and runs it (refresh first, then group sync, so membership is matched on fresh
//! metadata), at most [`SchedulerConfig::max_concurrent_workspaces`] workspaces at a time. Tests call it with
//! the time they want; [`Scheduler::run`] calls it every [`SchedulerConfig::tick_every`] on the engine's clock.
//!
//! - **Due.** Refresh: some device is due (R5) and the last refresh run started at least
//!   [`SchedulerConfig::refresh_every`] ago, so devices that failed are retried at that pace, not every tick.
//!   Group sync (Pro and Enterprise): pending (the connection changed and no sync has succeeded since), or
//!   the last successful one started at least 6 h ago (R10); after a failed attempt the scheduler waits
//!   [`crate::SyncConfig::group_sync_retry_after`].
//! - **Jitter.** Each workspace gets a fixed offset in `[0, jitter)` (a hash of its id and the seed) added to
//!   its intervals, so workspaces connected at the same moment do not all come due on the same tick, and a
//!   restart does not realign them. `run` also waits a random part of `jitter` before its first tick, so
//!   several processes started together do not tick in step. Pending syncs are never delayed by jitter.
//! - **Bounds.** Concurrent workspaces here; requests in flight per provider kind in the engine
//!   ([`crate::SyncConfig::max_in_flight_per_provider`]), which also covers work started by `connect`; one
//!   run per workspace through the lease.
//! - **Shutdown.** [`Scheduler::stop`] (or the future given to `run`) stops new workspace runs from starting;
//!   runs already started finish and release their leases, and `run` returns after them.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use tokio::sync::watch;

use crate::engine::{delta, MdmSync};
use crate::error::Result;
use crate::groups::GroupSyncReport;
use crate::model::{WorkspaceId, WorkspaceState};
use crate::refresh::RefreshReport;
use crate::vault::random_bytes;

/// The scheduler's pace and bounds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// How often [`Scheduler::run`] ticks.
    pub tick_every: Duration,
    /// The least time between two refresh runs of one workspace.
    pub refresh_every: Duration,
    /// The spread of per-workspace offsets and of the first tick.
    pub jitter: Duration,
    /// Workspaces worked on at once.
    pub max_concurrent_workspaces: usize,
    /// Seeds the per-workspace offsets (give each deployment its own to decorrelate them).
    pub seed: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_every: Duration::from_secs(60),
            refresh_every: Duration::from_secs(3600),
            jitter: Duration::from_secs(10 * 60),
            max_concurrent_workspaces: 4,
            seed: 0,
        }
    }
}

/// What one workspace's turn in a tick did. A job that was not due is `None`.
#[derive(Debug)]
#[non_exhaustive]
pub struct WorkspaceRun {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The refresh run.
    pub refresh: Option<Result<RefreshReport>>,
    /// The group sync.
    pub group_sync: Option<Result<GroupSyncReport>>,
}

/// What a tick did.
#[derive(Debug)]
#[non_exhaustive]
pub struct TickReport {
    /// The instant the tick decided on.
    pub at: DateTime<Utc>,
    /// Connected workspaces looked at.
    pub considered: usize,
    /// Workspaces that had due work and ran it, sorted by workspace.
    pub runs: Vec<WorkspaceRun>,
    /// Workspaces with due work not started because the scheduler is stopping.
    pub skipped_for_shutdown: Vec<WorkspaceId>,
}

/// Runs refresh and group sync for many workspaces. Share it as `Arc<Scheduler>`.
#[derive(Debug)]
pub struct Scheduler {
    engine: Arc<MdmSync>,
    config: SchedulerConfig,
    stopping: AtomicBool,
    stop_signal: watch::Sender<bool>,
}

struct Job {
    workspace: WorkspaceId,
    refresh: bool,
    group_sync: bool,
}

enum Turn {
    Ran(Box<WorkspaceRun>),
    Skipped(WorkspaceId),
}

/// FNV-1a: stable across Rust versions and processes, unlike `DefaultHasher`.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Scheduler {
    /// A scheduler over `engine`.
    pub fn new(engine: Arc<MdmSync>, config: SchedulerConfig) -> Self {
        Scheduler {
            engine,
            config,
            stopping: AtomicBool::new(false),
            stop_signal: watch::channel(false).0,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<MdmSync> {
        &self.engine
    }

    /// The workspace's fixed offset in `[0, jitter)`.
    pub fn jitter_for(&self, workspace: &WorkspaceId) -> TimeDelta {
        let span = self.config.jitter.as_millis() as u64;
        if span == 0 {
            return TimeDelta::zero();
        }
        let ms = fnv1a(self.config.seed, workspace.as_str().as_bytes()) % span;
        TimeDelta::milliseconds(ms as i64)
    }

    /// Stops starting new workspace runs; runs already started finish.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop_signal.send_replace(true);
    }

    /// Whether [`Scheduler::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn group_sync_due(
        &self,
        state: &WorkspaceState,
        now: DateTime<Utc>,
        jitter: TimeDelta,
    ) -> bool {
        if !state.plan.allows_group_sync() {
            return false;
        }
        let cfg = &self.engine.config;
        if let Some(attempt) = state.last_group_sync_attempt {
            let failed = state.last_group_sync != Some(attempt);
            if failed && now < attempt + delta(cfg.group_sync_retry_after) {
                return false;
            }
        }
        if state.group_sync_pending {
            return true;
        }
        state
            .last_group_sync
            .is_none_or(|at| now >= at + delta(cfg.group_sync_interval) + jitter)
    }

    async fn job_for(&self, workspace: WorkspaceId, now: DateTime<Utc>) -> Result<Option<Job>> {
        let stores = &self.engine.stores;
        let state = stores.state.sync_state(&workspace).await?;
        let jitter = self.jitter_for(&workspace);
        let refresh_window_open = state
            .last_refresh
            .is_none_or(|at| now >= at + delta(self.config.refresh_every) + jitter);
        let refresh = refresh_window_open && {
            let cutoff = now - delta(self.engine.config.refresh_interval);
            stores.devices.any_due(&workspace, cutoff).await?
        };
        let group_sync = self.group_sync_due(&state, now, jitter);
        Ok((refresh || group_sync).then_some(Job {
            workspace,
            refresh,
            group_sync,
        }))
    }

    /// Runs everything due at `now` and returns when it has finished. `now` should come from the engine's
    /// clock (the runs stamp their records with it).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let workspaces = self
            .engine
            .stores
            .credentials
            .connected_workspaces()
            .await?;
        let considered = workspaces.len();
        let mut jobs = Vec::new();
        for workspace in workspaces {
            if let Some(job) = self.job_for(workspace, now).await? {
                jobs.push(job);
            }
        }
        let turns: Vec<Turn> = stream::iter(jobs)
            .map(|job| self.turn(job, now))
            .buffer_unordered(self.config.max_concurrent_workspaces.max(1))
            .collect()
            .await;
        let mut report = TickReport {
            at: now,
            considered,
            runs: Vec::new(),
            skipped_for_shutdown: Vec::new(),
        };
        for turn in turns {
            match turn {
                Turn::Ran(run) => report.runs.push(*run),
                Turn::Skipped(ws) => report.skipped_for_shutdown.push(ws),
            }
        }
        report.runs.sort_by(|a, b| a.workspace.cmp(&b.workspace));
        report.skipped_for_shutdown.sort();
        Ok(report)
    }

    async fn turn(&self, job: Job, now: DateTime<Utc>) -> Turn {
        // Checked when the turn actually starts, not when it was planned: stop() during a tick holds back
        // every workspace still waiting for a slot.
        if self.is_stopping() {
            return Turn::Skipped(job.workspace);
        }
        let mut run = WorkspaceRun {
            workspace: job.workspace.clone(),
            refresh: None,
            group_sync: None,
        };
        if job.refresh {
            run.refresh = Some(self.engine.refresh_at(&job.workspace, now).await);
        }
        if job.group_sync && !self.is_stopping() {
            run.group_sync = Some(self.engine.sync_groups_scheduled(&job.workspace, now).await);
        }
        Turn::Ran(Box::new(run))
    }

    /// Ticks every [`SchedulerConfig::tick_every`] until `shutdown` completes or [`Scheduler::stop`] is
    /// called; then lets the runs in progress finish, and returns.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut stop = self.stop_signal.subscribe();
        let first = {
            let mut b = [0u8; 8];
            let r = random_bytes(&mut b)
                .map(|()| u64::from_le_bytes(b))
                .unwrap_or(0);
            let span = self.config.jitter.as_millis() as u64;
            Duration::from_millis(if span == 0 { 0 } else { r % span })
        };
        let mut wait = first;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => { self.stop(); break; }
                _ = stop.wait_for(|s| *s) => break,
            }
            if self.is_stopping() {
                break;
            }
            let now = self.engine.clock.now();
            let mut tick = pin!(self.tick(now));
            let result = tokio::select! {
                r = &mut tick => r,
                _ = &mut shutdown => { self.stop(); tick.await }
            };
            match result {
                Ok(report) => tracing::debug!(
                    runs = report.runs.len(),
                    considered = report.considered,
                    "scheduler tick"
                ),
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
            }
            if self.is_stopping() {
                break;
            }
            wait = self.config.tick_every;
        }
        tracing::info!("scheduler stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(0, b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(0, b"a"), fnv1a(1, b"a"));
    }
}
