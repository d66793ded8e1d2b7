//! The WAN lab (`tests/lab/wan.rs`) tested on itself, with small Python peers: each NAT
//! maps the way it claims (one public port per socket, or one per destination), the
//! private networks cannot reach each other, unsolicited traffic stays out, the UDP-blocking
//! network lets only TCP out, and nothing of the lab is left once it is dropped.

#[path = "lab/mod.rs"]
mod lab;

use std::process::{Command, Stdio};
use std::time::Duration;

use lab::wan::{self, Site, Wan};

/// Answers every UDP datagram on argv[1]:argv[2], argv[1]:argv[3] with the address it
/// came from; and every TCP connection on argv[1]:argv[2] the same way.
const ECHO: &str = r#"
import socket, sys, threading
host = sys.argv[1]
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(f"{peer[0]}:{peer[1]}".encode(), peer)
def tcp(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    while True:
        c, peer = s.accept()
        c.sendall(f"{peer[0]}:{peer[1]}".encode())
        c.close()
for p in sys.argv[2:]:
    threading.Thread(target=udp, args=(int(p),), daemon=True).start()
threading.Thread(target=tcp, args=(int(sys.argv[2]),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// From one UDP socket, asks argv[1] at each port in argv[2:] how it sees us; prints one
/// line per port (`addr:port`, or `timeout`). Then one TCP connection to the first port.
const PROBE: &str = r#"
import socket, sys
host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
s.settimeout(1.0)
for p in ports:
    try:
        s.sendto(b"?", (host, p))
        print("udp", s.recvfrom(2048)[0].decode(), flush=True)
    except (socket.timeout, OSError):
        print("udp timeout", flush=True)
try:
    c = socket.create_connection((host, ports[0]), timeout=2)
    print("tcp", c.recv(256).decode(), flush=True)
except (socket.timeout, OSError) as e:
    print("tcp timeout", flush=True)
"#;

fn python(host: &lab::Host, script: &str) -> Command {
    let mut c = host.command("python3");
    c.arg("-c").arg(script);
    c
}

/// (UDP answers, TCP answer) from `from` probing `to` on ports 7001, 7002.
fn probe(wan: &Wan, from: &lab::Host, to: std::net::Ipv4Addr) -> (Vec<String>, String) {
    let out = python(from, PROBE)
        .args([&to.to_string(), "7001", "7002"])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let udp = text
        .lines()
        .filter_map(|l| l.strip_prefix("udp "))
        .map(str::to_owned)
        .collect();
    let tcp = text
        .lines()
        .find_map(|l| l.strip_prefix("tcp "))
        .unwrap_or_default()
        .to_owned();
    let _ = wan;
    (udp, tcp)
}

#[test]
fn nats_map_filter_and_block_as_configured() {
    if wan::skip_if_unavailable() {
        return;
    }
    let namespaces;
    {
        let wan = Wan::new(Site::EASY, Site::SYMMETRIC).expect("lab");
        namespaces = wan.namespaces().to_vec();
        let echo = wan
            .spawn(
                python(&wan.internet, ECHO)
                    .args([&wan::INTERNET_IP.to_string(), "7001", "7002"])
                    .stdout(Stdio::piped()),
            )
            .unwrap();
        wan::wait_line(&echo, "ready", Duration::from_secs(10)).unwrap();

        // Endpoint-independent: one public port for both destinations, on the router.
        let (udp, tcp) = probe(&wan, &wan.home, wan::INTERNET_IP);
        assert_eq!(udp.len(), 2, "{udp:?}");
        assert!(
            udp[0].starts_with(&format!("{}:", wan::HOME_PUBLIC_IP)),
            "{udp:?}"
        );
        assert_eq!(udp[0], udp[1], "one mapping whatever the destination");
        assert!(
            tcp.starts_with(&format!("{}:", wan::HOME_PUBLIC_IP)),
            "{tcp}"
        );

        // Symmetric: a new public port per destination.
        let (udp, _) = probe(&wan, &wan.away, wan::INTERNET_IP);
        assert!(
            udp.iter()
                .all(|a| a.starts_with(&format!("{}:", wan::AWAY_PUBLIC_IP))),
            "{udp:?}"
        );
        assert_ne!(udp[0], udp[1], "a mapping per destination");

        // The private networks do not reach each other, and nothing unsolicited gets in.
        let (udp, tcp) = probe(&wan, &wan.home, wan.away.ip);
        assert_eq!(udp, ["timeout", "timeout"]);
        assert_eq!(tcp, "timeout");
        let (udp, tcp) = probe(&wan, &wan.internet, wan::HOME_PUBLIC_IP);
        assert_eq!(udp, ["timeout", "timeout"], "unsolicited UDP stays out");
        assert_eq!(tcp, "timeout");
    }
    // Dropped: every namespace is gone.
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    for ns in &namespaces {
        assert!(
            !left.contains(ns.as_str()),
            "{ns} outlived the lab:\n{left}"
        );
    }
}

#[test]
fn a_udp_blocking_network_lets_only_tcp_out() {
    if wan::skip_if_unavailable() {
        return;
    }
    let wan = Wan::new(Site::EASY, Site::UDP_BLOCKED).expect("lab");
    let echo = wan
        .spawn(
            python(&wan.internet, ECHO)
                .args([&wan::INTERNET_IP.to_string(), "7001", "7002"])
                .stdout(Stdio::piped()),
        )
        .unwrap();
    wan::wait_line(&echo, "ready", Duration::from_secs(10)).unwrap();
    let (udp, tcp) = probe(&wan, &wan.away, wan::INTERNET_IP);
    assert_eq!(udp, ["timeout", "timeout"]);
    assert!(
        tcp.starts_with(&format!("{}:", wan::AWAY_PUBLIC_IP)),
        "{tcp}"
    );
    // The home network is not affected.
    let (udp, _) = probe(&wan, &wan.home, wan::INTERNET_IP);
    assert!(udp.iter().all(|a| a != "timeout"), "{udp:?}");
}
