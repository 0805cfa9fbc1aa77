//! Suite cases for [`crate::LookupCacheStore`].

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit_core::ProviderKind;

use super::{
    kept_with_the_metadata, lease, sealed, serial, t, unique_workspace, FaultInjector, Interrupted,
    SuiteTarget,
};
use crate::lookup_cache::{LookupEntry, LookupKind};
use crate::marks::SyncMarks;
use crate::model::{ConnectionChange, WorkspaceId};
use crate::store::{Step, Stores};

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

async fn read(
    stores: &Stores,
    ws: &WorkspaceId,
    kind: LookupKind,
    wanted: &[&str],
) -> Vec<LookupEntry> {
    let mut found = stores
        .lookups
        .lookups(ws, kind, &keys(wanted))
        .await
        .unwrap();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// An instant with microseconds, as every store keeps them.
fn precise(hours: i64) -> DateTime<Utc> {
    t(hours) + TimeDelta::microseconds(123_456)
}

/// [`crate::LookupCacheStore`]: entries by kind and key, replaced on write, counted by age, isolated per
/// workspace, written only under the current fence, and cleared with a new connection or a disconnect.
pub async fn lookup_cache(stores: &Stores) {
    let ws = unique_workspace("lookups");
    let bystander = unique_workspace("lookups-other");
    let fence = lease(stores, &ws, "lookups").await.fence;
    let other_fence = lease(stores, &bystander, "other").await.fence;
    assert!(read(stores, &ws, LookupKind::UserName, &["anna@acme.com"])
        .await
        .is_empty());

    let anna = LookupEntry::user_name("anna@acme.com", Some("Anna Chao".into()), precise(1));
    let nameless = LookupEntry::user_name("bo@acme.com", None, precise(1));
    let unbound = LookupEntry::device_user("sys-1", None, None, precise(2));
    let bound = LookupEntry::device_user(
        "sys-2",
        Some("u-7".into()),
        Some("Søren Kierkegaard".into()),
        precise(3),
    );
    // The same key under another kind is another entry.
    let same_key = LookupEntry::device_user("anna@acme.com", None, None, precise(3));
    let all = [
        anna.clone(),
        nameless.clone(),
        unbound.clone(),
        bound.clone(),
        same_key.clone(),
    ];
    assert_eq!(
        stores
            .lookups
            .store_lookups(&ws, fence, &all)
            .await
            .unwrap(),
        5
    );
    stores
        .lookups
        .store_lookups(&bystander, other_fence, std::slice::from_ref(&anna))
        .await
        .unwrap();

    assert_eq!(
        read(
            stores,
            &ws,
            LookupKind::UserName,
            &["bo@acme.com", "anna@acme.com", "nobody@acme.com"]
        )
        .await,
        vec![anna.clone(), nameless.clone()],
        "only the keys asked for, values and microseconds as written"
    );
    assert_eq!(
        read(
            stores,
            &ws,
            LookupKind::DeviceUser,
            &["sys-1", "sys-2", "anna@acme.com", "sys-1"]
        )
        .await,
        vec![same_key.clone(), unbound.clone(), bound.clone()],
        "a key asked for twice is answered once"
    );
    assert!(stores
        .lookups
        .lookups(&ws, LookupKind::UserName, &[])
        .await
        .unwrap()
        .is_empty());

    // Counted by kind and age (at or after the instant).
    let count = |kind, since| {
        let ws = ws.clone();
        async move {
            stores
                .lookups
                .count_lookups(&ws, kind, since)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(LookupKind::UserName, t(0)).await, 2);
    assert_eq!(count(LookupKind::UserName, precise(1)).await, 2);
    assert_eq!(count(LookupKind::UserName, t(2)).await, 0);
    assert_eq!(count(LookupKind::DeviceUser, precise(2)).await, 3);
    assert_eq!(count(LookupKind::DeviceUser, t(3)).await, 2);

    // Replaced, not duplicated; in one batch the last entry for a key wins.
    let renamed = LookupEntry::user_name("anna@acme.com", Some("Anna Lind".into()), precise(30));
    let rebound = LookupEntry::device_user("sys-1", Some("u-9".into()), None, precise(30));
    stores
        .lookups
        .store_lookups(
            &ws,
            fence,
            &[anna.clone(), renamed.clone(), rebound.clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        read(stores, &ws, LookupKind::UserName, &["anna@acme.com"]).await,
        vec![renamed.clone()]
    );
    assert_eq!(
        read(stores, &ws, LookupKind::DeviceUser, &["sys-1"]).await,
        vec![rebound]
    );
    assert_eq!(count(LookupKind::UserName, t(0)).await, 2);
    assert_eq!(
        read(stores, &bystander, LookupKind::UserName, &["anna@acme.com"]).await,
        vec![anna.clone()],
        "other workspaces keep their own"
    );

    // Writes under a fence that is no longer current are refused and change nothing.
    let refused = stores
        .lookups
        .store_lookups(
            &ws,
            crate::model::Fence::new(fence.get() + 1000),
            std::slice::from_ref(&anna),
        )
        .await
        .unwrap_err();
    assert!(refused.is_stale_fence(), "{refused}");
    let refused = stores
        .lookups
        .clear_lookups(&ws, crate::model::Fence::new(fence.get() + 1000))
        .await
        .unwrap_err();
    assert!(refused.is_stale_fence(), "{refused}");
    assert_eq!(
        read(stores, &ws, LookupKind::UserName, &["anna@acme.com"]).await,
        vec![renamed.clone()]
    );

    // Re-sealing the same connection keeps the caches; a new connection clears them with the metadata,
    // and so does a disconnect; other workspaces keep theirs.
    stores
        .devices
        .add_device(&ws, &serial("LOOK0001"))
        .await
        .unwrap();
    kept_with_the_metadata(
        stores,
        &ws,
        fence,
        async || {
            stores
                .lookups
                .store_lookups(&ws, fence, &[anna.clone(), bound.clone()])
                .await
                .unwrap();
        },
        async || assert_eq!(count(LookupKind::UserName, t(0)).await, 2),
        async |by| {
            for kind in LookupKind::ALL {
                assert_eq!(count(kind, t(-1000)).await, 0, "{kind:?} cleared by {by}");
            }
        },
    )
    .await;
    assert_eq!(
        read(stores, &bystander, LookupKind::UserName, &["anna@acme.com"]).await,
        vec![anna.clone()]
    );

    // Clearing on demand says how many there were.
    stores
        .lookups
        .store_lookups(&ws, fence, &[anna.clone(), bound.clone()])
        .await
        .unwrap();
    assert_eq!(stores.lookups.clear_lookups(&ws, fence).await.unwrap(), 2);
    assert_eq!(stores.lookups.clear_lookups(&ws, fence).await.unwrap(), 0);
    assert!(read(stores, &ws, LookupKind::DeviceUser, &["sys-2"])
        .await
        .is_empty());
    assert_eq!(
        stores
            .lookups
            .count_lookups(&bystander, LookupKind::UserName, t(0))
            .await
            .unwrap(),
        1
    );
}

/// Large caches are written and read in batches: `n` entries in one call each way.
pub async fn large_lookup_cache(stores: &Stores, n: usize) {
    let ws = unique_workspace("lookups-large");
    let fence = lease(stores, &ws, "large").await.fence;
    let entries: Vec<LookupEntry> = (0..n)
        .map(|i| {
            LookupEntry::user_name(
                format!("user{i}@example.com"),
                (i % 7 != 0).then(|| format!("Zoë Martin {i}")),
                t(i as i64 % 48),
            )
        })
        .collect();
    assert_eq!(
        stores
            .lookups
            .store_lookups(&ws, fence, &entries)
            .await
            .unwrap(),
        n
    );
    let wanted: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
    let mut found = stores
        .lookups
        .lookups(&ws, LookupKind::UserName, &wanted)
        .await
        .unwrap();
    found.sort_by_key(|e| {
        e.key
            .trim_start_matches("user")
            .split('@')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
    });
    assert_eq!(found, entries);
    let young = (0..n).filter(|i| i % 48 >= 24).count() as u64;
    assert_eq!(
        stores
            .lookups
            .count_lookups(&ws, LookupKind::UserName, t(24))
            .await
            .unwrap(),
        young
    );
    assert_eq!(
        stores.lookups.clear_lookups(&ws, fence).await.unwrap(),
        n as u64
    );
}

/// The caches are cleared in the same transaction as the metadata and the sync marks: a connect or
/// disconnect that fails half-way keeps them all, its retry clears them all.
pub async fn lookup_cache_atomic(target: &dyn SuiteTarget) {
    let faults = Arc::new(FaultInjector::new());
    let stores = target.open_with_hook(faults.clone()).await;
    let entry = LookupEntry::user_name("anna@acme.com", Some("Anna".into()), t(1));
    let reconnect = Interrupted {
        to: sealed(ProviderKind::Fleet, 2),
        change: ConnectionChange {
            clear_metadata: true,
            group_sync_pending: false,
        },
    };
    reconnect
        .at_each(
            &stores,
            &faults,
            Step::CONNECT.into_iter().chain(Step::DISCONNECT),
            async || {
                let ws = unique_workspace("lookups-atomic");
                let fence = lease(&stores, &ws, "atomic").await.fence;
                stores
                    .credentials
                    .save_connection(
                        &ws,
                        fence,
                        sealed(ProviderKind::Fleet, 1),
                        ConnectionChange::NONE,
                    )
                    .await
                    .unwrap();
                stores
                    .lookups
                    .store_lookups(&ws, fence, std::slice::from_ref(&entry))
                    .await
                    .unwrap();
                stores
                    .marks
                    .record_device_watermark(&ws, fence, t(2), Some(t(2)))
                    .await
                    .unwrap();
                let marks = stores.marks.sync_marks(&ws).await.unwrap();
                assert_eq!(marks.device_watermark, Some(t(2)));
                (ws, fence, marks)
            },
            async |step, ws: &WorkspaceId, marks: &SyncMarks| {
                assert_eq!(
                    read(&stores, ws, LookupKind::UserName, &["anna@acme.com"]).await,
                    vec![entry.clone()],
                    "{step:?}: the cache is kept with the metadata"
                );
                assert_eq!(
                    &stores.marks.sync_marks(ws).await.unwrap(),
                    marks,
                    "{step:?}: the marks are kept with the cache"
                );
            },
            async |step, ws: &WorkspaceId, _| {
                assert!(
                    read(&stores, ws, LookupKind::UserName, &["anna@acme.com"])
                        .await
                        .is_empty(),
                    "{step:?}: the retry clears it"
                );
                assert_eq!(
                    stores.marks.sync_marks(ws).await.unwrap(),
                    SyncMarks::default(),
                    "{step:?}: and the marks, in the same transaction"
                );
            },
        )
        .await;
}
