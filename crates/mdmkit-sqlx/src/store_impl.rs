//! The four `mdmkit-sync` store traits, written once and generated for each database.
//!
//! `sql_store!(Store, dialect)` implements them for `Store` (a struct with `pool: sqlx::Pool<dialect::Db>`
//! and `hook: Option<Arc<dyn StepHook>>`) with the shared SQL of [`crate::common::sql`] and the dialect
//! module's few differences: `Db`, `begin_write` (how a write transaction starts), `CHECK_FENCE` and the
//! lease statements with the database's clock.
//!
//! Every fenced write opens a transaction, checks the fence (holding the lease row against a takeover
//! until commit) and writes; a multi-step change reports each step to the hook inside the transaction, so
//! a failure at any step rolls everything back.

macro_rules! sql_store {
    ($Store:ident, $dialect:ident) => {
        mod trait_impls {
            use std::time::Duration;

            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use mdmkit_core::SerialNumber;
            use mdmkit_sync::{
                check_step, ConnectionChange, ConnectionRemoved, CredentialStore, DeviceCheck,
                DevicePage, DeviceRecord, DeviceStore, Fence, GroupChanges, GroupId, GroupRecord,
                GroupStore, LeaseOutcome, MarkStore, NewGroup, Paging, Plan, SealedCredentials,
                Step, StoreError, StoreResult, SyncStateStore, WorkspaceId, WorkspaceState,
            };
            use sqlx::{Acquire, Transaction};

            use super::$Store;
            use super::$dialect::{self as dialect, Db};
            use crate::common::{
                backend, contains_pattern, fence_value, group_key, groups_from, limit_value,
                micros, plan_text, sql, CredentialsRow, DbTime, DeviceRow, GroupRow, LeaseRow,
                MarksRow, MemberRow, StateRow,
            };

            type Tx = Transaction<'static, Db>;

            impl $Store {
                fn step(&self, step: Step) -> StoreResult<()> {
                    check_step(self.hook.as_ref(), step)
                }

                async fn write_tx(&self) -> StoreResult<Tx> {
                    dialect::begin_write(&self.pool)
                        .await
                        .map_err(|e| backend("starting a transaction", e))
                }

                /// A write transaction in which `fence` is the workspace's current, held lease (and stays so
                /// until commit).
                async fn fenced(&self, ws: &WorkspaceId, fence: Fence) -> StoreResult<Tx> {
                    let mut tx = self.write_tx().await?;
                    let current: Option<i64> = sqlx::query_scalar(dialect::CHECK_FENCE.as_str())
                        .bind(ws.as_str())
                        .bind(fence_value(fence))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| backend("checking the lease", e))?;
                    match current {
                        Some(_) => Ok(tx),
                        None => Err(StoreError::stale_fence(ws, fence)),
                    }
                }

                async fn page(
                    &self,
                    query: &str,
                    ws: &WorkspaceId,
                    page: &Paging,
                    extra: Extra,
                ) -> StoreResult<DevicePage> {
                    let limit = page.effective_limit();
                    let after = page.after.as_ref().map_or("", SerialNumber::as_str);
                    let q = sqlx::query_as::<_, DeviceRow>(query)
                        .bind(ws.as_str())
                        .bind(after)
                        .bind(limit_value(limit));
                    let q = match extra {
                        Extra::None => q,
                        Extra::Cutoff(cutoff) => q.bind(DbTime(cutoff)),
                        Extra::Pattern(pattern) => q.bind(pattern),
                    };
                    let rows = q
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| backend("reading devices", e))?;
                    let mut devices = rows
                        .into_iter()
                        .map(DeviceRow::into_record)
                        .collect::<StoreResult<Vec<DeviceRecord>>>()?;
                    let next = if devices.len() > limit {
                        devices.truncate(limit);
                        devices.last().map(|d| d.serial_number.clone())
                    } else {
                        None
                    };
                    Ok(DevicePage { devices, next })
                }

                async fn clear_metadata(tx: &mut Tx, ws: &WorkspaceId) -> StoreResult<usize> {
                    // The lookup caches came from the same MDM: cleared in the same transaction.
                    sqlx::query(crate::lookup_cache_impl::sql::CLEAR_LOOKUPS)
                        .bind(ws.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(|e| backend("clearing cached lookups", e))?;
                    let done = sqlx::query(sql::CLEAR_METADATA)
                        .bind(ws.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(|e| backend("clearing device metadata", e))?;
                    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
                }

                async fn forget_marks(tx: &mut Tx, ws: &WorkspaceId) -> StoreResult<()> {
                    Self::exec(
                        tx,
                        "forgetting the sync marks",
                        sqlx::query(sql::FORGET_MARKS).bind(ws.as_str()),
                    )
                    .await
                    .map(|_| ())
                }

                async fn exec<'q>(
                    tx: &mut Tx,
                    what: &str,
                    q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
                ) -> StoreResult<u64> {
                    q.execute(&mut **tx)
                        .await
                        .map(|done| done.rows_affected())
                        .map_err(|e| backend(what, e))
                }

                async fn commit(tx: Tx) -> StoreResult<()> {
                    tx.commit().await.map_err(|e| backend("committing", e))
                }

                async fn replace_members(
                    tx: &mut Tx,
                    id: i64,
                    members: &std::collections::BTreeSet<SerialNumber>,
                ) -> StoreResult<()> {
                    Self::exec(
                        tx,
                        "replacing group members",
                        sqlx::query(sql::DELETE_MEMBERS).bind(id),
                    )
                    .await?;
                    let members: Vec<&SerialNumber> = members.iter().collect();
                    for chunk in members.chunks(dialect::ROWS_PER_WRITE) {
                        dialect::add_members(&mut **tx, id, chunk)
                            .await
                            .map_err(|e| backend("adding group members", e))?;
                    }
                    Ok(())
                }

                async fn insert_group(
                    tx: &mut Tx,
                    ws: &WorkspaceId,
                    group: NewGroup,
                ) -> StoreResult<GroupRecord> {
                    let link = group.link.as_ref();
                    let id: i64 = sqlx::query_scalar(sql::CREATE_GROUP)
                        .bind(ws.as_str())
                        .bind(group.name.as_str())
                        .bind(link.map(|l| l.provider.id()))
                        .bind(link.map(|l| l.account.as_str()))
                        .bind(link.map(|l| l.mdm_group_id.as_str()))
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(|e| backend("creating a group", e))?;
                    Self::replace_members(tx, id, &group.members).await?;
                    Ok(GroupRecord {
                        id: GroupId::new(id.to_string()),
                        name: group.name,
                        link: group.link,
                        members: group.members,
                    })
                }

                async fn rewrite_group(
                    tx: &mut Tx,
                    ws: &WorkspaceId,
                    group: &GroupRecord,
                ) -> StoreResult<()> {
                    let missing = || {
                        StoreError::not_found(format!(
                            "group {} does not exist in workspace {ws}",
                            group.id
                        ))
                    };
                    let id = group_key(&group.id).ok_or_else(missing)?;
                    let link = group.link.as_ref();
                    let updated = Self::exec(
                        tx,
                        "updating a group",
                        sqlx::query(sql::UPDATE_GROUP)
                            .bind(ws.as_str())
                            .bind(id)
                            .bind(group.name.as_str())
                            .bind(link.map(|l| l.provider.id()))
                            .bind(link.map(|l| l.account.as_str()))
                            .bind(link.map(|l| l.mdm_group_id.as_str())),
                    )
                    .await?;
                    if updated == 0 {
                        return Err(missing());
                    }
                    Self::replace_members(tx, id, &group.members).await
                }

                async fn state_write<'q>(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    what: &str,
                    q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
                ) -> StoreResult<()> {
                    let mut tx = self.fenced(ws, fence).await?;
                    Self::exec(&mut tx, what, q).await?;
                    Self::commit(tx).await
                }
            }

            crate::lookup_cache_impl::sql_lookup_store!($Store);

            enum Extra {
                None,
                Cutoff(DateTime<Utc>),
                Pattern(String),
            }

            #[async_trait]
            impl CredentialStore for $Store {
                async fn load_credentials(
                    &self,
                    ws: &WorkspaceId,
                ) -> StoreResult<Option<SealedCredentials>> {
                    sqlx::query_as::<_, CredentialsRow>(sql::LOAD_CREDENTIALS)
                        .bind(ws.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading credentials", e))?
                        .map(CredentialsRow::into_record)
                        .transpose()
                }

                async fn connected_workspaces(&self) -> StoreResult<Vec<WorkspaceId>> {
                    let ids: Vec<String> = sqlx::query_scalar(sql::CONNECTED_WORKSPACES)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| backend("listing connected workspaces", e))?;
                    Ok(ids.into_iter().map(WorkspaceId::new).collect())
                }

                async fn save_connection(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    record: SealedCredentials,
                    change: ConnectionChange,
                ) -> StoreResult<usize> {
                    let mut tx = self.fenced(ws, fence).await?;
                    Self::exec(
                        &mut tx,
                        "saving credentials",
                        sqlx::query(sql::SAVE_CREDENTIALS)
                            .bind(ws.as_str())
                            .bind(record.provider.id())
                            .bind(record.key_id)
                            .bind(record.nonce)
                            .bind(record.ciphertext)
                            .bind(DbTime(record.sealed_at)),
                    )
                    .await?;
                    self.step(Step::ConnectionSaved)?;
                    let mut cleared = 0;
                    if change.clear_metadata {
                        cleared = Self::clear_metadata(&mut tx, ws).await?;
                        Self::forget_marks(&mut tx, ws).await?;
                        Self::exec(
                            &mut tx,
                            "marking a refresh pending",
                            sqlx::query(sql::SET_REFRESH_PENDING)
                                .bind(ws.as_str())
                                .bind(true),
                        )
                        .await?;
                        self.step(Step::ConnectMetadataCleared)?;
                    }
                    if change.group_sync_pending {
                        Self::exec(
                            &mut tx,
                            "marking a group sync pending",
                            sqlx::query(sql::SET_PENDING).bind(ws.as_str()).bind(true),
                        )
                        .await?;
                    }
                    Self::commit(tx).await?;
                    Ok(cleared)
                }

                async fn remove_connection(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                ) -> StoreResult<ConnectionRemoved> {
                    let mut tx = self.fenced(ws, fence).await?;
                    let deleted = Self::exec(
                        &mut tx,
                        "deleting credentials",
                        sqlx::query(sql::DELETE_CREDENTIALS).bind(ws.as_str()),
                    )
                    .await?;
                    self.step(Step::ConnectionDeleted)?;
                    let devices_cleared = Self::clear_metadata(&mut tx, ws).await?;
                    Self::forget_marks(&mut tx, ws).await?;
                    self.step(Step::DisconnectMetadataCleared)?;
                    let detached = Self::exec(
                        &mut tx,
                        "detaching groups",
                        sqlx::query(sql::DETACH_GROUPS).bind(ws.as_str()),
                    )
                    .await?;
                    self.step(Step::GroupsDetached)?;
                    Self::exec(
                        &mut tx,
                        "clearing the pending group sync",
                        sqlx::query(sql::CLEAR_PENDING).bind(ws.as_str()),
                    )
                    .await?;
                    Self::commit(tx).await?;
                    Ok(ConnectionRemoved {
                        was_connected: deleted > 0,
                        devices_cleared,
                        groups_detached: usize::try_from(detached).unwrap_or(usize::MAX),
                    })
                }
            }

            #[async_trait]
            impl DeviceStore for $Store {
                async fn add_devices(
                    &self,
                    ws: &WorkspaceId,
                    serials: &[SerialNumber],
                ) -> StoreResult<usize> {
                    if serials.is_empty() {
                        return Ok(0);
                    }
                    let mut tx = self.write_tx().await?;
                    let mut added = 0u64;
                    for chunk in serials.chunks(dialect::ROWS_PER_WRITE) {
                        added += dialect::add_devices(&mut *tx, ws.as_str(), chunk)
                            .await
                            .map_err(|e| backend("adding devices", e))?;
                    }
                    Self::commit(tx).await?;
                    Ok(usize::try_from(added).unwrap_or(usize::MAX))
                }

                async fn remove_device(
                    &self,
                    ws: &WorkspaceId,
                    serial: &SerialNumber,
                ) -> StoreResult<bool> {
                    let done = sqlx::query(sql::REMOVE_DEVICE)
                        .bind(ws.as_str())
                        .bind(serial.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(|e| backend("removing a device", e))?;
                    Ok(done.rows_affected() > 0)
                }

                async fn device(
                    &self,
                    ws: &WorkspaceId,
                    serial: &SerialNumber,
                ) -> StoreResult<Option<DeviceRecord>> {
                    sqlx::query_as::<_, DeviceRow>(sql::DEVICE.as_str())
                        .bind(ws.as_str())
                        .bind(serial.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading a device", e))?
                        .map(DeviceRow::into_record)
                        .transpose()
                }

                async fn devices(&self, ws: &WorkspaceId, page: Paging) -> StoreResult<DevicePage> {
                    self.page(sql::DEVICES_PAGE.as_str(), ws, &page, Extra::None)
                        .await
                }

                async fn device_count(&self, ws: &WorkspaceId) -> StoreResult<u64> {
                    let n: i64 = sqlx::query_scalar(sql::DEVICE_COUNT)
                        .bind(ws.as_str())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| backend("counting devices", e))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn devices_due(
                    &self,
                    ws: &WorkspaceId,
                    cutoff: DateTime<Utc>,
                    page: Paging,
                ) -> StoreResult<DevicePage> {
                    self.page(sql::DUE_PAGE.as_str(), ws, &page, Extra::Cutoff(cutoff))
                        .await
                }

                async fn count_due(
                    &self,
                    ws: &WorkspaceId,
                    cutoff: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    let n: i64 = sqlx::query_scalar(sql::COUNT_DUE)
                        .bind(ws.as_str())
                        .bind(DbTime(cutoff))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| backend("counting due devices", e))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn any_due(
                    &self,
                    ws: &WorkspaceId,
                    cutoff: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    sqlx::query_scalar(sql::ANY_DUE)
                        .bind(ws.as_str())
                        .bind(DbTime(cutoff))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| backend("looking for due devices", e))
                }

                async fn search_devices(
                    &self,
                    ws: &WorkspaceId,
                    query: &str,
                    page: Paging,
                ) -> StoreResult<DevicePage> {
                    let pattern = contains_pattern(query);
                    self.page(
                        sql::SEARCH_PAGE.as_str(),
                        ws,
                        &page,
                        Extra::Pattern(pattern),
                    )
                    .await
                }

                async fn record_checks(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    checks: &[DeviceCheck],
                ) -> StoreResult<usize> {
                    let mut tx = self.fenced(ws, fence).await?;
                    let mut written = 0u64;
                    for (i, chunk) in checks.chunks(dialect::ROWS_PER_WRITE).enumerate() {
                        written += dialect::record_checks(&mut *tx, ws.as_str(), chunk)
                            .await
                            .map_err(|e| backend("recording checks", e))?;
                        if i == 0 && checks.len() > 1 {
                            self.step(Step::ChecksPartlyWritten)?;
                        }
                    }
                    Self::commit(tx).await?;
                    Ok(usize::try_from(written).unwrap_or(usize::MAX))
                }
            }

            #[async_trait]
            impl GroupStore for $Store {
                async fn groups(&self, ws: &WorkspaceId) -> StoreResult<Vec<GroupRecord>> {
                    // One connection, so both reads see the same groups.
                    let mut conn = self
                        .pool
                        .acquire()
                        .await
                        .map_err(|e| backend("reading groups", e))?;
                    let mut tx = conn
                        .begin()
                        .await
                        .map_err(|e| backend("reading groups", e))?;
                    let rows = sqlx::query_as::<_, GroupRow>(sql::GROUPS)
                        .bind(ws.as_str())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| backend("reading groups", e))?;
                    let members = sqlx::query_as::<_, MemberRow>(sql::GROUP_MEMBERS)
                        .bind(ws.as_str())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| backend("reading group members", e))?;
                    tx.commit()
                        .await
                        .map_err(|e| backend("reading groups", e))?;
                    groups_from(rows, members)
                }

                async fn group(
                    &self,
                    ws: &WorkspaceId,
                    id: &GroupId,
                ) -> StoreResult<Option<GroupRecord>> {
                    let Some(key) = group_key(id) else {
                        return Ok(None);
                    };
                    let Some(row) = sqlx::query_as::<_, GroupRow>(sql::GROUP)
                        .bind(ws.as_str())
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading a group", e))?
                    else {
                        return Ok(None);
                    };
                    let members = sqlx::query_as::<_, MemberRow>(sql::MEMBERS_OF)
                        .bind(key)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| backend("reading group members", e))?;
                    Ok(groups_from(vec![row], members)?.pop())
                }

                async fn create_group(
                    &self,
                    ws: &WorkspaceId,
                    group: NewGroup,
                ) -> StoreResult<GroupRecord> {
                    let mut tx = self.write_tx().await?;
                    let created = Self::insert_group(&mut tx, ws, group).await?;
                    Self::commit(tx).await?;
                    Ok(created)
                }

                async fn update_group(
                    &self,
                    ws: &WorkspaceId,
                    group: &GroupRecord,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx().await?;
                    Self::rewrite_group(&mut tx, ws, group).await?;
                    Self::commit(tx).await
                }

                async fn delete_group(&self, ws: &WorkspaceId, id: &GroupId) -> StoreResult<bool> {
                    let Some(key) = group_key(id) else {
                        return Ok(false);
                    };
                    // Members go with it (`ON DELETE CASCADE`).
                    let done = sqlx::query(sql::DELETE_GROUP)
                        .bind(ws.as_str())
                        .bind(key)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| backend("deleting a group", e))?;
                    Ok(done.rows_affected() > 0)
                }

                async fn apply_group_changes(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    changes: GroupChanges,
                ) -> StoreResult<()> {
                    if changes.is_empty() {
                        // Still refuse a stale fence, like every fenced write.
                        let tx = self.fenced(ws, fence).await?;
                        return Self::commit(tx).await;
                    }
                    let mut tx = self.fenced(ws, fence).await?;
                    let created = !changes.create.is_empty();
                    for group in changes.create {
                        Self::insert_group(&mut tx, ws, group).await?;
                    }
                    if created {
                        self.step(Step::GroupsCreated)?;
                    }
                    for group in &changes.update {
                        Self::rewrite_group(&mut tx, ws, group).await?;
                    }
                    Self::commit(tx).await
                }
            }

            #[async_trait]
            impl MarkStore for $Store {
                async fn sync_marks(
                    &self,
                    ws: &WorkspaceId,
                ) -> StoreResult<mdmkit_sync::SyncMarks> {
                    Ok(sqlx::query_as::<_, MarksRow>(sql::MARKS)
                        .bind(ws.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading the sync marks", e))?
                        .map(MarksRow::into_marks)
                        .unwrap_or_default())
                }

                async fn record_device_watermark(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    watermark: DateTime<Utc>,
                    full_listing: Option<DateTime<Utc>>,
                ) -> StoreResult<()> {
                    let q = sqlx::query(sql::RECORD_WATERMARK)
                        .bind(ws.as_str())
                        .bind(DbTime(watermark))
                        .bind(full_listing.map(DbTime));
                    self.state_write(ws, fence, "recording the device watermark", q)
                        .await
                }

                async fn record_group_delta(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    token: Option<&str>,
                    full_read: Option<DateTime<Utc>>,
                ) -> StoreResult<()> {
                    let q = sqlx::query(sql::RECORD_GROUP_DELTA)
                        .bind(ws.as_str())
                        .bind(token.map(str::to_owned))
                        .bind(full_read.map(DbTime));
                    self.state_write(ws, fence, "recording the group delta link", q)
                        .await
                }
            }

            #[async_trait]
            impl SyncStateStore for $Store {
                async fn sync_state(&self, ws: &WorkspaceId) -> StoreResult<WorkspaceState> {
                    let lease = sqlx::query_as::<_, LeaseRow>(sql::HELD_LEASE)
                        .bind(ws.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading the lease", e))?
                        .map(LeaseRow::into_lease);
                    let row = sqlx::query_as::<_, StateRow>(sql::STATE)
                        .bind(ws.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("reading the sync state", e))?;
                    match row {
                        Some(row) => row.into_state(lease),
                        None => Ok(WorkspaceState {
                            lease,
                            ..WorkspaceState::default()
                        }),
                    }
                }

                async fn set_plan(&self, ws: &WorkspaceId, plan: Plan) -> StoreResult<()> {
                    sqlx::query(sql::SET_PLAN)
                        .bind(ws.as_str())
                        .bind(plan_text(plan))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| backend("setting the plan", e))?;
                    Ok(())
                }

                async fn record_refresh(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    at: DateTime<Utc>,
                    mdm_device_count: Option<u64>,
                ) -> StoreResult<()> {
                    let count = mdm_device_count.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
                    let q = sqlx::query(sql::RECORD_REFRESH)
                        .bind(ws.as_str())
                        .bind(DbTime(at))
                        .bind(count);
                    self.state_write(ws, fence, "recording a refresh", q).await
                }

                async fn record_group_sync_attempt(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    at: DateTime<Utc>,
                    succeeded: bool,
                ) -> StoreResult<()> {
                    let statement = if succeeded {
                        sql::RECORD_SUCCESS
                    } else {
                        sql::RECORD_ATTEMPT
                    };
                    let q = sqlx::query(statement).bind(ws.as_str()).bind(DbTime(at));
                    self.state_write(ws, fence, "recording a group sync", q)
                        .await
                }

                async fn record_manual_group_sync(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    let q = sqlx::query(sql::RECORD_MANUAL)
                        .bind(ws.as_str())
                        .bind(DbTime(at));
                    self.state_write(ws, fence, "recording a manual group sync", q)
                        .await
                }

                async fn set_group_sync_pending(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    pending: bool,
                ) -> StoreResult<()> {
                    let q = sqlx::query(sql::SET_PENDING)
                        .bind(ws.as_str())
                        .bind(pending);
                    self.state_write(ws, fence, "setting the pending group sync", q)
                        .await
                }

                async fn set_refresh_pending(
                    &self,
                    ws: &WorkspaceId,
                    fence: Fence,
                    pending: bool,
                ) -> StoreResult<()> {
                    let q = sqlx::query(sql::SET_REFRESH_PENDING)
                        .bind(ws.as_str())
                        .bind(pending);
                    self.state_write(ws, fence, "setting the pending refresh", q)
                        .await
                }

                async fn try_acquire_lease(
                    &self,
                    ws: &WorkspaceId,
                    owner: &str,
                    ttl: Duration,
                ) -> StoreResult<LeaseOutcome> {
                    // The holder may release between the two statements; then try again.
                    for _ in 0..3 {
                        let acquired =
                            sqlx::query_as::<_, LeaseRow>(dialect::LEASE.acquire.as_str())
                                .bind(ws.as_str())
                                .bind(owner)
                                .bind(micros(ttl))
                                .fetch_optional(&self.pool)
                                .await
                                .map_err(|e| backend("acquiring the lease", e))?;
                        if let Some(row) = acquired {
                            return Ok(LeaseOutcome::Acquired(row.into_lease()));
                        }
                        let held = sqlx::query_as::<_, LeaseRow>(sql::HELD_LEASE)
                            .bind(ws.as_str())
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(|e| backend("reading the lease", e))?;
                        if let Some(row) = held {
                            return Ok(LeaseOutcome::Busy {
                                expires_at: row.into_lease().expires_at,
                            });
                        }
                    }
                    Err(StoreError::new(format!(
                        "the lease of workspace {ws} changed hands too often to be read"
                    )))
                }

                async fn renew_lease(
                    &self,
                    ws: &WorkspaceId,
                    lease: &mdmkit_sync::Lease,
                    ttl: Duration,
                ) -> StoreResult<Option<mdmkit_sync::Lease>> {
                    Ok(sqlx::query_as::<_, LeaseRow>(dialect::LEASE.renew.as_str())
                        .bind(ws.as_str())
                        .bind(lease.owner.as_str())
                        .bind(fence_value(lease.fence))
                        .bind(micros(ttl))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| backend("renewing the lease", e))?
                        .map(LeaseRow::into_lease))
                }

                async fn release_lease(
                    &self,
                    ws: &WorkspaceId,
                    lease: &mdmkit_sync::Lease,
                ) -> StoreResult<bool> {
                    let done = sqlx::query(dialect::LEASE.release.as_str())
                        .bind(ws.as_str())
                        .bind(lease.owner.as_str())
                        .bind(fence_value(lease.fence))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| backend("releasing the lease", e))?;
                    Ok(done.rows_affected() > 0)
                }
            }
        }
    };
}

pub(crate) use sql_store;
