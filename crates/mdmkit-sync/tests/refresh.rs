//! Refresh: R4 (what is stored), R5 (once a day), R6 (search), R7 (links), the strategy and its cost,
//! partial failures, unknown devices, duplicates and the run report.

mod common;

use chrono::TimeDelta;
use common::{serial, Harness, Op};
use mdmkit_core::{Category, ErrorKind, ProviderKind};
use mdmkit_sync::refresh::WRITE_BATCH;
use mdmkit_sync::{
    bulk_listing_requests, DuplicateSerial, Error, MdmMetadata, MemoryStore, Plan, Step, StepHook,
    StoreResult, Stores, Strategy, SuspiciousListing, SyncConfig, WorkspaceId,
    SHRINK_CHECK_MIN_DEVICES,
};

/// A Jamf account and a Free workspace that both hold `n` devices `SER0000`…, device ids `1`…
async fn fleet(h: &Harness, n: usize) -> WorkspaceId {
    h.mdm.account("acme", ProviderKind::Jamf);
    let serials: Vec<String> = (0..n).map(|i| format!("SER{i:04}")).collect();
    for (i, s) in serials.iter().enumerate() {
        h.mdm
            .add_device("acme", s, &(i + 1).to_string(), &format!("Mac {i}"), None);
    }
    let refs: Vec<&str> = serials.iter().map(String::as_str).collect();
    h.workspace("w", Plan::Free, &refs).await
}

