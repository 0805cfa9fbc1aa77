//! Connecting and disconnecting: R3 (encrypted, bound, rotating), R8 (validate before save), R9 (a change
//! clears and refetches metadata), R10 (a change syncs groups at once).

mod common;

use chrono::TimeDelta;
use common::{serial, Harness, Op, VAULT_KEY};
use mdmkit_core::{Category, ErrorKind, ProviderKind};
use mdmkit_sync::{
    Error, GroupSyncOutcome, MdmSync, Plan, Scheduler, SchedulerConfig, Vault, VaultError,
    WorkspaceId,
};

#[tokio::test]
async fn r8_failed_validation_saves_nothing_and_keeps_the_previous_credentials() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    h.mdm.add_device("acme", "C02AAA", "1", "Mac", None);
    let ws = h.workspace("w", Plan::Free, &["C02AAA"]).await;

    let err = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), Some(Category::Unauthorized));
    assert_eq!(
        h.sync.connection_info(&ws).await.unwrap(),
        None,
        "nothing saved"
    );
    assert!(h
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .is_none());

    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let saved = h
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    let metadata = h
        .sync
        .device(&ws, &serial("C02AAA"))
        .await
        .unwrap()
        .unwrap();

    h.advance(TimeDelta::hours(1));
    let err = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "also-wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), Some(Category::Unauthorized));
    assert_eq!(
        h.stores
            .credentials
            .load_credentials(&ws)
            .await
            .unwrap()
            .unwrap(),
        saved,
        "the previous credentials stay in force, byte for byte"
    );
    assert_eq!(
        h.sync
            .device(&ws, &serial("C02AAA"))
            .await
            .unwrap()
            .unwrap(),
        metadata,
        "and device metadata is untouched"
    );
    // The old credentials still work.
    h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.matched, 1);
}

#[tokio::test]
async fn r8_every_category_reaches_the_caller() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    let ws = h.workspace("w", Plan::Pro, &[]).await;
    for (kind, category) in [
        (ErrorKind::Unauthorized, Category::Unauthorized),
        (ErrorKind::Forbidden, Category::Forbidden),
        (ErrorKind::NotFound, Category::NotFound),
        (ErrorKind::ConnectionFailed, Category::ConnectionFailed),
        (ErrorKind::Ssl, Category::Ssl),
        (ErrorKind::Server, Category::Server),
    ] {
        h.mdm.fail("acme", Op::Validate, kind, Some(1));
        let err = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap_err();
        assert_eq!(err.category(), Some(category), "{kind:?}: {err}");
        assert!(h.sync.connection_info(&ws).await.unwrap().is_none());
    }
    // A host nobody answers on: a network error.
    h.mdm.account("ghost", ProviderKind::Fleet);
    let config = h.mdm.config("ghost");
    h.mdm.remove_account_for_test("ghost");
    let err = h.sync.connect(&ws, config).await.unwrap_err();
    assert_eq!(err.category(), Some(Category::ConnectionFailed));
    assert!(h.sync.connection_info(&ws).await.unwrap().is_none());
}

