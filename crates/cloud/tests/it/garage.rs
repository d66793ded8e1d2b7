//! The storage flows against a real Garage node (and PostgreSQL), presigned PUT/GET
//! included: what passes on the embedded store must pass on a real one. Skipped loudly
//! when the `garage` binary is absent.

use crate::common;

use std::time::Duration;

use common::{Backend, TestCloud, flows, garage};
use eyrie_cloud::StoreConfig;

macro_rules! on_garage {
    ($name:ident, $ttl:expr, |$app:ident| $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(s3) = garage() else { return };
            let $app = TestCloud::spawn_with(Backend::Postgres, move |c| {
                c.store = StoreConfig::External(s3);
                c.presign_ttl = $ttl;
            })
            .await;
            $body.await;
        }
    };
}

on_garage!(recordings_on_garage, Duration::from_secs(300), |app| {
    flows::recordings(&app)
});
on_garage!(clips_on_garage, Duration::from_secs(300), |app| {
    flows::clips(&app, true)
});
on_garage!(snapshots_on_garage, Duration::from_secs(300), |app| {
    flows::snapshots(&app)
});
// Garage signs and checks presigned URLs to the second, so a 1-s TTL leaves anything
// from 0 to 1 s for the upload PUT as well (a loaded machine missed it: 400): 3 s.
on_garage!(expired_url_on_garage, Duration::from_secs(3), |app| {
    flows::expired_url(&app, Duration::from_secs(3))
});
