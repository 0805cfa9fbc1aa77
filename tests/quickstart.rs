//! The quickstart persists: a second run against the same database finds every workspace connected and
//! asks the MDM nothing.

#[path = "../examples/quickstart.rs"]
#[allow(dead_code)]
mod quickstart;

use mdmkit::sync::{Stores, Vault};
use mdmkit_sqlx::testing::{TempSqlite, TestSchema};

const KEY: &str = "quickstart-test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Six consecutive free ports on loopback (bound and released; good enough for a test).
fn free_port_block() -> u16 {
    // Tests of this file run at once: each starts its search elsewhere.
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let offset = NEXT.fetch_add(1_000, std::sync::atomic::Ordering::SeqCst);
    let start = 20_000 + (std::process::id() % 20_000) as u16 + offset;
    (0..2_000u16)
        .map(|i| start.wrapping_add(i.wrapping_mul(11)) % 40_000 + 20_000)
        .find(|base| (0..6).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()))
        .expect("six free consecutive ports")
}

async fn run_twice(open: impl Fn() -> futures::future::BoxFuture<'static, Stores>) {
    let port = free_port_block();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let mut out = Vec::new();
        let requests = quickstart::run(
            quickstart::Setup {
                stores: open().await,
                vault: Vault::from_key_list(KEY).unwrap(),
                database: "test".into(),
                sandbox_port: port,
            },
            &mut out,
        )
        .await
        .unwrap();
        outputs.push((requests, String::from_utf8(out).unwrap()));
    }
    let (first_requests, first) = &outputs[0];
    let (second_requests, second) = &outputs[1];
    assert!(*first_requests > 0);
    assert_eq!(first.matches("✓ connected").count(), 6, "{first}");
    assert_eq!(first.matches("✗ wrong credentials refused").count(), 6);
    assert!(
        first.ends_with(&format!("MDM requests: {first_requests}\n")),
        "{first}"
    );

    assert_eq!(*second_requests, 0, "{second}");
    assert_eq!(second.matches("✓ already connected").count(), 6, "{second}");
    assert!(!second.contains("wrong credentials"));
    assert!(
        second.contains("Scheduler: 0 of 6 workspaces had something due"),
        "{second}"
    );
    assert!(second.ends_with("MDM requests: 0\n"), "{second}");
    // The same devices, names, links and groups as the first run showed, read from the store.
    let listing = |text: &str| {
        text.lines()
            .filter(|l| l.contains("View on") || l.contains("Managed by"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(!listing(first).is_empty());
    assert_eq!(listing(first), listing(second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_sqlite_file_asks_the_mdm_nothing() {
    let db = TempSqlite::new().unwrap();
    let url = db.url();
    run_twice(move || {
        let url = url.clone();
        Box::pin(async move { mdmkit_sqlx::open(&url).await.unwrap() })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_postgres_schema_asks_the_mdm_nothing() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let db = std::sync::Arc::new(db);
    run_twice(move || {
        let db = db.clone();
        Box::pin(async move { db.open().await.stores() })
    })
    .await;
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn the_database_comes_from_the_flag_then_database_url_then_a_sqlite_file() {
    use quickstart::{parse_args, Args};
    let env = Some("postgres://env@db.internal/test".to_owned());
    let run = |args: &[&str], env: Option<String>| parse_args(strings(args), env).unwrap();
    assert_eq!(
        run(
            &["--database-url", "postgres://flag@127.0.0.1/test"],
            env.clone()
        ),
        Args::Run {
            database_url: Some("postgres://flag@127.0.0.1/test".to_owned()),
            sandbox_port: 47_310,
        },
        "the flag wins over DATABASE_URL"
    );
    assert_eq!(
        run(&["--sandbox-port", "41000"], env.clone()),
        Args::Run {
            database_url: env,
            sandbox_port: 41_000,
        }
    );
    assert_eq!(
        run(&[], None),
        Args::Run {
            database_url: None,
            sandbox_port: 47_310,
        }
    );
    assert_eq!(run(&["--help"], None), Args::Help);
    for wrong in [
        &["--database-url"][..],
        &["--sandbox-port", "x"],
        &["--what"],
    ] {
        assert!(parse_args(strings(wrong), None).is_err(), "{wrong:?}");
    }
}

#[test]
fn the_database_is_named_without_its_credentials() {
    let dir = std::path::Path::new("/tmp/qs");
    let (url, shown) = quickstart::database_target(
        Some("postgres://admin:s3cret@db.internal:5433/fleet?password=other".to_owned()),
        dir,
    );
    assert_eq!(
        url,
        "postgres://admin:s3cret@db.internal:5433/fleet?password=other"
    );
    assert_eq!(
        shown,
        "PostgreSQL at db.internal:5433/fleet (schema mdmkit)"
    );
    let (url, shown) = quickstart::database_target(None, dir);
    assert_eq!(url, "sqlite:///tmp/qs/mdmkit.db");
    assert_eq!(shown, "SQLite file /tmp/qs/mdmkit.db");
}