#[tokio::test]
async fn r9_a_new_provider_clears_metadata_and_fetches_it_from_the_new_one() {
    let h = Harness::new();
    h.mdm.account("old", ProviderKind::Jamf);
    h.mdm
        .add_device("old", "C02AAA", "1", "Mac A", Some(("u1", "Ada")));
    h.mdm.add_device("old", "C02BBB", "2", "Mac B", None);
    h.mdm.account("new", ProviderKind::Fleet);
    h.mdm
        .add_device("new", "C02AAA", "f-77", "fleet-mac-a", None);
    let ws = h.workspace("w", Plan::Free, &["C02AAA", "C02BBB"]).await;

    let first = h.sync.connect(&ws, h.mdm.config("old")).await.unwrap();
    assert!(first.connection_changed);
    assert_eq!(h.display_name(&ws, "C02AAA").await.as_deref(), Some("Ada"));
    assert_eq!(h.device_id(&ws, "C02BBB").await.as_deref(), Some("2"));

    // One hour later nothing is due, yet the change refetches everything at once.
    h.advance(TimeDelta::hours(1));
    let report = h.sync.connect(&ws, h.mdm.config("new")).await.unwrap();
    assert!(report.connection_changed);
    assert_eq!(report.devices_reset, 2);
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!((refresh.due, refresh.matched, refresh.not_found), (2, 1, 1));
    assert_eq!(h.device_id(&ws, "C02AAA").await.as_deref(), Some("f-77"));
    assert_eq!(
        h.display_name(&ws, "C02AAA").await.as_deref(),
        Some("fleet-mac-a")
    );
    assert_eq!(
        h.device_id(&ws, "C02BBB").await,
        None,
        "the old MDM's data is gone"
    );
    let view = h
        .sync
        .device(&ws, &serial("C02AAA"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.link.unwrap().label, "View on Fleet");
}

#[tokio::test]
async fn r9_a_rotated_secret_is_a_change_and_the_same_secret_is_not() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Iru);
    h.mdm.add_device("acme", "C02AAA", "d1", "Mac", None);
    let ws = h.workspace("w", Plan::Free, &["C02AAA"]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    h.advance(TimeDelta::hours(1));
    let before = h.mdm.requests("acme");
    let again = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    assert!(!again.connection_changed);
    assert_eq!(again.devices_reset, 0);
    assert!(!again.refresh.ran());
    assert_eq!(h.mdm.requests("acme") - before, 1, "only the test call");
    assert_eq!(h.device_id(&ws, "C02AAA").await.as_deref(), Some("d1"));

    h.mdm.set_token("acme", "rotated");
    let rotated = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "rotated"))
        .await
        .unwrap();
    assert!(rotated.connection_changed);
    assert_eq!(rotated.devices_reset, 1);
    assert_eq!(rotated.refresh.into_report().unwrap().matched, 1);
}

#[tokio::test]
async fn r3_credentials_are_encrypted_at_rest_and_cannot_move_to_another_workspace() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Intune);
    h.mdm.add_device("acme", "C02AAA", "d1", "Mac", None);
    let ws = h.workspace("w", Plan::Pro, &["C02AAA"]).await;
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    let record = h
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.key_id, "k1");
    assert_eq!(record.provider, ProviderKind::Intune);
    let at_rest = serde_json::to_string(&record).unwrap();
    assert!(!at_rest.contains("token-acme"), "{at_rest}");
    assert!(!String::from_utf8_lossy(&record.ciphertext).contains("token-acme"));

    // Copied into another workspace's row, the record does not open.
    let thief = WorkspaceId::new("thief");
    mdmkit_sync::storage_suite::store_credentials(&h.stores, &thief, record).await;
    h.sync.add_device(&thief, &serial("C02AAA")).await.unwrap();
    let err = h.sync.refresh_due(&thief).await.unwrap_err();
    assert!(
        matches!(err, Error::Vault(VaultError::Decrypt { .. })),
        "{err:?}"
    );

    // Secrets appear in no Debug output or error.
    for shown in [
        format!("{:?}", h.sync),
        format!("{report:?}"),
        format!("{err:?} {err}"),
        format!("{:?}", h.stores),
    ] {
        assert!(!shown.contains("token-acme"), "{shown}");
    }
    let wrong = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "wrong-secret-value"))
        .await
        .unwrap_err();
    assert!(!format!("{wrong:?} {wrong}").contains("wrong-secret-value"));
}

