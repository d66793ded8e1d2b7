//! TLS on the cloud and how clients come to trust it (`docs/api.md`, "TLS and the cloud
//! link"): the real service with its own CA, clients built from the cloud link, the pin
//! checked, the plain rule applied before anything is sent, the CA kept across restarts,
//! a certificate the user gives, presigned URLs and broker addresses that follow the host
//! the client used, and `mqtts` through the embedded broker.

use std::time::Duration;

use eyrie_client::api::{ApiClient, ApiError};
use eyrie_client::mqtt_link::{self, LinkEvent, LinkOptions};
use eyrie_cloud::config::{Config, TlsMode};
use eyrie_cloud::crypto::PasswordParams;
use eyrie_protocol::trust::{CaPin, CloudLink, TrustError};

struct Cloud {
    link: CloudLink,
    api_addr: std::net::SocketAddr,
    stop: eyrie_cloud::startup::StopHandle,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::embedded(dir);
    c.password = PasswordParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };
    c
}

async fn start(c: Config) -> Cloud {
    let app = eyrie_cloud::Application::build(c)
        .await
        .expect("cloud starts");
    let link = app.cloud_link().expect("a TLS cloud has a link");
    let api_addr = app.api_addr();
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    Cloud {
        link,
        api_addr,
        stop,
    }
}

fn tls_on(dir: &std::path::Path) -> Config {
    let mut c = config(dir);
    c.tls.mode = TlsMode::On;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_the_link_trusts_the_cloud_and_only_that_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(tls_on(dir.path())).await;
    let link = cloud.link.to_string();
    assert!(link.starts_with("https://127.0.0.1:"), "{link}");
    assert!(link.contains("#ca=sha256:"), "{link}");

    // The link: the pinned CA is fetched, checked and trusted for the API.
    let api = ApiClient::new(link.clone());
    api.register("ann", "correct horse battery").await.unwrap();
    let login = api.login("ann", "correct horse battery").await.unwrap();
    assert!(!login.token.is_empty());
    let pem = api.ca_pem().await.unwrap().expect("the pinned CA");
    assert_eq!(CaPin::of_pem(&pem).unwrap(), cloud.link.ca_pin.unwrap());

    // A wrong pin: refused before any secret goes out.
    let wrong = CloudLink::new(cloud.link.base(), Some(CaPin([9; 32]))).unwrap();
    let err = ApiClient::new(wrong.to_string())
        .login("ann", "correct horse battery")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Trust(TrustError::PinMismatch { .. })),
        "{err:?}"
    );

    // No pin: the system's roots do not know the cloud's CA.
    let err = ApiClient::new(cloud.link.base())
        .health()
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err:?}");

    // Plain HTTP to the TLS port does not get an answer either.
    let plain = format!("http://{}", cloud.api_addr);
    assert!(ApiClient::new(plain).health().await.is_err());
}