#[tokio::test]
async fn r4_stores_device_id_user_id_and_the_user_name_else_the_device_name() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Iru);
    h.mdm.add_device(
        "acme",
        "C02AAA",
        "dev-1",
        "Ada's MacBook",
        Some(("u-7", "Ada Lovelace")),
    );
    h.mdm
        .add_device("acme", "c02bbb ", "dev-2", "Kiosk Mac", None);
    let ws = h.workspace("w", Plan::Free, &["C02AAA", "C02BBB"]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    let a = h
        .sync
        .device(&ws, &serial("C02AAA"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a.metadata,
        Some(MdmMetadata {
            device_id: "dev-1".into(),
            user_id: Some("u-7".into()),
            display_name: Some("Ada Lovelace".into()),
        })
    );
    let b = h
        .sync
        .device(&ws, &serial("C02BBB"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.metadata,
        Some(MdmMetadata {
            device_id: "dev-2".into(),
            user_id: None,
            display_name: Some("Kiosk Mac".into()),
        }),
        "no user: the device's name, matched on the normalised serial"
    );
}

#[tokio::test]
async fn r5_metadata_is_fetched_at_most_once_per_day() {
    let h = Harness::new();
    let ws = fleet(&h, 2).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let connected_at = h.now();
    h.mdm.add_device("acme", "ZZZ", "99", "unrelated", None);
    h.mdm.remove_device("acme", "1");
    h.mdm
        .add_device("acme", "SER0000", "1", "Renamed Mac", None);

    for later in [
        TimeDelta::minutes(1),
        TimeDelta::hours(23) + TimeDelta::minutes(59),
    ] {
        h.clock.set(connected_at + later);
        let before = h.mdm.requests("acme");
        let report = h.sync.refresh_due(&ws).await.unwrap();
        assert_eq!(report.due, 0, "{later}");
        assert_eq!(report.strategy, None);
        assert_eq!(report.requests, 0);
        assert_eq!(h.mdm.requests("acme"), before, "no request within the day");
        assert_eq!(
            h.display_name(&ws, "SER0000").await.as_deref(),
            Some("Mac 0")
        );
    }

    h.clock.set(connected_at + TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.due, 2);
    assert_eq!(
        h.display_name(&ws, "SER0000").await.as_deref(),
        Some("Renamed Mac")
    );
    let again = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(again.due, 0, "and then not again the same day");
}

#[tokio::test]
async fn r6_search_finds_serials_and_display_names_case_insensitively() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    h.mdm.add_device(
        "acme",
        "C02AAA111",
        "1",
        "Studio",
        Some(("u1", "Grace Hopper")),
    );
    h.mdm
        .add_device("acme", "FVF0BBB22", "2", "Zoë's Mac", None);
    let ws = h
        .workspace("w", Plan::Free, &["C02AAA111", "FVF0BBB22", "NOTINMDM1"])
        .await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();

    let found = |q: &'static str| {
        let sync = h.sync.clone();
        let ws = ws.clone();
        async move {
            sync.search(&ws, q)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.serial_number.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("hopper").await, ["C02AAA111"]);
    assert_eq!(found("GRACE h").await, ["C02AAA111"]);
    assert_eq!(found("zoË").await, ["FVF0BBB22"]);
    assert_eq!(found("c02aaa").await, ["C02AAA111"]);
    assert_eq!(found("1").await, ["C02AAA111", "NOTINMDM1"]);
    assert!(
        found("studio").await.is_empty(),
        "the device name is not the display name here"
    );
    let views = h.sync.search(&ws, "hopper").await.unwrap();
    assert_eq!(views[0].display_name.as_deref(), Some("Grace Hopper"));
}

#[tokio::test]
async fn r7_devices_with_an_mdm_id_link_to_the_console_for_every_provider() {
    let h = Harness::new();
    for (i, kind) in ProviderKind::ALL.into_iter().enumerate() {
        let name = format!("acct{i}");
        h.mdm.account(&name, kind);
        h.mdm.add_device(&name, "C02AAA", "abc-123", "Mac", None);
        let ws = h
            .workspace(&format!("w{i}"), Plan::Free, &["C02AAA", "C02NONE"])
            .await;
        let config = h.mdm.config(&name);
        h.sync.connect(&ws, config.clone()).await.unwrap();
        let views = h.sync.devices(&ws).await.unwrap();
        let link = views[0]
            .link
            .clone()
            .expect("a link for a device with an MDM id");
        assert_eq!(link.label, format!("View on {}", kind.display_name()));
        assert_eq!(Some(link.url), config.device_url("abc-123"), "{kind}");
        assert_eq!(views[1].serial_number, serial("C02NONE"));
        assert_eq!(views[1].link, None, "no MDM id, no link");
    }
}

#[tokio::test]
async fn few_due_devices_are_looked_up_and_many_are_listed_at_the_bulk_lower_bound() {
    let h = Harness::new();
    let ws = fleet(&h, 250).await;
    h.mdm.set_page_size("acme", 100);

    // 250 due, pages of 100: ceil(250/100) = 3 requests beat 250 lookups.
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(refresh.requests, bulk_listing_requests(250, 100));
    assert_eq!(refresh.requests, 3);
    assert_eq!((refresh.matched, refresh.devices_seen), (250, 250));

    // Three new devices: 3 lookups cost no more than the 3-page listing.
    for i in 0..3 {
        let s = format!("NEW{i}");
        h.mdm.add_device("acme", &s, &format!("n{i}"), "New", None);
        h.sync.add_device(&ws, &serial(&s)).await.unwrap();
    }
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Lookups));
    assert_eq!((report.due, report.requests, report.matched), (3, 3, 3));

    // Four new devices: the listing (3 pages of 257 rows) is cheaper than 4 lookups.
    for i in 3..7 {
        let s = format!("NEW{i}");
        h.mdm.add_device("acme", &s, &format!("n{i}"), "New", None);
        h.sync.add_device(&ws, &serial(&s)).await.unwrap();
    }
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!((report.due, report.matched), (4, 4));
    assert_eq!(report.requests, 3);
    assert_eq!(report.estimated_requests, 3);
    assert_eq!(report.unmatched, 0);

    // A day later everything is due again: still the bulk lower bound.
    h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!(report.requests, bulk_listing_requests(257, 100));
}