#[tokio::test]
async fn r3_rotated_keys_open_old_records_and_reseal_with_the_newest() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::SimpleMdm);
    h.mdm.add_device("acme", "C02AAA", "d1", "Mac", None);
    let ws = h.workspace("w", Plan::Free, &["C02AAA"]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    let rotated = Vault::new("k2", &[0x11; 32])
        .unwrap()
        .with_old_key("k1", &VAULT_KEY)
        .unwrap();
    let engine = MdmSync::new(h.mdm.factory(), rotated, h.stores.clone(), h.clock.clone());
    h.advance(TimeDelta::hours(25));
    assert_eq!(
        engine.refresh_due(&ws).await.unwrap().matched,
        1,
        "the old record opens"
    );
    assert!(engine.reseal_credentials(&ws).await.unwrap());
    assert!(
        !engine.reseal_credentials(&ws).await.unwrap(),
        "already on the newest key"
    );
    let info = engine.connection_info(&ws).await.unwrap().unwrap();
    assert_eq!(info.key_id, "k2");

    // Only the new key is needed from now on.
    let new_only = MdmSync::new(
        h.mdm.factory(),
        Vault::new("k2", &[0x11; 32]).unwrap(),
        h.stores.clone(),
        h.clock.clone(),
    );
    h.advance(TimeDelta::hours(25));
    assert_eq!(new_only.refresh_due(&ws).await.unwrap().matched, 1);
}

#[tokio::test]
async fn r10_setting_the_provider_syncs_groups_at_once_on_pro_but_not_on_free() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    h.mdm.add_device("acme", "C02AAA", "1", "Mac A", None);
    h.mdm.add_device("acme", "C02BBB", "2", "Mac B", None);
    h.mdm
        .set_groups("acme", &[("10", "Engineering", &["1", "2"])]);

    let pro = h.workspace("pro", Plan::Pro, &["C02AAA", "C02BBB"]).await;
    let report = h.sync.connect(&pro, h.mdm.config("acme")).await.unwrap();
    let GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!("no group sync: {:?}", report.group_sync);
    };
    assert_eq!(sync.created, 1);
    let groups = h.sync.groups(&pro).await.unwrap();
    assert_eq!(groups[0].name, "Engineering");
    assert_eq!(
        groups[0].members,
        [serial("C02AAA"), serial("C02BBB")].into(),
        "members matched because metadata was fetched first"
    );
    assert!(!h.sync.state(&pro).await.unwrap().group_sync_pending);

    let free = h.workspace("free", Plan::Free, &["C02AAA"]).await;
    let report = h.sync.connect(&free, h.mdm.config("acme")).await.unwrap();
    assert!(matches!(
        report.group_sync,
        GroupSyncOutcome::NotOnPlan(Plan::Free)
    ));
    assert!(h.sync.groups(&free).await.unwrap().is_empty());
}

#[tokio::test]
async fn r10_a_failed_immediate_sync_stays_pending_until_the_scheduler_succeeds() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::JumpCloud);
    h.mdm.set_groups("acme", &[("g1", "Laptops", &[])]);
    let ws = h.workspace("w", Plan::Enterprise, &[]).await;
    h.mdm.fail("acme", Op::Groups, ErrorKind::Server, Some(1));
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    assert!(matches!(report.group_sync, GroupSyncOutcome::Failed(_)));
    assert!(h.sync.state(&ws).await.unwrap().group_sync_pending);
    assert!(
        h.sync.connection_info(&ws).await.unwrap().is_some(),
        "credentials kept"
    );

    let scheduler = Scheduler::new(h.sync.clone(), SchedulerConfig::default());
    let now = h.advance(TimeDelta::minutes(15));
    let tick = scheduler.tick(now).await.unwrap();
    let sync = tick.runs[0].group_sync.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(sync.created, 1);
    assert!(!h.sync.state(&ws).await.unwrap().group_sync_pending);
}

#[tokio::test]
async fn connect_while_a_sync_runs_saves_nothing() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    let ws = h.workspace("w", Plan::Pro, &[]).await;
    let now = h.now();
    h.hold_lease(&ws, "another-worker", TimeDelta::minutes(10))
        .await;
    // Validation runs before the lease is asked for: wrong credentials get their category, not "busy".
    let err = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), Some(Category::Unauthorized), "{err:?}");
    let err = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap_err();
    let Error::AlreadyRunning {
        lease_expires_at, ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(lease_expires_at, now + TimeDelta::minutes(10));
    assert!(h.sync.connection_info(&ws).await.unwrap().is_none());
}

