//! The scheduler: refresh and group sync for every connected workspace, on time, within bounds, and
//! isolated from each other.
//!
//! [`Scheduler::tick`] is the whole scheduling decision for one instant: it lists connected workspaces, works
//! out what is due, and starts it (refresh first, then group sync, so membership is matched on fresh
//! metadata), then waits for the runs it started. Tests call it with the time they want; [`Scheduler::run`]
//! makes the same decision every [`SchedulerConfig::tick_every`] on the engine's clock but never waits for
//! the runs: a slow workspace never delays the next tick.
//!
//! - **Due.** Refresh: some device is due (R5) and the last refresh run started at least
//!   [`SchedulerConfig::refresh_every`] ago, so devices that failed are retried at that pace, not every tick.
//!   A refresh owed after a connection change ([`crate::WorkspaceState::refresh_pending`]) is due even with
//!   no device due, and is retried every [`crate::SyncConfig::group_sync_retry_after`]. Group sync (Pro and
//!   Enterprise): pending (the connection changed and no sync has succeeded since), or the last successful
//!   one started at least 6 h ago (R10); after a failed attempt the scheduler waits
//!   [`crate::SyncConfig::group_sync_retry_after`]. A pending sync after a connection change waits until a
//!   refresh has completed for the new connection; when a turn's refresh completes it, the sync follows in
//!   the same turn.
//! - **Isolation.** Each workspace's run is its own Tokio task with a deadline
//!   ([`SchedulerConfig::run_deadline`], 30 min by default). A run that exceeds it is stopped and reported as
//!   [`crate::Error::DeadlineExceeded`] (an R8 Server error); a panic in a run is caught and reported as
//!   [`crate::Error::RunPanicked`]. Either way the run's lease is given back at once (see the crate docs),
//!   nothing half-done is written beyond what a run writes step by step anyway, and the other runs carry on.
//!   A workspace whose previous run is still going is not started again ([`TickReport::already_running`]).
//! - **Backoff.** A workspace whose run failed ([`WorkspaceRun::failed`]: MDM errors that left no device
//!   answered, undecryptable credentials, a deadline, a panic) waits [`SchedulerConfig::failure_backoff`]
//!   before its next run, doubled after each further failure up to [`SchedulerConfig::max_failure_backoff`];
//!   a run that does not fail ends the backoff, and so does saving credentials again (a new `connect`). The
//!   backoff is kept **in memory, per scheduler**: nothing is added to the store, several replicas back off
//!   independently (each asks a failing MDM at most once per its own backoff), and a restart starts afresh.
//! - **Jitter.** Each workspace gets a fixed offset in `[0, jitter)` (a hash of its id and the seed) added to
//!   its intervals, so workspaces connected at the same moment do not all come due on the same tick, and a
//!   restart does not realign them. `run` also waits a random part of `jitter` before its first tick, so
//!   several processes started together do not tick in step. Pending syncs are never delayed by jitter.
//! - **Bounds.** At most [`SchedulerConfig::max_concurrent_workspaces`] runs at once (a slow workspace holds
//!   one slot until its deadline); requests to each MDM server are bounded by that server's limits in the
//!   providers' HTTP clients, never per provider kind, so one tenant's slow Jamf does not hold up another
//!   tenant's Jamf; one run per workspace through the lease. Every configured duration, up to
//!   `Duration::MAX`, is added to instants with saturating arithmetic: a huge one means "not in this era",
//!   never a panic.
//! - **Shutdown.** [`Scheduler::stop`] (or the future given to `run`) stops new workspace runs from starting
//!   (runs still waiting for a slot are skipped); runs already started finish (within their deadline) and
//!   release their leases, and `run` returns after them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::clock::{earlier, later};
use crate::engine::MdmSync;
use crate::error::{Error, Result};
use crate::model::{WorkspaceId, WorkspaceState};
use crate::reports::GroupSyncReport;
use crate::reports::RefreshOutcome;
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
    /// How long one workspace's run (refresh, then group sync) may take before it is stopped (30 min).
    pub run_deadline: Duration,
    /// The wait after a workspace's first failed run (5 min); doubled after each further failure.
    pub failure_backoff: Duration,
    /// The longest wait between runs of a workspace that keeps failing (6 h, R10's interval).
    pub max_failure_backoff: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_every: Duration::from_secs(60),
            refresh_every: Duration::from_secs(3600),
            jitter: Duration::from_secs(10 * 60),
            max_concurrent_workspaces: 4,
            seed: 0,
            run_deadline: Duration::from_secs(30 * 60),
            failure_backoff: Duration::from_secs(5 * 60),
            max_failure_backoff: Duration::from_secs(6 * 3600),
        }
    }
}

