//! The network lab (`tests/lab/mod.rs`) tested on itself: hosts reach each other, the
//! capture sees what crosses the switch, the re-exec pattern lands in the right namespace,
//! and nothing outlives the lab — not on drop, not on panic, not after a crashed run.

mod lab;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use lab::Lab;

/// Accepts one connection on argv[1]:argv[2], prints the peer's address and what it sent.
const SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, peer = s.accept()
data = b""
while chunk := c.recv(65536):
    data += chunk
print(peer[0], data.decode(), flush=True)
"#;

/// Connects to argv[1]:argv[2] and sends each further argument as its own TCP segment.
const CLIENT: &str = r#"
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for part in sys.argv[3:]:
    c.sendall(part.encode())
    time.sleep(0.3)
c.close()
"#;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn three_hosts_talk_and_the_capture_sees_it() -> Result<()> {
    if lab::skip_if_unavailable() {
        return Ok(());
    }
    let lab = Lab::new(3)?;
    let hosts = lab.hosts();
    for a in hosts {
        for b in hosts.iter().filter(|b| b.name != a.name) {
            let ping = a
                .command("ping")
                .args(["-c1", "-W1", &b.ip.to_string()])
                .output()?;
            ensure!(
                ping.status.success(),
                "{} cannot ping {}: {ping:?}",
                a.name,
                b.name
            );
        }
    }

    let capture = lab.capture()?;
    let (server, client, bystander) = (&hosts[0], &hosts[1], &hosts[2]);
    let listener = lab.spawn(
        server
            .command("python3")
            .args(["-c", SERVER, &server.ip.to_string(), "7000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    server.wait_tcp(7000, WAIT)?;
    let marker = format!("eyrie-lab-marker-{}", std::process::id());
    let (first, second) = marker.split_at(marker.len() / 2);
    let sent = client
        .command("python3")
        .args(["-c", CLIENT, &server.ip.to_string(), "7000", first, second])
        .output()?;
    ensure!(sent.status.success(), "client: {sent:?}");
    ensure!(
        listener.wait_timeout(WAIT)?.success(),
        "server: {}",
        listener.stderr()
    );
    assert_eq!(listener.stdout().trim(), format!("{} {marker}", client.ip));

    let seen = capture.stop()?;
    assert!(
        seen.packets() > 0 && seen.bytes() > 0,
        "the capture is empty"
    );
    assert!(
        seen.contains(marker.as_bytes()),
        "the marker is not in the capture"
    );
    assert!(
        !seen
            .frames()
            .any(|f| f.windows(marker.len()).any(|w| w == marker.as_bytes())),
        "the marker was meant to cross in two segments (found only by reassembly)"
    );
    let absent: &[u8] = b"never-sent-on-the-lan";
    assert_eq!(
        seen.found(&[marker.as_bytes(), absent]),
        vec![marker.as_bytes()]
    );
    assert_eq!(seen.bytes_between(client.ip, server.ip), marker.len());
    assert_eq!(seen.bytes_between(bystander.ip, server.ip), 0);
    let upstream: Vec<_> = seen
        .tcp_flows()
        .iter()
        .filter(|f| f.src.ip() == &client.ip)
        .collect();
    assert_eq!(upstream.len(), 1, "{:?}", seen.tcp_flows());
    assert_eq!(
        (upstream[0].dst.ip(), upstream[0].dst.port()),
        (&server.ip, 7000)
    );
    assert_eq!(upstream[0].data, marker.as_bytes());
    Ok(())
}

#[test]
fn wait_tcp_wants_a_lan_address() -> Result<()> {
    if lab::skip_if_unavailable() {
        return Ok(());
    }
    let lab = Lab::new(1)?;
    let host = &lab.hosts()[0];
    let _loopback = lab.spawn(
        host.command("python3")
            .args(["-c", SERVER, "127.0.0.1", "7001"]),
    )?;
    let error = host
        .wait_tcp(7001, Duration::from_secs(5))
        .expect_err("a loopback listener is not reachable from the LAN");
    assert!(error.to_string().contains("only on loopback"), "{error}");
    Ok(())
}

#[test]
fn dropping_the_lab_removes_everything() -> Result<()> {
    if lab::skip_if_unavailable() {
        return Ok(());
    }
    let lab = Lab::new(2)?;
    let namespaces = lab.namespaces().to_vec();
    assert_eq!(namespaces.len(), 3);
    assert!(namespaces.iter().all(|ns| listed(ns)), "{namespaces:?}");

    let child = lab.spawn(lab.hosts()[0].command("sleep").arg("1000"))?;
    let parent = lab.spawn(
        lab.hosts()[1]
            .command("sh")
            .args(["-c", "sleep 1000 & echo $!; wait"])
            .stdout(Stdio::piped()),
    )?;
    let deadline = Instant::now() + WAIT;
    let grandchild = loop {
        if let Ok(pid) = parent.stdout().trim().parse::<u32>() {
            break pid;
        }
        ensure!(Instant::now() < deadline, "no grandchild pid");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _capture = lab.capture()?; // never stopped: the lab must end tcpdump
    let tcpdump: Vec<u32> = netns_pids(&namespaces[0]);
    assert_eq!(tcpdump.len(), 1, "tcpdump runs in the switch namespace");

    drop(lab);
    for ns in &namespaces {
        assert!(!listed(ns), "{ns} survived the lab");
    }
    for pid in [child.id(), parent.id(), grandchild, tcpdump[0]] {
        assert!(dies(pid), "pid {pid} survived the lab");
    }
    Ok(())
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    if lab::skip_if_unavailable() {
        return;
    }
    let mut namespaces = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new(1).unwrap();
        namespaces = lab.namespaces().to_vec();
        // Unwinds like a failing assertion, without the panic hook's message.
        std::panic::resume_unwind(Box::new("a test fails while it holds a lab"));
    }));
    assert!(result.is_err());
    assert_eq!(namespaces.len(), 2);
    for ns in &namespaces {
        assert!(!listed(ns), "{ns} survived the panic");
    }
}