#[tokio::test]
async fn disconnect_deletes_credentials_clears_metadata_and_detaches_groups() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    h.mdm.add_device("acme", "C02AAA", "1", "Mac", None);
    h.mdm.set_groups("acme", &[("10", "Engineering", &["1"])]);
    let ws = h.workspace("w", Plan::Pro, &["C02AAA"]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    // Disconnecting writes, so it holds the lease like every other write: while another worker runs,
    // it is refused with the holder's expiry and nothing changes.
    let groups = h.sync.groups(&ws).await.unwrap();
    let lease = h
        .hold_lease(&ws, "another-worker", TimeDelta::minutes(10))
        .await;
    let err = h.sync.disconnect(&ws).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyRunning { lease_expires_at, .. } if lease_expires_at == lease.expires_at),
        "{err:?}"
    );
    assert!(h.sync.connection_info(&ws).await.unwrap().is_some());
    assert_eq!(h.device_id(&ws, "C02AAA").await.as_deref(), Some("1"));
    assert_eq!(h.sync.groups(&ws).await.unwrap(), groups);
    assert!(h.stores.state.release_lease(&ws, &lease).await.unwrap());

    let report = h.sync.disconnect(&ws).await.unwrap();
    assert!(report.was_connected);
    assert_eq!((report.devices_cleared, report.groups_detached), (1, 1));
    assert!(h.sync.connection_info(&ws).await.unwrap().is_none());
    assert_eq!(h.device_id(&ws, "C02AAA").await, None);
    let groups = h.sync.groups(&ws).await.unwrap();
    assert_eq!(groups.len(), 1, "kept, not deleted");
    assert!(!groups[0].is_synced());
    assert_eq!(groups[0].members, [serial("C02AAA")].into());
    assert!(matches!(
        h.sync.refresh_due(&ws).await.unwrap_err(),
        Error::NotConnected { .. }
    ));
}

/// Defect 2 of issue 9: a change whose refresh did not complete must not sync groups over the metadata it
/// has just cleared (which emptied every synced group).
#[tokio::test]
async fn a_change_whose_refresh_does_not_complete_leaves_every_synced_group_its_members() {
    // How the refresh fails: the bulk listing, every lookup, or one device's lookup (errors left it due).
    for scenario in ["listing", "lookups", "one lookup"] {
        let h = Harness::new();
        h.mdm.account("acme", ProviderKind::Jamf);
        h.mdm.add_device("acme", "C02AAA", "1", "Mac A", None);
        h.mdm.add_device("acme", "C02BBB", "2", "Mac B", None);
        h.mdm.set_groups(
            "acme",
            &[("10", "Engineering", &["1", "2"]), ("11", "Sales", &["2"])],
        );
        let ws = h.workspace("w", Plan::Pro, &["C02AAA", "C02BBB"]).await;
        h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
        let groups = h.sync.groups(&ws).await.unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|g| !g.members.is_empty()));

        // The secret is rotated (a change: R9 clears the metadata) while the MDM fails device requests.
        h.advance(TimeDelta::hours(1));
        h.mdm.set_token("acme", "rotated");
        match scenario {
            "listing" => h.mdm.fail("acme", Op::ListPage, ErrorKind::Server, None),
            "lookups" => {
                h.mdm.set_page_size("acme", 1);
                h.mdm.fail("acme", Op::Lookup, ErrorKind::Timeout, None);
            }
            _ => {
                h.mdm.set_page_size("acme", 1);
                h.mdm
                    .fail_serial("acme", "C02BBB", ErrorKind::ConnectionFailed, None);
            }
        }
        let report = h
            .sync
            .connect(&ws, h.mdm.config_with_token("acme", "rotated"))
            .await
            .unwrap();
        assert!(report.connection_changed);
        assert_eq!(report.devices_reset, 2);
        let refresh = report.refresh.into_report().unwrap();
        assert!(!refresh.is_complete(), "{scenario}: {refresh:?}");
        assert!(
            matches!(report.group_sync, GroupSyncOutcome::WaitingForRefresh),
            "{scenario}: {:?}",
            report.group_sync
        );
        assert_eq!(
            h.sync.groups(&ws).await.unwrap(),
            groups,
            "{scenario}: every group keeps its members, record by record"
        );
        let state = h.sync.state(&ws).await.unwrap();
        assert!(
            state.group_sync_pending && state.refresh_pending,
            "{scenario}"
        );

        // A person asking cannot force it either, and the refusal does not start the cooldown.
        let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
        assert!(matches!(err, Error::RefreshPending { .. }), "{err:?}");
        assert_eq!(
            h.sync.state(&ws).await.unwrap().last_manual_group_sync,
            None
        );
        assert_eq!(h.sync.groups(&ws).await.unwrap(), groups);

        // Once a refresh completes for the new connection, the sync runs and matches every member.
        h.mdm.clear_faults("acme");
        let refresh = h.sync.refresh_due(&ws).await.unwrap();
        assert!(refresh.is_complete(), "{scenario}: {refresh:?}");
        assert!(!h.sync.state(&ws).await.unwrap().refresh_pending);
        let sync = h.sync.sync_groups_now(&ws).await.unwrap();
        assert_eq!(sync.members_matched, 3, "{scenario}");
        assert_eq!(h.sync.groups(&ws).await.unwrap(), groups, "{scenario}");
        assert!(!h.sync.state(&ws).await.unwrap().group_sync_pending);
    }
}

