//! The cloud's black-box tests run on the workspace test kit (`eyrie-testkit`): the real
//! service on random loopback ports, on SQLite or a fresh PostgreSQL database, with the
//! embedded store or a real Garage node. This module names what they use of it and holds
//! the flows several tests run on more than one backend.
#![allow(dead_code, unused_imports)]

pub use eyrie_protocol::clock::unix_ms;
pub use eyrie_testkit::cloud::{Reply, sha256};
pub use eyrie_testkit::garage::settings as garage;
pub use eyrie_testkit::postgres::database as pg_database;
pub use eyrie_testkit::{Backend, TestCloud};

/// Write both the SQLite and the PostgreSQL variant of a test.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await;
            }
        }
    };
}

pub mod flows;