#[tokio::test]
async fn plain_http_and_mqtt_off_loopback_are_refused_before_sending() {
    // 0.0.0.0 is not a loopback address, so the rule refuses it; were the rule broken,
    // the connection would still stay on this machine (Linux takes 0.0.0.0 as a local
    // address) and fail as a transport error, not as a refusal.
    let t = std::time::Instant::now();
    let err = ApiClient::new("http://0.0.0.0:9")
        .login("ann", "secret")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Trust(TrustError::Plain { .. })),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(1));

    let conn = eyrie_protocol::api::MqttConnection {
        host: "0.0.0.0".into(),
        port: 9,
        tls: false,
        username: "u".into(),
        password: "p".into(),
        client_id: "c".into(),
        topic_prefix: "eyrie/x".into(),
    };
    let err = mqtt_link::start(&conn, LinkOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("refusing plain MQTT"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_survives_a_restart_and_tls_off_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(tls_on(dir.path())).await;
    let pin = first.link.ca_pin;
    drop(first);
    let second = start(tls_on(dir.path())).await;
    assert_eq!(second.link.ca_pin, pin, "the CA is kept in the data dir");
    let key = dir.path().join("tls/ca-key.pem");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut c = config(dir.path());
    c.listen = "0.0.0.0:0".parse().unwrap();
    c.tls.mode = TlsMode::Off;
    let err = eyrie_cloud::Application::build(c)
        .await
        .err()
        .expect("plain off loopback is refused");
    assert!(err.to_string().contains("in the clear"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_and_the_broker_are_https_for_the_public_host() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(tls_on(dir.path())).await;
    let port = cloud.api_addr.port();
    // The same cloud reached by another name: "localhost" instead of 127.0.0.1.
    let pin = cloud.link.ca_pin;
    let by_name = CloudLink::new(&format!("https://localhost:{port}"), pin).unwrap();
    // Bound to one address, that address is what clients are told, whatever name they
    // used (bound to 0.0.0.0 it is the name they used: tests/lan_three_hosts.rs).
    let host = "127.0.0.1".to_owned();
    for link in [cloud.link.clone(), by_name] {
        let api = ApiClient::new(link.to_string());
        let name = format!("u{}", rand::random::<u32>());
        api.register(&name, "correct horse battery").await.unwrap();
        let user = api.with_token(
            api.login(&name, "correct horse battery")
                .await
                .unwrap()
                .token,
        );
        let created = user.create_device("porch").await.unwrap();

        // A device uploads a snapshot through a presigned URL for that host, over TLS
        // checked against the same CA.
        let device = ApiClient::new(link.to_string());
        let creds = match device
            .activate(&eyrie_protocol::api::ActivateRequest {
                activation_code: Some(created.activation_code.clone()),
                pairing_token: None,
            })
            .await
            .unwrap()
        {
            eyrie_client::api::Activation::Ready(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(creds.mqtt.host, host);
        assert!(creds.mqtt.tls);
        let ticket = user.ticket(created.device.id, None).await.unwrap();
        assert_eq!(ticket.mqtt.host, host, "the broker follows the host used");
        assert!(ticket.mqtt.tls);
        let device = device.with_token(creds.device_token.clone());
        let slot = device
            .create_snapshot(creds.channels.main, None, b"jpeg bytes")
            .await
            .unwrap();
        let url = &slot.upload.url;
        assert!(
            url.starts_with(&format!("https://{host}:")),
            "presigned for the host used: {url}"
        );
        device
            .put_presigned(&slot.upload, b"jpeg bytes".to_vec())
            .await
            .unwrap();
        device.confirm_snapshot(slot.snapshot.id).await.unwrap();

        // The broker over TLS: the device logs in through the embedded broker.
        let ca = api.ca_pem().await.unwrap();
        let (_link, mut rx) = mqtt_link::start(
            &creds.mqtt,
            LinkOptions {
                tls_ca: ca,
                subscriptions: vec![format!("{}/in/#", creds.mqtt.topic_prefix)],
                ..Default::default()
            },
        )
        .unwrap();
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match rx.recv().await {
                    Some(LinkEvent::Connected) => return true,
                    Some(LinkEvent::Disconnected(e)) => eprintln!("broker: {e}"),
                    Some(_) => {}
                    None => return false,
                }
            }
        })
        .await;
        assert_eq!(
            connected,
            Ok(true),
            "mqtts login through the embedded broker"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_the_user_gives_is_served_and_no_ca_is_offered() {
    let dir = tempfile::tempdir().unwrap();
    // A "public" CA and a server certificate for localhost, as from Let's Encrypt.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test Public CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let cert_path = dir.path().join("fullchain.pem");
    let key_path = dir.path().join("privkey.pem");
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let mut c = config(&dir.path().join("data"));
    c.tls.cert = Some((cert_path, key_path));
    c.public_url = Some("https://localhost".parse().unwrap());
    let app = eyrie_cloud::Application::build(c).await.expect("cloud");
    let link = app.cloud_link().expect("link");
    assert_eq!(
        link.ca_pin, None,
        "nothing to pin: the system's roots decide"
    );
    let port = app.api_addr().port();
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());

    // A client that trusts that public CA (as a system would) talks to it.
    let api = ApiClient::with_ca(
        format!("https://localhost:{port}"),
        Some(ca_cert.pem().into_bytes()),
    );
    api.health().await.expect("the given certificate is served");
    let err = api
        .get_presigned(&eyrie_protocol::api::PresignedUrl {
            method: "GET".into(),
            url: format!("https://localhost:{port}{}", eyrie_protocol::trust::CA_PATH),
            expires_at: 0,
            headers: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "no own CA to hand out");
    stop.stop();
}