#[tokio::test]
async fn a_transient_failure_keeps_the_old_metadata_and_leaves_the_device_due() {
    let h = Harness::new();
    let ws = fleet(&h, 2).await;
    // One-row pages make a listing cost as much as the lookups, so lookups are used.
    h.mdm.set_page_size("acme", 1);
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    h.mdm.remove_device("acme", "1");
    h.mdm.remove_device("acme", "2");
    h.mdm.add_device("acme", "SER0000", "1", "New name 0", None);
    h.mdm.add_device("acme", "SER0001", "2", "New name 1", None);

    h.advance(TimeDelta::hours(24));
    h.mdm
        .fail_serial("acme", "SER0000", ErrorKind::Server, None);
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Lookups));
    assert_eq!(
        (report.matched, report.errors, report.still_due()),
        (1, 1, 1)
    );
    assert!(
        !report.aborted,
        "one device's failure does not stop the run"
    );
    let last = report.last_error.unwrap();
    assert_eq!(last.category, Category::Server);
    assert_eq!(last.serial_number, Some(serial("SER0000")));
    assert_eq!(
        h.display_name(&ws, "SER0000").await.as_deref(),
        Some("Mac 0"),
        "kept"
    );
    assert_eq!(
        h.display_name(&ws, "SER0001").await.as_deref(),
        Some("New name 1")
    );

    h.advance(TimeDelta::minutes(5));
    let retry = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(retry.due, 1, "only the failed device is still due");
    assert_eq!(retry.errors, 1);
    h.mdm.clear_faults("acme");
    let healed = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((healed.due, healed.matched), (1, 1));
    assert_eq!(
        h.display_name(&ws, "SER0000").await.as_deref(),
        Some("New name 0")
    );
}

#[tokio::test]
async fn a_device_the_mdm_does_not_know_is_cleared_and_stamped() {
    let h = Harness::new();
    let ws = fleet(&h, 2).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    h.mdm.remove_device("acme", "2");

    let now = h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((report.matched, report.not_found), (1, 1));
    let gone = h
        .sync
        .device(&ws, &serial("SER0001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.metadata, None);
    assert_eq!(
        gone.checked_at,
        Some(now),
        "stamped, so not asked again today"
    );
    assert_eq!(gone.link, None);
    h.advance(TimeDelta::hours(1));
    assert_eq!(h.sync.refresh_due(&ws).await.unwrap().due, 0);
}

#[tokio::test]
async fn duplicate_serials_are_reported_and_never_matched_by_lookup_or_listing() {
    for bulk in [false, true] {
        let h = Harness::new();
        let ws = fleet(&h, if bulk { 120 } else { 1 }).await;
        h.mdm.set_page_size("acme", if bulk { 50 } else { 1 });
        h.mdm.add_device("acme", "DUP1", "d-6", "Second", None);
        h.mdm.add_device("acme", "dup1", "d-5", "First", None);
        h.sync.add_device(&ws, &serial("DUP1")).await.unwrap();

        let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
        let refresh = report.refresh.into_report().unwrap();
        let expected = if bulk {
            Strategy::Bulk
        } else {
            Strategy::Lookups
        };
        assert_eq!(refresh.strategy, Some(expected));
        assert_eq!(
            refresh.duplicates,
            vec![DuplicateSerial {
                serial_number: serial("DUP1"),
                device_ids: vec!["d-5".into(), "d-6".into()],
            }]
        );
        let dup = h.sync.device(&ws, &serial("DUP1")).await.unwrap().unwrap();
        assert_eq!(dup.metadata, None, "{expected}: not matched to either");
        assert!(dup.checked_at.is_some());
        assert_eq!(refresh.still_due(), 0);
    }
}

#[tokio::test]
async fn forbidden_stops_the_run_and_keeps_every_device_as_it_was() {
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 1;
    let h = Harness::with_config(config);
    let ws = fleet(&h, 3).await;
    h.mdm.set_page_size("acme", 1);
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let before = h.sync.devices(&ws).await.unwrap();

    h.advance(TimeDelta::hours(24));
    h.mdm.fail("acme", Op::Lookup, ErrorKind::Forbidden, None);
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Lookups));
    assert!(report.aborted);
    assert_eq!(
        report.requests, 1,
        "no point asking again with the same permissions"
    );
    assert_eq!(
        report.last_error.as_ref().unwrap().category,
        Category::Forbidden
    );
    assert_eq!(report.still_due(), 3);
    assert_eq!(
        h.sync.devices(&ws).await.unwrap(),
        before,
        "metadata and check times kept"
    );
}