/// What one workspace's run did. A job that was not due (or not started) is `None`.
#[derive(Debug)]
#[non_exhaustive]
pub struct WorkspaceRun {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The refresh: [`RefreshOutcome::NotRun`] when none was due.
    pub refresh: RefreshOutcome,
    /// The group sync.
    pub group_sync: Option<Result<GroupSyncReport>>,
    /// How long the run took once it had its slot (at most about [`SchedulerConfig::run_deadline`]).
    pub elapsed: Duration,
}

impl WorkspaceRun {
    /// Whether the run failed, so that the workspace backs off: a refresh that got nowhere (aborted, a
    /// suspicious listing, or errors and no device answered) or a job that ended in an error of the
    /// workspace's own (MDM, credentials, storage, deadline, panic). Another worker holding the lease, a
    /// cooldown or a sync waiting for its refresh are not failures.
    pub fn failed(&self) -> bool {
        let refresh = match &self.refresh {
            RefreshOutcome::Ran(report) => report.made_no_progress(),
            RefreshOutcome::Failed(e) => counts_as_failure(e),
            RefreshOutcome::NotRun => false,
        };
        let group_sync = matches!(&self.group_sync, Some(Err(e)) if counts_as_failure(e));
        refresh || group_sync
    }

    /// The first error of the run, if any.
    fn first_error(&self) -> Option<&Error> {
        let refresh = self.refresh.error();
        refresh.or_else(|| self.group_sync.as_ref().and_then(|r| r.as_ref().err()))
    }
}

fn counts_as_failure(error: &Error) -> bool {
    !matches!(
        error,
        Error::AlreadyRunning { .. }
            | Error::LeaseLost { .. }
            | Error::Cooldown { .. }
            | Error::RefreshPending { .. }
            | Error::NotConnected { .. }
            | Error::PlanExcludesGroupSync { .. }
    )
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
    /// Workspaces whose previous run (started by this scheduler) is still going: nothing new was started
    /// for them.
    pub already_running: Vec<WorkspaceId>,
    /// Workspaces backing off after failed runs: nothing was started for them.
    pub backing_off: Vec<WorkspaceId>,
}

/// Runs refresh and group sync for many workspaces, each in its own task. Share it as `Arc<Scheduler>`.
#[derive(Debug)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    engine: Arc<MdmSync>,
    config: SchedulerConfig,
    stopping: AtomicBool,
    stop_signal: watch::Sender<bool>,
    /// One permit per workspace run in progress.
    slots: Arc<Semaphore>,
    /// Workspaces with a run started here and not yet finished (waiting for a slot included).
    running: Mutex<HashSet<WorkspaceId>>,
    backoff: Mutex<HashMap<WorkspaceId, Backoff>>,
}

/// A workspace whose runs keep failing.
#[derive(Debug, Clone)]
struct Backoff {
    failures: u32,
    until: DateTime<Utc>,
    /// The nonce of the credentials the failures were met with: a new save ends the backoff.
    credentials_nonce: Option<Vec<u8>>,
}

struct Job {
    workspace: WorkspaceId,
    refresh: bool,
    group_sync: bool,
    /// The group sync may run only if this turn's refresh makes the metadata current.
    group_sync_after_refresh: bool,
}

enum Turn {
    Ran(Box<WorkspaceRun>),
    Skipped(WorkspaceId),
}

/// What [`Scheduler::tick`] and [`Scheduler::run`] started.
struct Started {
    considered: usize,
    tasks: Vec<JoinHandle<Turn>>,
    skipped_for_shutdown: Vec<WorkspaceId>,
    already_running: Vec<WorkspaceId>,
    backing_off: Vec<WorkspaceId>,
}

/// Takes the workspace off the running set when its task ends, however it ends.
struct RunningEntry {
    shared: Arc<Shared>,
    workspace: WorkspaceId,
}

impl Drop for RunningEntry {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.workspace);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here writes whole values: the data stays usable after a panic elsewhere.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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

/// `base * 2^(failures - 1)`, at most `cap`.
fn backoff_delay(failures: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(Duration::MAX).min(cap)
}