#[test]
fn leftovers_of_dead_runs_are_removed() -> Result<()> {
    if lab::skip_if_unavailable() {
        return Ok(());
    }
    let mut gone = Command::new("true").spawn()?;
    let dead_pid = gone.id();
    gone.wait()?;
    let stale = format!("eyrie-lab-{dead_pid}-0-switch");
    // A process in a namespace of its own, then named like a lab's: racing labs of other
    // tests may remove it at any moment, but never without killing the process.
    let mut squatter = Command::new("unshare")
        .args(["--net", "sleep", "60"])
        .spawn()?;
    let own = std::fs::read_link("/proc/self/ns/net")?;
    let deadline = Instant::now() + WAIT;
    while std::fs::read_link(format!("/proc/{}/ns/net", squatter.id()))? == own {
        ensure!(Instant::now() < deadline, "unshare made no namespace");
        std::thread::sleep(Duration::from_millis(20));
    }
    let attach = Command::new("ip")
        .args(["netns", "attach", &stale, &squatter.id().to_string()])
        .status()?;
    ensure!(attach.success(), "ip netns attach: {attach}");

    let _lab = Lab::new(1)?;
    assert!(!listed(&stale), "{stale} was left");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = squatter.try_wait()? {
            break status;
        }
        ensure!(
            Instant::now() < deadline,
            "the squatter in {stale} was left running"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "killed, not finished: {status}");
    Ok(())
}

#[test]
fn a_role_child_runs_in_its_host() -> Result<()> {
    if lab::skip_if_unavailable() {
        return Ok(());
    }
    let lab = Lab::with_hosts(&["server", "viewer"])?;
    let (server, viewer) = (lab.host("server"), lab.host("viewer"));
    let listener = lab.spawn(
        server
            .command("python3")
            .args(["-c", SERVER, &server.ip.to_string(), "7000"])
            .stdout(Stdio::piped()),
    )?;
    server.wait_tcp(7000, WAIT)?;

    let target = format!("{}:7000", server.ip);
    let output = viewer
        .run_self("role", "viewer", &[("LAB_SELFTEST_SERVER", &target)])
        .output()?;
    let stdout = lab::role_output(&output)?;
    let netns = std::fs::metadata(format!("/run/netns/{}", viewer.netns))?.ino();
    assert!(
        stdout.contains(&format!("netns=net:[{netns}]\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("local={}\n", viewer.ip)),
        "{stdout}"
    );
    listener.wait_timeout(WAIT)?;
    assert_eq!(
        listener.stdout().trim(),
        format!("{} hello from the role", viewer.ip)
    );

    let output = viewer.run_self("no_such_test", "viewer", &[]).output()?;
    assert!(
        lab::role_output(&output).is_err(),
        "a run of no test passed"
    );
    Ok(())
}

/// The child of `a_role_child_runs_in_its_host`; nothing in a normal run.
#[test]
fn role() {
    let Some(role) = lab::child_role() else {
        return;
    };
    assert_eq!(role, "viewer");
    let server = std::env::var("LAB_SELFTEST_SERVER").unwrap();
    let mut stream = TcpStream::connect(&server).unwrap();
    stream.write_all(b"hello from the role").unwrap();
    let netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    println!("netns={}", netns.display());
    println!("local={}", stream.local_addr().unwrap().ip());
}

fn listed(netns: &str) -> bool {
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(netns))
}

fn netns_pids(netns: &str) -> Vec<u32> {
    let pids = Command::new("ip")
        .args(["netns", "pids", netns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&pids.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether `pid` is gone (or a zombie) within a few seconds.
fn dies(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) if Instant::now() >= deadline => return false,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