#[tokio::test]
async fn a_listing_that_breaks_part_way_clears_nothing() {
    let h = Harness::new();
    let ws = fleet(&h, 150).await;
    h.mdm.set_page_size("acme", 50);
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let before = h.sync.devices(&ws).await.unwrap();
    let connected_at = h.now();
    h.mdm.remove_device("acme", "150");

    h.advance(TimeDelta::hours(24));
    let failed_at = h.now();
    h.mdm
        .fail_after("acme", Op::ListPage, ErrorKind::Timeout, 1);
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert!(report.aborted);
    assert_eq!(
        report.last_error.as_ref().unwrap().category,
        Category::ConnectionFailed
    );
    // The first page streamed into the store before the failure: those 50 answers are definite.
    assert_eq!((report.matched, report.not_found), (50, 0));
    let after = h.sync.devices(&ws).await.unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.metadata, a.metadata, "{}: same metadata", a.serial_number);
    }
    let stamped: Vec<_> = after.iter().map(|d| d.checked_at).collect();
    assert_eq!(
        stamped.iter().filter(|t| **t == Some(failed_at)).count(),
        50
    );
    assert_eq!(
        stamped.iter().filter(|t| **t == Some(connected_at)).count(),
        100,
        "a device missing from a partial listing is not 'not found' and stays due"
    );
    assert_eq!(report.still_due(), 100);
}

/// The listing's pages are read by a task of its own; a panic there is the run's panic, never the end
/// of a complete listing that would clear the devices after it as vanished.
#[tokio::test]
async fn a_listing_that_panics_part_way_clears_nothing() {
    let h = Harness::new();
    let ws = fleet(&h, 150).await;
    h.mdm.set_page_size("acme", 50);
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let before = h.sync.devices(&ws).await.unwrap();
    h.mdm.remove_device("acme", "150");
    h.advance(TimeDelta::hours(24));
    // The third page panics: two thirds of the fleet listed, enough not to look suspicious.
    let pages = std::sync::atomic::AtomicUsize::new(0);
    let mdm = h.mdm.clone();
    h.mdm.on_call(move |op| {
        if op == Op::ListPage && pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 2 {
            mdm.panic_on("acme", Some(Op::ListPage));
        }
    });
    let run = tokio::spawn({
        let sync = h.sync.clone();
        let ws = ws.clone();
        async move { sync.refresh_due(&ws).await }
    });
    let panic = run.await.unwrap_err();
    assert!(panic.is_panic(), "{panic:?}");
    h.mdm.panic_on("acme", None);
    let after = h.sync.devices(&ws).await.unwrap();
    assert_eq!(after.len(), 150);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.metadata, a.metadata, "{}: same metadata", a.serial_number);
    }
}

#[tokio::test]
async fn the_report_shows_coverage_both_ways() {
    let h = Harness::new();
    let ws = fleet(&h, 10).await;
    h.mdm.set_page_size("acme", 4);
    h.mdm.add_device("acme", "ONLYINMDM1", "x1", "Stray", None);
    h.mdm
        .add_device("acme", "To Be Filled By O.E.M.", "x2", "No serial", None);
    h.sync.add_device(&ws, &serial("ONLYHERE1")).await.unwrap();
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let r = report.refresh.into_report().unwrap();
    assert_eq!(r.strategy, Some(Strategy::Bulk));
    assert_eq!(r.devices_seen, 12);
    assert_eq!(r.matched, 10);
    assert_eq!(
        r.unmatched, 2,
        "a stray MDM device and one without a usable serial"
    );
    assert_eq!(r.not_found, 1);
    assert_eq!(r.errors, 0);
    assert_eq!(r.requests, 3, "12 rows at 4 a page");
    assert_eq!(h.sync.state(&ws).await.unwrap().mdm_device_count, Some(12));
}

#[tokio::test]
async fn refresh_waits_its_turn_and_stops_when_its_lease_is_taken_over() {
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 1;
    let h = Harness::with_config(config);
    let ws = fleet(&h, 2).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    h.advance(TimeDelta::hours(24));

    // While another worker holds the lease: refused, with its expiry.
    h.hold_lease(&ws, "other", TimeDelta::minutes(3)).await;
    assert!(matches!(
        h.sync.refresh_due(&ws).await.unwrap_err(),
        Error::AlreadyRunning { .. }
    ));
    h.advance(TimeDelta::minutes(3));

    // A run that stalls past its lease, which someone else then takes: it stops before writing.
    let gate = h.mdm.block_calls();
    let run = tokio::spawn({
        let sync = h.sync.clone();
        let ws = ws.clone();
        async move { sync.refresh_due(&ws).await }
    });
    while h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    let later = h.advance(TimeDelta::minutes(11));
    h.hold_lease(&ws, "thief", TimeDelta::minutes(10)).await;
    gate.add_permits(100);
    let err = run.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");
    let devices = h.sync.devices(&ws).await.unwrap();
    assert!(
        devices
            .iter()
            .all(|d| d.checked_at < Some(later - TimeDelta::minutes(11))),
        "nothing written after the lease was lost"
    );
}