impl Scheduler {
    /// A scheduler over `engine`.
    pub fn new(engine: Arc<MdmSync>, config: SchedulerConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_concurrent_workspaces.max(1)));
        Scheduler {
            shared: Arc::new(Shared {
                engine,
                config,
                stopping: AtomicBool::new(false),
                stop_signal: watch::channel(false).0,
                slots,
                running: Mutex::new(HashSet::new()),
                backoff: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<MdmSync> {
        &self.shared.engine
    }

    /// The workspace's fixed offset in `[0, jitter)`.
    pub fn jitter_for(&self, workspace: &WorkspaceId) -> TimeDelta {
        TimeDelta::from_std(self.shared.jitter_for(workspace)).unwrap_or(TimeDelta::MAX)
    }

    /// Stops starting new workspace runs; runs already started finish.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.stop_signal.send_replace(true);
    }

    /// Whether [`Scheduler::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.shared.is_stopping()
    }

    /// Until when the workspace backs off after failed runs, if it does (the end may have passed: the
    /// backoff ends with the next run that does not fail).
    pub fn backing_off_until(&self, workspace: &WorkspaceId) -> Option<DateTime<Utc>> {
        lock(&self.shared.backoff).get(workspace).map(|b| b.until)
    }

    /// Workspaces with a run in progress (or waiting for a slot) in this scheduler, sorted.
    pub fn running(&self) -> Vec<WorkspaceId> {
        let mut running: Vec<WorkspaceId> = lock(&self.shared.running).iter().cloned().collect();
        running.sort();
        running
    }

    /// Starts everything due at `now`, each workspace in its own task, and returns when the runs it started
    /// have finished (each within [`SchedulerConfig::run_deadline`]). `now` should come from the engine's
    /// clock (the runs stamp their records with it).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let started = self.shared.start(now).await?;
        let mut report = TickReport {
            at: now,
            considered: started.considered,
            runs: Vec::new(),
            skipped_for_shutdown: started.skipped_for_shutdown,
            already_running: started.already_running,
            backing_off: started.backing_off,
        };
        for task in started.tasks {
            match task.await {
                Ok(Turn::Ran(run)) => report.runs.push(*run),
                Ok(Turn::Skipped(ws)) => report.skipped_for_shutdown.push(ws),
                // Runs catch their own panics; this is the runtime shutting down.
                Err(e) => tracing::warn!(error = %e, "a workspace run's task ended abnormally"),
            }
        }
        report.runs.sort_by(|a, b| a.workspace.cmp(&b.workspace));
        report.skipped_for_shutdown.sort();
        Ok(report)
    }

    /// Every [`SchedulerConfig::tick_every`], starts what is due without waiting for it, until `shutdown`
    /// completes or [`Scheduler::stop`] is called; then lets the runs in progress finish, and returns.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let shared = &self.shared;
        let mut shutdown = pin!(shutdown);
        let mut stop = shared.stop_signal.subscribe();
        let first = {
            let mut b = [0u8; 8];
            let r = random_bytes(&mut b)
                .map(|()| u64::from_le_bytes(b))
                .unwrap_or(0);
            let span = shared.config.jitter.as_millis() as u64;
            Duration::from_millis(if span == 0 { 0 } else { r % span })
        };
        let mut wait = first;
        let mut tasks: Vec<JoinHandle<Turn>> = Vec::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => { self.stop(); break; }
                _ = stop.wait_for(|s| *s) => break,
            }
            if self.is_stopping() {
                break;
            }
            tasks.retain(|t| !t.is_finished());
            match shared.start(shared.engine.clock.now()).await {
                Ok(started) => {
                    tracing::debug!(
                        started = started.tasks.len(),
                        already_running = started.already_running.len(),
                        backing_off = started.backing_off.len(),
                        considered = started.considered,
                        "scheduler tick"
                    );
                    tasks.extend(started.tasks);
                }
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
            }
            wait = shared.config.tick_every;
        }
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!("scheduler stopped");
    }
}

impl Shared {
    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The workspace's offset in `[0, jitter)`, whole milliseconds.
    fn jitter_for(&self, workspace: &WorkspaceId) -> Duration {
        let span = u64::try_from(self.config.jitter.as_millis()).unwrap_or(u64::MAX);
        if span == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(fnv1a(self.config.seed, workspace.as_str().as_bytes()) % span)
    }

