//! The storage test suite: every store implementation runs these unchanged.
//!
//! Each function exercises one trait through its public contract and panics on the first violation, like a
//! test. Workspaces are named with a random suffix, so the suite can run against a shared database that
//! already holds data (it does not clean up after itself).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mdmkit_sync::{storage_suite, Stores};
//! storage_suite::run_all(&Stores::memory()).await;
//! # }
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit_core::{ProviderKind, SerialNumber};

use crate::model::{
    GroupId, LeaseOutcome, MdmMetadata, NewGroup, Plan, ProviderLink, SealedCredentials,
    WorkspaceId,
};
use crate::store::{CredentialStore, DeviceStore, GroupStore, Stores, SyncStateStore};
use crate::vault::random_bytes;

fn unique(prefix: &str) -> WorkspaceId {
    let mut b = [0u8; 6];
    random_bytes(&mut b).expect("OS randomness");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    WorkspaceId::new(format!("suite-{prefix}-{hex}"))
}

fn t(hours: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + TimeDelta::hours(hours)
}

fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

fn meta(id: &str, name: Option<&str>) -> MdmMetadata {
    MdmMetadata {
        device_id: id.into(),
        user_id: Some(format!("user-{id}")),
        display_name: name.map(str::to_owned),
    }
}

fn sealed(provider: ProviderKind, byte: u8) -> SealedCredentials {
    SealedCredentials {
        provider,
        key_id: format!("k{byte}"),
        nonce: vec![byte; 24],
        ciphertext: vec![byte; 40],
        sealed_at: t(i64::from(byte)),
    }
}

/// Runs every part of the suite.
pub async fn run_all(stores: &Stores) {
    credentials(&*stores.credentials).await;
    devices(&*stores.devices).await;
    groups(&*stores.groups).await;
    sync_state(&*stores.state).await;
}

/// [`CredentialStore`]: one record per workspace, replaced on save, listed, deleted, isolated.
pub async fn credentials(store: &dyn CredentialStore) {
    let a = unique("cred-a");
    let b = unique("cred-b");
    assert_eq!(store.load_credentials(&a).await.unwrap(), None);
    store
        .save_credentials(&a, sealed(ProviderKind::Jamf, 1))
        .await
        .unwrap();
    assert_eq!(
        store.load_credentials(&a).await.unwrap(),
        Some(sealed(ProviderKind::Jamf, 1))
    );
    store
        .save_credentials(&a, sealed(ProviderKind::Fleet, 2))
        .await
        .unwrap();
    assert_eq!(
        store.load_credentials(&a).await.unwrap(),
        Some(sealed(ProviderKind::Fleet, 2)),
        "a save replaces the workspace's record"
    );
    assert_eq!(store.load_credentials(&b).await.unwrap(), None);
    store
        .save_credentials(&b, sealed(ProviderKind::Intune, 3))
        .await
        .unwrap();
    let listed = store.connected_workspaces().await.unwrap();
    assert!(listed.contains(&a) && listed.contains(&b), "{listed:?}");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "connected workspaces are sorted");
    assert!(store.delete_credentials(&a).await.unwrap());
    assert!(!store.delete_credentials(&a).await.unwrap());
    assert_eq!(store.load_credentials(&a).await.unwrap(), None);
    assert!(!store.connected_workspaces().await.unwrap().contains(&a));
    assert_eq!(
        store.load_credentials(&b).await.unwrap(),
        Some(sealed(ProviderKind::Intune, 3))
    );
    store.delete_credentials(&b).await.unwrap();
}