/// Defect 3 of issue 9: a device the MDM lists twice (offset paging while devices are added) is one device.
#[tokio::test]
async fn a_device_listed_twice_by_offset_paging_is_one_device_not_a_duplicate() {
    let h = Harness::new();
    let ws = fleet(&h, 120).await;
    h.mdm.set_page_size("acme", 50);
    // When the second page is asked for, a device is added at the front: every row shifts by one, so the
    // second page starts with the first page's last row (SER0049) again.
    let pages = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mdm = h.mdm.clone();
    h.mdm.on_call({
        let pages = pages.clone();
        move |op| {
            if op == Op::ListPage && pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                mdm.prepend_device("acme", "NEWMAC001", "999");
            }
        }
    });
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(pages.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(refresh.duplicates, vec![], "one device id is one device");
    assert_eq!(refresh.matched, 120);
    assert_eq!(refresh.devices_seen, 120, "the row read twice counts once");
    assert_eq!(refresh.unmatched, 0);
    assert_eq!(h.device_id(&ws, "SER0049").await.as_deref(), Some("50"));
    assert_eq!(h.sync.state(&ws).await.unwrap().mdm_device_count, Some(120));

    // Two different MDM devices with one serial are still duplicates.
    h.mdm
        .add_device("acme", "SER0007", "other-id", "Impostor", None);
    h.advance(TimeDelta::hours(24));
    let refresh = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(
        refresh.duplicates,
        vec![DuplicateSerial {
            serial_number: serial("SER0007"),
            device_ids: vec!["8".into(), "other-id".into()],
        }]
    );
}

/// Defect 3 of issue 9: an empty listing while the workspace had metadata clears nothing.
#[tokio::test]
async fn a_listing_that_comes_back_empty_keeps_the_metadata_reports_it_and_is_asked_again() {
    let h = Harness::new();
    let ws = fleet(&h, 30).await;
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    assert_eq!(
        report.refresh.into_report().unwrap().strategy,
        Some(Strategy::Bulk)
    );
    assert_eq!(h.sync.state(&ws).await.unwrap().mdm_device_count, Some(30));
    let before = h.sync.devices(&ws).await.unwrap();

    // The MDM answers with an empty (but complete, error-free) listing.
    for id in 1..=30 {
        h.mdm.remove_device("acme", &id.to_string());
    }
    h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!(
        report.suspicious_listing,
        Some(SuspiciousListing::check(0, Some(30), 30).unwrap())
    );
    let suspicious = report.suspicious_listing.as_ref().unwrap();
    assert_eq!(
        (
            suspicious.listed,
            suspicious.last_listed,
            suspicious.devices_with_metadata
        ),
        (0, Some(30), 30)
    );
    assert_eq!((report.matched, report.not_found, report.errors), (0, 0, 0));
    assert!(!report.is_complete());
    assert_eq!(report.still_due(), 30, "asked again on a later run");
    assert_eq!(
        h.sync.devices(&ws).await.unwrap(),
        before,
        "metadata and check times kept, record by record"
    );

    // The MDM recovers: the next run matches everything again.
    for i in 0..30 {
        h.mdm.add_device(
            "acme",
            &format!("SER{i:04}"),
            &(i + 1).to_string(),
            &format!("Mac {i}"),
            None,
        );
    }
    h.advance(TimeDelta::hours(1));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((report.due, report.matched), (30, 30));
    assert!(report.is_complete());

    // An MDM that really was emptied: the second empty listing in a row is believed.
    for id in 1..=30 {
        h.mdm.remove_device("acme", &id.to_string());
    }
    h.advance(TimeDelta::hours(24));
    assert!(h
        .sync
        .refresh_due(&ws)
        .await
        .unwrap()
        .suspicious_listing
        .is_some());
    h.advance(TimeDelta::hours(1));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.suspicious_listing, None);
    assert_eq!(report.not_found, 30);
    assert_eq!(h.device_id(&ws, "SER0000").await, None);
}

