//! The storage suite against PostgreSQL: a schema of its own per case on `MDMKIT_TEST_DATABASE_URL`.

use mdmkit_sqlx::testing::TestSchema;

async fn postgres() -> Option<TestSchema> {
    TestSchema::create().await
}

mdmkit_sync::storage_suite_tests!(postgres);