/// [`DeviceStore`]: add, due, checks, reset, search, isolation.
pub async fn devices(store: &dyn DeviceStore) {
    let ws = unique("dev");
    let other = unique("dev-other");
    let (s1, s2, s3) = (
        serial("C02AAA111"),
        serial("C02BBB222"),
        serial("FVFCCC333"),
    );
    assert!(store.add_device(&ws, &s2).await.unwrap());
    assert!(store.add_device(&ws, &s1).await.unwrap());
    assert!(store.add_device(&ws, &s3).await.unwrap());
    assert!(!store.add_device(&ws, &s1).await.unwrap(), "adding twice");
    assert!(
        store.add_device(&other, &s1).await.unwrap(),
        "workspaces are separate"
    );

    let all = store.devices(&ws).await.unwrap();
    let serials: Vec<_> = all.iter().map(|d| d.serial.clone()).collect();
    assert_eq!(
        serials,
        [s1.clone(), s2.clone(), s3.clone()],
        "sorted by serial"
    );
    assert!(all
        .iter()
        .all(|d| d.metadata.is_none() && d.checked_at.is_none()));
    assert_eq!(
        store.devices_due(&ws, t(0)).await.unwrap().len(),
        3,
        "new devices are due"
    );

    assert!(store
        .record_check(&ws, &s1, Some(meta("101", Some("Ada Lovelace"))), t(10))
        .await
        .unwrap());
    assert!(store.record_check(&ws, &s2, None, t(12)).await.unwrap());
    let d1 = store.device(&ws, &s1).await.unwrap().unwrap();
    assert_eq!(d1.metadata, Some(meta("101", Some("Ada Lovelace"))));
    assert_eq!(d1.checked_at, Some(t(10)));
    assert_eq!(
        store.device(&other, &s1).await.unwrap().unwrap().metadata,
        None
    );

    let wsr = &ws;
    let due = |cutoff| async move {
        store
            .devices_due(wsr, cutoff)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.serial)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        due(t(9)).await,
        vec![s3.clone()],
        "checked after the cutoff: not due"
    );
    assert_eq!(
        due(t(10)).await,
        [s1.clone(), s3.clone()],
        "checked at the cutoff: due"
    );
    assert_eq!(due(t(12)).await, [s1.clone(), s2.clone(), s3.clone()]);

    let ghost = serial("NOPE0001");
    assert!(!store.record_check(&ws, &ghost, None, t(1)).await.unwrap());
    assert_eq!(
        store.device(&ws, &ghost).await.unwrap(),
        None,
        "no device is created"
    );

    // Search: serial or display name, substring, case-insensitive.
    store
        .record_check(&ws, &s3, Some(meta("303", Some("Zoë's MacBook"))), t(11))
        .await
        .unwrap();
    let search = |q: &'static str| async move {
        store
            .search_devices(wsr, q)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.serial)
            .collect::<Vec<_>>()
    };
    assert_eq!(search("c02").await, [s1.clone(), s2.clone()]);
    assert_eq!(search("bbb2").await, vec![s2.clone()]);
    assert_eq!(search("lovelace").await, vec![s1.clone()]);
    assert_eq!(search(" ZOË ").await, vec![s3.clone()]);
    assert_eq!(search("macbook").await, vec![s3.clone()]);
    assert!(search("nobody").await.is_empty());
    assert_eq!(search("").await.len(), 3);
    assert!(store
        .search_devices(&other, "lovelace")
        .await
        .unwrap()
        .is_empty());

    assert_eq!(store.reset_metadata(&ws).await.unwrap(), 3);
    assert!(store
        .devices(&ws)
        .await
        .unwrap()
        .iter()
        .all(|d| d.metadata.is_none() && d.checked_at.is_none()));
    assert!(search("lovelace").await.is_empty());
    assert_eq!(store.devices(&other).await.unwrap().len(), 1);

    assert!(store.remove_device(&ws, &s2).await.unwrap());
    assert!(!store.remove_device(&ws, &s2).await.unwrap());
    assert_eq!(store.devices(&ws).await.unwrap().len(), 2);
}

/// [`GroupStore`]: create with store-assigned ids, read, update, delete, sort, isolation.
pub async fn groups(store: &dyn GroupStore) {
    let ws = unique("grp");
    let other = unique("grp-other");
    let manual = store
        .create_group(&ws, NewGroup::manual("Zeta"))
        .await
        .unwrap();
    let link = ProviderLink {
        provider: ProviderKind::Jamf,
        account: "jamf:https://acme.example/".into(),
        mdm_group_id: "7".into(),
    };
    let members: BTreeSet<_> = [serial("AAA1"), serial("BBB2")].into();
    let synced = store
        .create_group(
            &ws,
            NewGroup {
                name: "Alpha".into(),
                link: Some(link.clone()),
                members: members.clone(),
            },
        )
        .await
        .unwrap();
    let elsewhere = store
        .create_group(&other, NewGroup::manual("Alpha"))
        .await
        .unwrap();
    assert_ne!(manual.id, synced.id);
    assert_ne!(synced.id, elsewhere.id, "ids are unique within the store");
    assert_eq!(synced.link.as_ref(), Some(&link));
    assert_eq!(synced.members, members);
    assert_eq!(manual.link, None);

    let listed = store.groups(&ws).await.unwrap();
    let names: Vec<_> = listed.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Alpha", "Zeta"], "sorted by name, workspace only");
    assert_eq!(
        store.group(&ws, &synced.id).await.unwrap(),
        Some(synced.clone())
    );
    assert_eq!(store.group(&ws, &elsewhere.id).await.unwrap(), None);

    let mut detached = synced.clone();
    detached.link = None;
    detached.name = "Alpha (old)".into();
    detached.members.remove(&serial("AAA1"));
    store.update_group(&ws, &detached).await.unwrap();
    assert_eq!(
        store.group(&ws, &synced.id).await.unwrap(),
        Some(detached.clone())
    );

    let mut missing = detached.clone();
    missing.id = GroupId::new("no-such-group");
    assert!(store.update_group(&ws, &missing).await.is_err());
    assert!(
        store.update_group(&other, &detached).await.is_err(),
        "another workspace's group"
    );

    assert!(store.delete_group(&ws, &manual.id).await.unwrap());
    assert!(!store.delete_group(&ws, &manual.id).await.unwrap());
    assert_eq!(store.groups(&ws).await.unwrap(), vec![detached]);
    assert_eq!(store.groups(&other).await.unwrap().len(), 1);
}

