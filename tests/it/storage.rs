//! Storage conformance: the same suite against both `Store` implementations, below the API.

use std::time::Duration;

use accord::storage::{now_millis, ReferenceEdge, SchemaRecord, VersionRecord};
use accord::types::{QualifiedSubject, SchemaType};

use crate::helpers::StoreFixture;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::{Backend, StoreFixture};
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { super::$name(StoreFixture::new(Backend::Postgres).await).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::$name(StoreFixture::new(Backend::Sqlite).await).await }
            }
        )*
    };
}

conformance!(
    ids_and_schemas,
    versions_and_deletes,
    references_and_settings,
    write_sessions_serialise_and_roll_back,
    shared_lock_waits_for_writer,
);

fn subject(name: &str) -> QualifiedSubject {
    QualifiedSubject::parse(name).unwrap()
}

fn schema(id: i64, text: &str) -> SchemaRecord {
    SchemaRecord {
        context: ".".into(),
        id,
        schema_type: SchemaType::Avro,
        schema: text.into(),
        references: vec![],
        metadata: Some(serde_json::json!({"properties": {"k": "v"}})),
        rule_set: None,
        fingerprint: format!("fp-{text}"),
        content_hash: format!("ch-{text}"),
        created_at: now_millis(),
    }
}

fn version(s: &QualifiedSubject, v: i32, id: i64) -> VersionRecord {
    VersionRecord {
        subject: s.clone(),
        version: v,
        schema_id: id,
        deleted: false,
        created_at: now_millis(),
    }
}

async fn ids_and_schemas(fx: StoreFixture) {
    let mut w = fx.store.write(&subject("a")).await.unwrap();
    assert_eq!(w.allocate_id(".").await.unwrap(), 1);
    assert_eq!(w.allocate_id(".").await.unwrap(), 2);
    assert_eq!(
        w.allocate_id(".other").await.unwrap(),
        1,
        "id spaces are per context"
    );
    assert!(w.insert_schema(&schema(1, "\"int\""), &[]).await.unwrap());
    // The same id, or the same fingerprint, is refused without error.
    assert!(!w.insert_schema(&schema(1, "\"long\""), &[]).await.unwrap());
    let mut dup = schema(5, "\"int\"");
    dup.id = 5;
    assert!(!w.insert_schema(&dup, &[]).await.unwrap());
    w.reserve_id(".", 100).await.unwrap();
    assert_eq!(w.allocate_id(".").await.unwrap(), 101);
    w.reserve_id(".", 50).await.unwrap();
    assert_eq!(
        w.allocate_id(".").await.unwrap(),
        102,
        "reserving lower never goes back"
    );
    w.commit().await.unwrap();

    let mut r = fx.store.read().await.unwrap();
    let got = r.schema_by_id(".", 1).await.unwrap().unwrap();
    assert_eq!(got, schema(1, "\"int\"").clone_with_ts(got.created_at));
    assert_eq!(
        r.schema_by_fingerprint(".", "fp-\"int\"")
            .await
            .unwrap()
            .map(|s| s.id),
        Some(1)
    );
    assert!(r.schema_by_id(".", 2).await.unwrap().is_none());
    assert!(r.schema_by_id(".other", 1).await.unwrap().is_none());
}

trait WithTs {
    fn clone_with_ts(self, ts: i64) -> Self;
}
impl WithTs for SchemaRecord {
    fn clone_with_ts(mut self, ts: i64) -> Self {
        self.created_at = ts;
        self
    }
}

async fn versions_and_deletes(fx: StoreFixture) {
    let s = subject("orders");
    let mut w = fx.store.write(&s).await.unwrap();
    for (id, text) in [(1, "\"int\""), (2, "\"long\"")] {
        w.insert_schema(&schema(id, text), &[]).await.unwrap();
    }
    w.insert_version(&version(&s, 1, 1)).await.unwrap();
    w.insert_version(&version(&s, 2, 2)).await.unwrap();
    w.insert_version(&version(&subject("copy"), 1, 1))
        .await
        .unwrap();
    w.commit().await.unwrap();
    // A version number is unique per subject. (After an error a session is finished: on
    // PostgreSQL the transaction is aborted, so this one is only dropped.)
    let mut w = fx.store.write(&s).await.unwrap();
    assert!(w.insert_version(&version(&s, 2, 1)).await.is_err());
    drop(w);

    let mut w = fx.store.write(&s).await.unwrap();
    assert_eq!(
        w.versions(&s)
            .await
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        w.versions_with_content(&s, "ch-\"long\"")
            .await
            .unwrap()
            .len(),
        1
    );
    w.soft_delete(&s, &[1]).await.unwrap();
    let vs = w.versions(&s).await.unwrap();
    assert!(vs[0].deleted && !vs[1].deleted);
    let subjects = w.subjects(None).await.unwrap();
    let orders = subjects.iter().find(|x| x.subject == s).unwrap();
    assert_eq!((orders.live_versions, orders.deleted_versions), (1, 1));
    assert_eq!(w.usages(".", 1).await.unwrap().len(), 2);
    w.hard_delete(&s, &[1]).await.unwrap();
    assert!(
        !w.delete_schema_if_unused(".", 1).await.unwrap(),
        "still used by 'copy'"
    );
    w.hard_delete(&subject("copy"), &[1]).await.unwrap();
    assert!(w.delete_schema_if_unused(".", 1).await.unwrap());
    w.commit().await.unwrap();
    let mut r = fx.store.read().await.unwrap();
    assert!(r.schema_by_id(".", 1).await.unwrap().is_none());
    assert_eq!(r.all_versions(None).await.unwrap().len(), 1);
    assert_eq!(r.contexts().await.unwrap(), vec![".".to_owned()]);
}

