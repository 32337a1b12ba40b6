//! A PostgreSQL database of its own for each test, and events to store.
//!
//! The server comes from `SONIOX_TEST_POSTGRES_URL` (`cargo xtask ci` sets it when a server
//! listens on 127.0.0.1:5432). Without it the PostgreSQL tests fail under CI (`CI=true`) and
//! are skipped, with one note per test binary, elsewhere.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

#[cfg(feature = "postgres")]
use std::{
    io::Write as _,
    sync::{
        Once,
        atomic::{AtomicU32, Ordering},
    },
};

use soniox_types::{TranscriptionId, WebhookEvent, WebhookStatus};

#[cfg(feature = "postgres")]
pub(crate) const URL_VARIABLE: &str = "SONIOX_TEST_POSTGRES_URL";

pub(crate) mod http;

/// `suite!(module, backend; behaviour, ...)`: a module of tests, one per behaviour, each
/// calling the test file's `behaviour(&backend)` with a backend from `backend` (an async
/// `Option`, `None` skipping the test, as [`TestDb::create`] does without a server).
#[allow(unused_macros, reason = "not every test binary has suites")]
macro_rules! suite {
    ($module:ident, $backend:expr; $($behaviour:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let Some(backend) = $backend.await else {
                        return;
                    };
                    super::$behaviour(&backend).await;
                }
            )*
        }
    };
}

#[allow(unused_imports, reason = "not every test binary has suites")]
pub(crate) use suite;

pub(crate) fn event(id: &str) -> WebhookEvent {
    WebhookEvent::new(TranscriptionId::new(id), WebhookStatus::Completed)
}

/// The server's URL, or `None` when the PostgreSQL tests are to be skipped.
#[cfg(feature = "postgres")]
pub(crate) fn server_url() -> Option<String> {
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{URL_VARIABLE} is not set under CI=true: the PostgreSQL tests must run in CI \
         (cargo xtask ci sets it when a server listens on 127.0.0.1:5432)"
    );
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        // Straight to the terminal: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no PostgreSQL at {URL_VARIABLE} (set it to run these tests)"
        );
    });
    None
}

/// A round-robin TCP balancer in front of `backends`: each connection goes to the next
/// backend that accepts it, as a load balancer retrying a refused connection on the next
/// upstream does. Returns its address.
pub(crate) async fn balancer(backends: Vec<std::net::SocketAddr>) -> std::net::SocketAddr {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let start = next.fetch_add(1, Ordering::Relaxed);
            let backends = backends.clone();
            tokio::spawn(async move {
                for offset in 0..backends.len() {
                    let backend = backends[(start + offset) % backends.len()];
                    if let Ok(mut outbound) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A SQLite file in a temporary directory of its own, for one test.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
pub(crate) struct SqliteFile(tempfile::TempDir);

#[cfg(feature = "sqlite")]
impl SqliteFile {
    /// A new directory; an `Option` like [`TestDb::create`], so that suites take both alike.
    pub(crate) async fn create() -> Option<Self> {
        Some(Self(tempfile::tempdir().expect("a temporary directory")))
    }

    /// A store on the file (again, for a restart).
    pub(crate) async fn open_store(&self) -> soniox_store::SqliteStore {
        soniox_store::SqliteStore::open(self.0.path().join("events.db"))
            .await
            .expect("the database opens")
    }
}

/// Another process's write transaction on the SQLite file at `path`: takes the file's lock,
/// returns once it holds it, and commits when `until` returns (on a thread of its own, which
/// the returned handle joins).
#[cfg(feature = "sqlite")]
pub(crate) fn hold_lock(
    path: &std::path::Path,
    until: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    // Through soniox-store: the tracker's tests share this module without depending on
    // rusqlite themselves.
    use soniox_store::rusqlite::Connection;

    let path = path.to_owned();
    let (locked, lock_held) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let connection = Connection::open(path).expect("open");
        connection.execute_batch("BEGIN IMMEDIATE").expect("lock");
        locked.send(()).expect("the test waits");
        until();
        connection.execute_batch("COMMIT").expect("unlock");
    });
    lock_held.recv().expect("the lock is taken");
    holder
}

/// A database created for one test and dropped (with its connections) when this is.
#[cfg(feature = "postgres")]
#[derive(Debug)]
pub(crate) struct TestDb {
    server: String,
    name: String,
    /// The URL of the test's database, on the same server with the same credentials.
    pub(crate) url: String,
}

#[cfg(feature = "postgres")]
impl TestDb {
    /// A fresh database, or `None` when the PostgreSQL tests are skipped.
    pub(crate) async fn create() -> Option<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = server_url()?;
        let name = format!(
            "soniox_test_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        );
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        let url = with_database(&server, &name);
        Some(Self { server, name, url })
    }

    /// A store on the test's database, with a pool of its own each time: a restarted
    /// process, or another replica.
    pub(crate) async fn open_store(&self) -> soniox_store::PostgresStore {
        soniox_store::PostgresStore::connect(&self.url)
            .await
            .expect("the database connects")
    }

    /// Runs `sql` in the test's database.
    pub(crate) async fn execute(&self, sql: &str) {
        admin(&self.url, sql).await;
    }

    /// Sets a parameter's default for the connections made to the test's database from now
    /// on: `setting` is `NAME = VALUE`.
    pub(crate) async fn set_default(&self, setting: &str) {
        admin(
            &self.server,
            &format!("ALTER DATABASE {} SET {setting}", self.name),
        )
        .await;
    }

    /// Drops the database now, terminating every connection to it.
    pub(crate) async fn drop_now(&self) {
        admin(&self.server, &self.drop_statement()).await;
    }

    fn drop_statement(&self) -> String {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
    }
}

#[cfg(feature = "postgres")]
impl Drop for TestDb {
    fn drop(&mut self) {
        let server = self.server.clone();
        let statement = self.drop_statement();
        // A runtime of its own on a thread of its own: this may run inside the test's
        // runtime, which cannot block on a future.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(admin(&server, &statement));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}

/// Runs `sql` on its own connection to `url`.
#[cfg(feature = "postgres")]
async fn admin(url: &str, sql: &str) {
    use soniox_store::deadpool_postgres::tokio_postgres;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {URL_VARIABLE}: {error}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|error| panic!("`{sql}` failed: {error}"));
    drop(client);
    let _ = connection.await;
}

/// `url` with its database replaced by `name`.
#[cfg(feature = "postgres")]
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, ""), |(base, query)| (base, query));
    let host_start = base.find("://").map_or(0, |scheme| scheme + 3);
    let authority = base[host_start..]
        .find('/')
        .map_or(base, |path| &base[..host_start + path]);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{authority}/{name}{query}")
}