#[tokio::test]
async fn a_listing_under_half_the_last_one_is_suspicious_but_small_fleets_may_shrink() {
    let h = Harness::new();
    let ws = fleet(&h, 40).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let before = h.sync.devices(&ws).await.unwrap();
    // 19 of 40 left: under half.
    for id in 20..=40 {
        h.mdm.remove_device("acme", &id.to_string());
    }
    h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    let suspicious = report.suspicious_listing.clone().unwrap();
    assert_eq!((suspicious.listed, suspicious.last_listed), (19, Some(40)));
    // Nothing is cleared: the 19 listed devices were written as they streamed in (same metadata, new
    // check time); the 21 missing ones keep metadata and check time, and stay due.
    let after = h.sync.devices(&ws).await.unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.metadata, a.metadata, "{}", a.serial_number);
    }
    assert_eq!(&after[19..], &before[19..]);
    assert_eq!(
        (report.matched, report.not_found, report.still_due()),
        (19, 0, 21)
    );

    // A fleet under the threshold: losing most of it is believed at once.
    let h = Harness::new();
    let ws = fleet(&h, SHRINK_CHECK_MIN_DEVICES as usize - 1).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    for id in 3..SHRINK_CHECK_MIN_DEVICES {
        h.mdm.remove_device("acme", &id.to_string());
    }
    h.advance(TimeDelta::hours(24));
    let report = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!(report.suspicious_listing, None);
    assert_eq!((report.matched, report.not_found), (2, 17));
}

/// Records, at every multi-device write, how many requests the MDM had received: writes that happen
/// while the listing is still running show a count below the listing's last.
#[derive(Default)]
struct WriteWatch {
    mdm: std::sync::Mutex<Option<std::sync::Arc<common::FakeMdm>>>,
    seen: std::sync::Mutex<Vec<u64>>,
}

impl std::fmt::Debug for WriteWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteWatch")
    }
}

impl StepHook for WriteWatch {
    fn after(&self, step: Step) -> StoreResult<()> {
        if step == Step::ChecksPartlyWritten {
            if let Some(mdm) = self.mdm.lock().unwrap().as_ref() {
                self.seen.lock().unwrap().push(mdm.requests("acme"));
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_bulk_listing_streams_into_the_store_in_batches() {
    let watch = std::sync::Arc::new(WriteWatch::default());
    let hook = watch.clone();
    let h = Harness::with_stores(SyncConfig::default(), move |clock| {
        let store = MemoryStore::with_clock(clock).with_step_hook(hook);
        Stores::from_one(std::sync::Arc::new(store))
    });
    *watch.mdm.lock().unwrap() = Some(h.mdm.clone());
    // 1,200 devices at 100 a page: 12 pages, written 500 devices at a time.
    let ws = fleet(&h, 1200).await;
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(refresh.matched, 1200);
    let total = h.mdm.requests("acme");
    let seen = watch.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1200usize.div_ceil(WRITE_BATCH), "{seen:?}");
    assert!(
        seen[0] + 6 <= total,
        "the first batch was written after {} of {total} requests: the listing was collected first",
        seen[0]
    );
}

#[tokio::test]
async fn a_duplicate_whose_second_row_comes_after_a_written_batch_is_still_unmatched() {
    let h = Harness::new();
    let ws = fleet(&h, 700).await;
    // The second device with SER0000 is listed last, after the first batch (with SER0000) was written.
    h.mdm
        .add_device("acme", "SER0000", "twin", "Twin Mac", None);
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(
        refresh.duplicates,
        vec![DuplicateSerial {
            serial_number: serial("SER0000"),
            device_ids: vec!["1".into(), "twin".into()],
        }]
    );
    assert_eq!((refresh.matched, refresh.not_found), (699, 0));
    let view = h
        .sync
        .device(&ws, &serial("SER0000"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.metadata, None, "never matched to one of the two");
    assert_eq!(view.checked_at, Some(h.now()));
}