async fn references_and_settings(fx: StoreFixture) {
    let (a, b) = (subject("addr"), subject("order"));
    let mut w = fx.store.write(&b).await.unwrap();
    w.insert_schema(&schema(1, "A"), &[]).await.unwrap();
    w.insert_version(&version(&a, 1, 1)).await.unwrap();
    let edge = ReferenceEdge {
        name: "acme.A".into(),
        target: a.clone(),
        version: 1,
    };
    w.insert_schema(&schema(2, "B"), &[edge]).await.unwrap();
    w.insert_version(&version(&b, 1, 2)).await.unwrap();
    assert_eq!(w.referrers(&a, 1).await.unwrap(), vec![(2, true)]);
    w.soft_delete(&b, &[1]).await.unwrap();
    assert_eq!(w.referrers(&a, 1).await.unwrap(), vec![(2, false)]);
    w.hard_delete(&b, &[1]).await.unwrap();
    w.delete_schema_if_unused(".", 2).await.unwrap();
    assert!(
        w.referrers(&a, 1).await.unwrap().is_empty(),
        "edges go with their schema"
    );

    w.put_config("__GLOBAL", r#"{"compatibilityLevel":"FULL"}"#)
        .await
        .unwrap();
    w.put_config("__GLOBAL", r#"{"compatibilityLevel":"NONE"}"#)
        .await
        .unwrap();
    w.put_config(":.:order", r#"{"normalize":true}"#)
        .await
        .unwrap();
    let mut got = w
        .configs(&["__GLOBAL".into(), ":.:".into(), ":.:order".into()])
        .await
        .unwrap();
    got.sort();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        (
            "__GLOBAL".to_owned(),
            r#"{"compatibilityLevel":"NONE"}"#.to_owned()
        )
    );
    assert!(w.delete_config(":.:order").await.unwrap());
    assert!(!w.delete_config(":.:order").await.unwrap());
    w.put_mode(":.:order", "READONLY").await.unwrap();
    w.put_mode(":.x:y", "IMPORT").await.unwrap();
    assert_eq!(
        w.mode(":.:order").await.unwrap().as_deref(),
        Some("READONLY")
    );
    assert_eq!(w.modes_with_prefix(":.x:").await.unwrap().len(), 1);
    assert!(w.delete_mode(":.:order").await.unwrap());
    w.commit().await.unwrap();
}

async fn write_sessions_serialise_and_roll_back(fx: StoreFixture) {
    let s = subject("locked");
    // A dropped write session leaves nothing behind.
    {
        let mut w = fx.store.write(&s).await.unwrap();
        w.insert_schema(&schema(1, "X"), &[]).await.unwrap();
        w.insert_version(&version(&s, 1, 1)).await.unwrap();
    }
    let mut r = fx.store.read().await.unwrap();
    assert!(r.versions(&s).await.unwrap().is_empty());
    assert!(r.schema_by_id(".", 1).await.unwrap().is_none());
    drop(r);

    // A second writer of the same subject waits for the first to commit, then sees its rows.
    let mut first = fx.store.write(&s).await.unwrap();
    let store = fx.store.clone();
    let s2 = s.clone();
    let second = tokio::spawn(async move {
        let mut w = store.write(&s2).await.unwrap();
        let seen = w.versions(&s2).await.unwrap().len();
        w.commit().await.unwrap();
        seen
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second writer must wait for the lock"
    );
    first.insert_schema(&schema(1, "X"), &[]).await.unwrap();
    first.insert_version(&version(&s, 1, 1)).await.unwrap();
    first.commit().await.unwrap();
    assert_eq!(
        second.await.unwrap(),
        1,
        "the second writer sees the first one's version"
    );
}

/// A registration that references subject Y holds Y shared: it must wait while a writer of Y
/// (a delete) is in flight, and then see what that writer committed.
async fn shared_lock_waits_for_writer(fx: StoreFixture) {
    let (x, y) = (subject("x"), subject("y"));
    let mut deleter = fx.store.write(&y).await.unwrap();
    deleter.insert_schema(&schema(1, "Y"), &[]).await.unwrap();
    deleter.insert_version(&version(&y, 1, 1)).await.unwrap();
    let store = fx.store.clone();
    let (x2, y2) = (x.clone(), y.clone());
    let registrar = tokio::spawn(async move {
        let mut w = store.write(&x2).await.unwrap();
        w.lock_shared(&y2).await.unwrap();
        let seen = w.versions(&y2).await.unwrap().len();
        w.commit().await.unwrap();
        seen
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !registrar.is_finished(),
        "the shared holder must wait for the writer of y"
    );
    deleter.commit().await.unwrap();
    assert_eq!(registrar.await.unwrap(), 1);
}
