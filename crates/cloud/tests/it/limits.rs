//! The login and registration limits under concurrency, on SQLite and PostgreSQL.
//!
//! An outside probe beat the login limit by sending guesses at once (50 simultaneous
//! guesses from one address were all checked), spread guesses over addresses, locked an
//! innocent user out of a shared address, and got a 500 "database is locked" from 100
//! simultaneous logins. Each of those is a test here, through the real service on loopback.

use crate::common;

use common::{Backend, TestCloud};
use futures::future::join_all;
use serde_json::json;

/// The password [`TestCloud::user`] registers with.
const RIGHT: &str = "correct horse";

/// One login; `forwarded` goes in `X-Forwarded-For`. Returns the status.
async fn login(app: &TestCloud, user: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let mut rb = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"username": user, "password": password}));
    if let Some(f) = forwarded {
        rb = rb.header("x-forwarded-for", f);
    }
    rb.send().await.expect("login").status().as_u16()
}

/// How many of `statuses` are `code`.
fn count(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|s| **s == code).count()
}

async fn concurrent_guesses_from_one_address(b: Backend) {
    let app = TestCloud::spawn(b).await;
    app.user("alice").await;
    app.user("bob").await;
    let guesses = (0..50).map(|i| {
        let app = &app;
        async move { login(app, "bob", &format!("guess {i:03}"), None).await }
    });
    let statuses = join_all(guesses).await;
    let (checked, limited) = (count(&statuses, 401), count(&statuses, 429));
    assert_eq!(
        checked + limited,
        50,
        "only 401 and 429 answers: {statuses:?}"
    );
    assert!(
        (1..=eyrie_cloud::ratelimit::PAIR.max as usize).contains(&checked),
        "{checked} of 50 simultaneous guesses were checked"
    );
    // The attacker's address is shared (a NAT, a family): alice still gets in there.
    assert_eq!(login(&app, "alice", RIGHT, None).await, 200);
    // … while bob's own account is held for this address until the window ends.
    assert_eq!(login(&app, "bob", RIGHT, None).await, 429);
}
both_backends!(concurrent_guesses_from_one_address);

async fn guesses_spread_over_addresses(b: Backend) {
    let app = TestCloud::spawn_with(b, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.user("bob").await;
    let guesses = (0..100).map(|i| {
        let app = &app;
        async move {
            let from = format!("198.51.100.{}", i + 1);
            login(app, "bob", &format!("guess {i:03}"), Some(&from)).await
        }
    });
    let statuses = join_all(guesses).await;
    let checked = count(&statuses, 401);
    assert_eq!(checked + count(&statuses, 429), 100, "{statuses:?}");
    assert!(
        checked <= eyrie_cloud::ratelimit::ACCOUNT.max as usize,
        "{checked} of 100 guesses from 100 addresses were checked"
    );
}
both_backends!(guesses_spread_over_addresses);

/// Behind a trusted proxy the client is the `X-Forwarded-For` address; from anyone else
/// the header is ignored (it would let a guesser pick a fresh address per guess).
async fn forwarded_for_only_from_trusted_proxies(b: Backend) {
    let proxied = TestCloud::spawn_with(b, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    proxied.user("carol").await;
    for _ in 0..5 {
        assert_eq!(
            login(&proxied, "carol", "wrong one", Some("203.0.113.7")).await,
            401
        );
    }
    assert_eq!(
        login(&proxied, "carol", RIGHT, Some("203.0.113.7")).await,
        429
    );
    // Another client behind the same proxy (carol at home) is not locked out.
    assert_eq!(
        login(&proxied, "carol", RIGHT, Some("192.0.2.1, 203.0.113.8")).await,
        200
    );

    let direct = TestCloud::spawn(b).await;
    direct.user("carol").await;
    for _ in 0..5 {
        assert_eq!(
            login(&direct, "carol", "wrong one", Some("203.0.113.7")).await,
            401
        );
    }
    assert_eq!(
        login(&direct, "carol", RIGHT, Some("203.0.113.8")).await,
        429,
        "X-Forwarded-For from an untrusted peer is ignored"
    );
}
both_backends!(forwarded_for_only_from_trusted_proxies);

async fn hundred_simultaneous_logins(b: Backend) {
    // Production's Argon2 cost: logins overlap as long as they do in a real service.
    let app = TestCloud::spawn_with(b, |c| c.password = Default::default()).await;
    let names: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    for n in &names {
        app.user(n).await;
    }
    let logins = (0..100).map(|i| {
        let (app, name) = (&app, &names[i % names.len()]);
        async move {
            let password = if i % 2 == 0 { RIGHT } else { "wrong one" };
            login(app, name, password, None).await
        }
    });
    let statuses = join_all(logins).await;
    assert!(
        statuses.iter().all(|s| *s < 500),
        "server errors: {statuses:?}"
    );
    assert!(count(&statuses, 200) > 0, "{statuses:?}");
}
both_backends!(hundred_simultaneous_logins);

async fn registration_flood(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let max = eyrie_cloud::ratelimit::REGISTER.max as usize;
    let tries = (0..max + 20).map(|i| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}/api/v1/accounts", app.base))
                .json(&json!({"username": format!("flood{i}"), "password": RIGHT}))
                .send()
                .await
                .expect("register");
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (i, status, retry, body)
        }
    });
    let answers = join_all(tries).await;
    let created: Vec<_> = answers.iter().filter(|a| a.1 == 201).collect();
    assert!(
        (1..=max).contains(&created.len()),
        "{} of {} registrations from one address",
        created.len(),
        max + 20
    );
    for (i, status, retry, body) in &answers {
        if *status != 201 {
            assert_eq!(*status, 429, "{body}");
            assert!(retry, "429 carries Retry-After");
            assert_eq!(body["code"], "too_many_requests");
            // Nothing was made for a refused registration.
            let name = format!("flood{i}");
            assert!(
                eyrie_cloud::db::accounts::user_by_name(&app.state.db, &name)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}
both_backends!(registration_flood);