    fn group_sync_due(&self, state: &WorkspaceState, now: DateTime<Utc>, jitter: Duration) -> bool {
        if !state.plan.allows_group_sync() {
            return false;
        }
        let cfg = &self.engine.config;
        if let Some(attempt) = state.last_group_sync_attempt {
            let failed = state.last_group_sync != Some(attempt);
            if failed && now < later(attempt, cfg.group_sync_retry_after) {
                return false;
            }
        }
        if state.group_sync_pending {
            return true;
        }
        state
            .last_group_sync
            .is_none_or(|at| now >= later(later(at, cfg.group_sync_interval), jitter))
    }

    /// Whether a refresh may run: once per [`SchedulerConfig::refresh_every`] (plus the workspace's jitter),
    /// or, while one is owed after a connection change, once per
    /// [`crate::SyncConfig::group_sync_retry_after`].
    fn refresh_window_open(
        &self,
        state: &WorkspaceState,
        now: DateTime<Utc>,
        jitter: Duration,
    ) -> bool {
        let opens = |at| {
            if state.refresh_pending {
                later(at, self.engine.config.group_sync_retry_after)
            } else {
                later(later(at, self.config.refresh_every), jitter)
            }
        };
        state.last_refresh.is_none_or(|at| now >= opens(at))
    }

    async fn job_for(&self, workspace: WorkspaceId, now: DateTime<Utc>) -> Result<Option<Job>> {
        let stores = &self.engine.stores;
        let state = stores.state.sync_state(&workspace).await?;
        let jitter = self.jitter_for(&workspace);
        // Owed since the connection changed (and group sync waits for it): no device need be due.
        let refresh = self.refresh_window_open(&state, now, jitter)
            && (state.refresh_pending || {
                let cutoff = earlier(now, self.engine.config.refresh_interval);
                stores.devices.any_due(&workspace, cutoff).await?
            });
        let group_sync =
            self.group_sync_due(&state, now, jitter) && (refresh || !state.refresh_pending);
        Ok((refresh || group_sync).then_some(Job {
            workspace,
            refresh,
            group_sync,
            group_sync_after_refresh: state.refresh_pending,
        }))
    }

    /// Whether the workspace is backing off at `now`. A new save of its credentials ends the backoff.
    async fn backing_off(&self, workspace: &WorkspaceId, now: DateTime<Utc>) -> Result<bool> {
        let Some(backoff) = lock(&self.backoff).get(workspace).cloned() else {
            return Ok(false);
        };
        if now >= backoff.until {
            return Ok(false);
        }
        let nonce = self.credentials_nonce(workspace).await?;
        if nonce != backoff.credentials_nonce {
            lock(&self.backoff).remove(workspace);
            return Ok(false);
        }
        Ok(true)
    }

