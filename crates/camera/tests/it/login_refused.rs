//! A broker that refuses the login (mosquitto with the documented password file, asked
//! with a wrong password: CONNACK "not authorised") is not a dropped network: the viewer
//! fails at once saying the broker refused the login — not "offline", not a timeout —
//! and the camera says so in its log and knocks again only every few seconds instead of
//! hammering the broker. A counting TCP relay in front of the broker sees each attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eyrie_client::live::{ViewerError, ViewerEvent};
use eyrie_client::mqtt_link::LOGIN_REFUSED;
use eyrie_protocol::signalling::Stream;

use crate::common::*;

/// A loopback relay to `port` counting the connections made through it.
async fn counting_relay(port: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut broker) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                }
            });
        }
    });
    (relay_port, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_said_and_not_hammered() {
    init_logs();
    let broker = broker_with_logins();
    let (relay, attempts) = counting_relay(broker.port).await;
    let wrong = |user: &str| {
        let mut c = broker.connection(user, &prefix());
        c.port = relay;
        c.password = "not-the-password".into();
        c
    };

    // The viewer: a signalling error naming the refusal, well before its answer timeout.
    let started = Instant::now();
    let (_v, mut rx, _) = viewer(
        ticket(wrong("viewer-1"), SECRET, now_s() + 60),
        Stream::Sd,
        false,
    );
    let ev = wait_event(&mut rx, Duration::from_secs(12), |e| {
        matches!(e, ViewerEvent::Error(_))
    })
    .await;
    match ev {
        Some(ViewerEvent::Error(ViewerError::Signalling(why))) => {
            assert!(why.starts_with(LOGIN_REFUSED), "{why}");
            eprintln!("viewer: {why} after {:?}", started.elapsed());
        }
        other => panic!("the viewer should say the broker refused the login: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(_v);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The camera: over 7 s, the first attempt and one retry after 5 s (a network error's
    // back-off, 200 ms doubling, would have knocked six times).
    let before = attempts.load(Ordering::SeqCst);
    let cam = camera(wrong(DEVICE), |_| {});
    tokio::time::sleep(Duration::from_secs(7)).await;
    let knocked = attempts.load(Ordering::SeqCst) - before;
    eprintln!("camera: {knocked} login attempts in 7 s");
    assert!(
        (1..=2).contains(&knocked),
        "{knocked} attempts in 7 s with a refused login"
    );
    assert_eq!(cam.live().session_count(), 0);
}