#[tokio::test]
async fn a_change_on_an_empty_workspace_or_a_free_plan_needs_no_waiting() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    h.mdm.set_groups("acme", &[("g1", "Laptops", &[])]);
    let pro = h.workspace("pro", Plan::Pro, &[]).await;
    let report = h.sync.connect(&pro, h.mdm.config("acme")).await.unwrap();
    assert!(report.refresh.into_report().unwrap().is_complete());
    assert!(matches!(report.group_sync, GroupSyncOutcome::Completed(_)));
    assert!(!h.sync.state(&pro).await.unwrap().refresh_pending);

    // On Free a failed refresh leaves the metadata marked not current; disconnecting clears the mark.
    h.mdm.add_device("acme", "C02AAA", "1", "Mac", None);
    let free = h.workspace("free", Plan::Free, &["C02AAA"]).await;
    h.mdm.fail("acme", Op::Lookup, ErrorKind::Server, None);
    let report = h.sync.connect(&free, h.mdm.config("acme")).await.unwrap();
    assert!(matches!(
        report.group_sync,
        GroupSyncOutcome::NotOnPlan(Plan::Free)
    ));
    assert!(h.sync.state(&free).await.unwrap().refresh_pending);
    h.sync.disconnect(&free).await.unwrap();
    assert!(!h.sync.state(&free).await.unwrap().refresh_pending);
}

#[tokio::test]
async fn saved_credentials_show_back_their_non_secret_fields_and_never_the_secret() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    let ws = h.workspace("w", Plan::Free, &[]).await;
    assert_eq!(h.sync.shown_credentials(&ws).await.unwrap(), None);

    // The fake MDM's secret for the account is `token-acme`.
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let shown = h.sync.shown_credentials(&ws).await.unwrap().unwrap();
    let labels: Vec<(&str, &str)> = shown.iter().map(|(f, v)| (f.label, v.as_str())).collect();
    assert_eq!(
        labels,
        [
            ("Host", "https://acme.mdm.test/"),
            ("API Client ID", "client")
        ]
    );
    assert!(!format!("{shown:?}").contains("token-acme"));

    // Read through the vault: a store whose key is gone cannot show them.
    let other_key = MdmSync::new(
        h.mdm.factory(),
        Vault::new("k-other", &[0x22; 32]).unwrap(),
        h.stores.clone(),
        h.clock.clone(),
    );
    assert!(other_key.shown_credentials(&ws).await.is_err());
}