    async fn credentials_nonce(&self, workspace: &WorkspaceId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .engine
            .stores
            .credentials
            .load_credentials(workspace)
            .await?
            .map(|r| r.nonce))
    }

    async fn start(self: &Arc<Self>, now: DateTime<Utc>) -> Result<Started> {
        let workspaces = self
            .engine
            .stores
            .credentials
            .connected_workspaces()
            .await?;
        let mut started = Started {
            considered: workspaces.len(),
            tasks: Vec::new(),
            skipped_for_shutdown: Vec::new(),
            already_running: Vec::new(),
            backing_off: Vec::new(),
        };
        for workspace in workspaces {
            if lock(&self.running).contains(&workspace) {
                started.already_running.push(workspace);
                continue;
            }
            if self.backing_off(&workspace, now).await? {
                started.backing_off.push(workspace);
                continue;
            }
            let Some(job) = self.job_for(workspace, now).await? else {
                continue;
            };
            if self.is_stopping() {
                started.skipped_for_shutdown.push(job.workspace);
                continue;
            }
            if !lock(&self.running).insert(job.workspace.clone()) {
                started.already_running.push(job.workspace);
                continue;
            }
            let entry = RunningEntry {
                shared: self.clone(),
                workspace: job.workspace.clone(),
            };
            let shared = self.clone();
            started.tasks.push(tokio::spawn(async move {
                let turn = shared.turn(job, now).await;
                if let Turn::Ran(run) = &turn {
                    shared.account(run, now).await;
                }
                drop(entry);
                turn
            }));
        }
        Ok(started)
    }

    async fn turn(&self, job: Job, now: DateTime<Utc>) -> Turn {
        // Stopping while waiting for a slot holds the run back.
        let mut stop = self.stop_signal.subscribe();
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return Turn::Skipped(job.workspace),
            slot = self.slots.clone().acquire_owned() => slot,
        };
        let Ok(_slot) = slot else {
            return Turn::Skipped(job.workspace);
        };
        let workspace = job.workspace;
        let started = Instant::now();
        // A deadline too far to represent is no deadline (tokio's own "far future" is 30 years).
        let deadline = started
            .checked_add(self.config.run_deadline)
            .unwrap_or_else(|| started + Duration::from_secs(30 * 365 * 86_400));
        let mut run = WorkspaceRun {
            workspace: workspace.clone(),
            refresh: RefreshOutcome::NotRun,
            group_sync: None,
            elapsed: Duration::ZERO,
        };
        let mut stopped = false;
        let jitter = self.jitter_for(&workspace);
        if job.refresh {
            let window_open = |state: &WorkspaceState| self.refresh_window_open(state, now, jitter);
            let result = self
                .guarded(
                    &workspace,
                    deadline,
                    self.engine.refresh_scheduled(&workspace, now, window_open),
                )
                .await;
            stopped = matches!(
                result,
                Err(Error::DeadlineExceeded { .. } | Error::RunPanicked { .. })
            );
            // `Ok(None)`: another replica ran it first.
            run.refresh = result.into();
        }
        let mut group_sync = job.group_sync && !stopped && !self.is_stopping();
        if group_sync && job.group_sync_after_refresh {
            // Matching members needs metadata current for the connection: did this turn's refresh get it?
            group_sync = self
                .engine
                .stores
                .state
                .sync_state(&workspace)
                .await
                .map_or(true, |state| !state.refresh_pending);
        }
        if group_sync {
            let still_due = |state: &WorkspaceState| self.group_sync_due(state, now, jitter);
            let result = self
                .guarded(
                    &workspace,
                    deadline,
                    self.engine
                        .sync_groups_scheduled(&workspace, now, still_due),
                )
                .await;
            run.group_sync = result.transpose();
        }
        run.elapsed = started.elapsed();
        Turn::Ran(Box::new(run))
    }

    /// Runs one job within the run's deadline, turning a panic into an error.
    async fn guarded<T>(
        &self,
        workspace: &WorkspaceId,
        deadline: Instant,
        job: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout_at(deadline, AssertUnwindSafe(job).catch_unwind()).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(Error::RunPanicked {
                workspace: workspace.clone(),
            }),
            Err(_elapsed) => Err(Error::DeadlineExceeded {
                workspace: workspace.clone(),
                deadline: self.config.run_deadline,
            }),
        }
    }

    /// Logs the run and keeps the workspace's backoff.
    async fn account(&self, run: &WorkspaceRun, started_at: DateTime<Utc>) {
        let workspace = &run.workspace;
        if !run.failed() {
            lock(&self.backoff).remove(workspace);
            tracing::debug!(workspace = %workspace, elapsed_ms = run.elapsed.as_millis() as u64, "workspace run finished");
            return;
        }
        let nonce = self.credentials_nonce(workspace).await.unwrap_or(None);
        let from = started_at.max(self.engine.clock.now());
        let mut backoff = lock(&self.backoff);
        let failures = backoff
            .get(workspace)
            .map_or(0, |b| b.failures)
            .saturating_add(1);
        let wait = backoff_delay(
            failures,
            self.config.failure_backoff,
            self.config.max_failure_backoff,
        );
        let until = later(from, wait);
        backoff.insert(
            workspace.clone(),
            Backoff {
                failures,
                until,
                credentials_nonce: nonce,
            },
        );
        drop(backoff);
        let error = run.first_error();
        tracing::warn!(
            workspace = %workspace,
            failures,
            %until,
            error = error.map(tracing::field::display),
            category = error.and_then(Error::category).map(|c| c.name()),
            "workspace run failed; backing off"
        );
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

    #[test]
    fn backoff_doubles_up_to_its_cap_and_never_overflows() {
        let base = Duration::from_secs(300);
        let cap = Duration::from_secs(6 * 3600);
        let waits: Vec<u64> = (1..=8)
            .map(|n| backoff_delay(n, base, cap).as_secs() / 60)
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 360]);
        assert_eq!(backoff_delay(0, base, cap), base);
        assert_eq!(backoff_delay(u32::MAX, base, cap), cap);
        assert_eq!(
            backoff_delay(40, Duration::MAX, Duration::MAX),
            Duration::MAX
        );
    }
}