/// [`SyncStateStore`]: defaults, narrow writes that do not clobber each other, and the lease.
pub async fn sync_state(store: &dyn SyncStateStore) {
    let ws = unique("state");
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.plan, Plan::Free);
    assert_eq!(state.last_group_sync, None);
    assert!(!state.group_sync_pending);
    assert_eq!(state.lease, None);

    store.set_plan(&ws, Plan::Pro).await.unwrap();
    store.record_refresh(&ws, t(1), Some(500)).await.unwrap();
    store.record_refresh(&ws, t(2), None).await.unwrap();
    store.set_group_sync_pending(&ws, true).await.unwrap();
    store
        .record_group_sync_attempt(&ws, t(3), false)
        .await
        .unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.plan, Plan::Pro, "other writes keep the plan");
    assert_eq!(state.last_refresh, Some(t(2)));
    assert_eq!(state.mdm_device_count, Some(500), "kept when not given");
    assert_eq!(state.last_group_sync_attempt, Some(t(3)));
    assert_eq!(
        state.last_group_sync, None,
        "a failed attempt is not a sync"
    );
    assert!(
        state.group_sync_pending,
        "a failed attempt leaves it pending"
    );

    store
        .record_group_sync_attempt(&ws, t(4), true)
        .await
        .unwrap();
    store.record_manual_group_sync(&ws, t(4)).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.last_group_sync, Some(t(4)));
    assert_eq!(state.last_group_sync_attempt, Some(t(4)));
    assert_eq!(state.last_manual_group_sync, Some(t(4)));
    assert!(!state.group_sync_pending, "success clears pending");
    assert_eq!(state.plan, Plan::Pro);

    // Metadata not current for the connection: set (forgetting the old MDM's count), then cleared.
    assert!(!state.refresh_pending);
    store.set_refresh_pending(&ws, true).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert!(state.refresh_pending);
    assert_eq!(
        state.mdm_device_count, None,
        "the count described the previous MDM"
    );
    assert_eq!(state.last_refresh, Some(t(2)), "other fields kept");
    assert_eq!(state.last_group_sync, Some(t(4)));
    store.record_refresh(&ws, t(5), Some(40)).await.unwrap();
    store.set_refresh_pending(&ws, false).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert!(!state.refresh_pending);
    assert_eq!(state.mdm_device_count, Some(40), "clearing keeps the count");
    assert_eq!(state.plan, Plan::Pro);

    // The lease: one holder until it expires.
    let lease = match store
        .try_acquire_lease(&ws, "one", t(5), t(6))
        .await
        .unwrap()
    {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("free lease not acquired: {other:?}"),
    };
    assert_eq!(lease.owner, "one");
    assert_eq!(lease.expires_at, t(6));
    assert_eq!(
        store
            .try_acquire_lease(&ws, "two", t(5), t(7))
            .await
            .unwrap(),
        LeaseOutcome::Busy { expires_at: t(6) }
    );
    let renewed = store.renew_lease(&ws, &lease, t(8)).await.unwrap().unwrap();
    assert_eq!(renewed.expires_at, t(8));
    assert_eq!(
        store
            .try_acquire_lease(&ws, "two", t(7), t(9))
            .await
            .unwrap(),
        LeaseOutcome::Busy { expires_at: t(8) },
        "renewal holds others off"
    );
    // Expired: taken over; the old holder can neither renew nor release it.
    let taken = match store
        .try_acquire_lease(&ws, "two", t(8), t(10))
        .await
        .unwrap()
    {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("expired lease not taken over: {other:?}"),
    };
    assert_eq!(store.renew_lease(&ws, &renewed, t(11)).await.unwrap(), None);
    assert!(!store.release_lease(&ws, &renewed).await.unwrap());
    assert_eq!(
        store.sync_state(&ws).await.unwrap().lease,
        Some(taken.clone())
    );
    assert!(store.release_lease(&ws, &taken).await.unwrap());
    assert_eq!(store.sync_state(&ws).await.unwrap().lease, None);

    // Racing requests: exactly one wins.
    let race = unique("race");
    let owners: Vec<String> = (0..16).map(|i| format!("owner-{i}")).collect();
    let outcomes = futures::future::join_all(
        owners
            .iter()
            .map(|o| store.try_acquire_lease(&race, o, t(0), t(1))),
    )
    .await;
    let won = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::Acquired(_))))
        .count();
    assert_eq!(won, 1, "exactly one of 16 racing acquirers holds the lease");
}
