//! A network lab for tests and benchmarks: N hosts on one switched LAN, each host a Linux
//! network namespace, so the cloud, a camera and a viewer talk over real IP addresses
//! instead of loopback, and a packet capture on the switch sees everything they send.
//!
//! Why: on loopback every role shares one address and one stack, so a test cannot tell
//! which host a connection came from, whether media went camera → viewer directly, or what
//! an eavesdropper on the LAN would read. Here each host has its own address, and
//! [`Captured`] answers "which of these secrets crossed the wire in clear?".
//!
//! Layout of one lab (needs root; nothing is added to the machine's own network):
//!
//! ```text
//!   netns <prefix>-switch:  br0 ── p0 ─┬─ p1 ─┬─ p2        (tcpdump runs here)
//!                                      │      │      │
//!   netns <prefix>-<host>:           eth0   eth0   eth0    10.213.<k>.1, .2, .3 /24
//! ```
//!
//! Every interface is created directly inside its namespace, so names never clash between
//! labs running in parallel. IPv6 is switched off in the namespaces (best effort; `[::]`
//! still binds, `[::1]` does not) so the capture holds only the IPv4 traffic the test
//! makes, plus ARP. The prefix is
//! `eyrie-lab-<pid>-<n>`: dropping the [`Lab`] — also while a test panics — kills what it
//! started and deletes its namespaces (with them the bridge and the veths), and creating a
//! lab first deletes the namespaces of earlier runs whose pid is gone (killed, crashed).
//!
//! Use it from a test or, with `#[path = "../tests/lab/mod.rs"] mod lab;`, from a bench:
//!
//! ```ignore
//! if lab::skip_if_unavailable() { return; }
//! let lab = lab::Lab::with_hosts(&["cloud", "camera"])?;
//! let (cloud, camera) = (lab.host("cloud"), lab.host("camera"));
//! let capture = lab.capture()?;
//! let _cloud = lab.spawn(cloud.command(&eyrie).arg("cloud") /* listening on 0.0.0.0:8080 */)?;
//! cloud.wait_tcp(8080, Duration::from_secs(20))?;
//! let _camera = lab.spawn(camera.command(&eyrie).arg("camera") /* → http://{cloud.ip}:8080 */)?;
//! // … let them work; the guards and the lab kill them …
//! let seen = capture.stop()?;
//! assert!(seen.bytes_between(camera.ip, cloud.ip) > 0, "the capture saw nothing");
//! assert_eq!(seen.found(&[session_token.as_bytes()]), Vec::<&[u8]>::new(), "in clear");
//! ```
//!
//! Rust code of the test itself (a viewer built on `eyrie_client`) gets into a host by
//! running one of the test binary's own `#[test]` functions there, as a child process:
//!
//! ```ignore
//! #[test]
//! fn viewer_role() {
//!     // In a normal run this test does nothing; in the child it is the viewer.
//!     let Some(role) = lab::child_role() else { return };
//!     let cloud = std::env::var("CLOUD").unwrap();
//!     // … connect, watch, panic on failure …
//! }
//!
//! #[test]
//! fn three_hosts() {
//!     // … lab, cloud and camera as above …
//!     let out = viewer_host
//!         .run_self("viewer_role", "viewer", &[("CLOUD", &cloud_url)])
//!         .output()?;
//!     let stdout = lab::role_output(&out)?; // fails unless exactly that test ran and passed
//! }
//! ```
//!
//! `lab.spawn(host.run_self(…).stdout(Stdio::piped()))` runs it in the background instead;
//! the test name is the path inside the test binary (`module::name` when in a module).
#![allow(dead_code)] // each includer uses a different part

use std::ffi::OsStr;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rustix::process::{Pid, Signal, kill_process};

pub mod frames;
pub mod roles;
pub mod scene;
pub mod wan;
pub mod wire;

/// What every lab namespace's name starts with; then `<pid>-<n>-`.
const NS_PREFIX: &str = "eyrie-lab-";
/// The bridge, inside the switch namespace.
const BRIDGE: &str = "br0";
/// The environment variable [`Host::run_self`] sets and [`child_role`] reads.
pub const ROLE_ENV: &str = "EYRIE_LAB_ROLE";

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Whether this machine can run labs: root, `ip` (iproute2), and network namespaces with
/// bridges and veths. The reason when not. Checked once per process.
pub fn available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(probe).clone()
}

/// For tests: prints why and returns true when labs cannot run here (`if
/// lab::skip_if_unavailable() { return; }`).
pub fn skip_if_unavailable() -> bool {
    match available() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipping: no network lab here: {why}");
            true
        }
    }
}

fn probe() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("network namespaces need root".into());
    }
    ip(&["-V"]).map_err(|e| format!("`ip` (iproute2) does not run: {e:#}"))?;
    let ns = format!("{}-probe", next_prefix());
    ip(&["netns", "add", &ns]).map_err(|e| format!("cannot create a network namespace: {e:#}"))?;
    let links = ip(&["-n", &ns, "link", "add", BRIDGE, "type", "bridge"]).and_then(|_| {
        ip(&[
            "-n", &ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ])
    });
    let _ = ip(&["netns", "del", &ns]);
    links
        .map(drop)
        .map_err(|e| format!("cannot create a bridge and a veth pair: {e:#}"))
}

fn next_prefix() -> String {
    let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
    format!("{NS_PREFIX}{}-{n}", std::process::id())
}

/// The role a [`Host::run_self`] child was started for, or `None` in a normal test run.
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// Checks the output of a finished [`Host::run_self`] child: it succeeded and its test
/// actually ran (a test name that matches nothing also exits with success). Its stdout.
pub fn role_output(output: &Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "the role child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    ensure!(
        stdout.contains("test result: ok. 1 passed"),
        "the role child ran no test (is the test name exact, module path included?):\n{stdout}"
    );
    Ok(stdout)
}

/// One host of a [`Lab`]: a network namespace with one interface, `eth0`, on the LAN.
#[derive(Clone, Debug)]
pub struct Host {
    /// The name given to [`Lab::with_hosts`] (`h0`, `h1`, … from [`Lab::new`]).
    pub name: String,
    /// The namespace, for `ip netns exec`.
    pub netns: String,
    /// Its address on the LAN (a /24).
    pub ip: Ipv4Addr,
}

impl Host {
    /// `program` run inside this host (`ip netns exec <netns> program`; `ip` execs it, so
    /// the child's pid is the program's). Add arguments, environment, stdio as usual.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns]).arg(program);
        command
    }

    /// The running test binary inside this host, running only the test `test_name` with
    /// [`child_role`] returning `role` there, and `envs` set (see the module docs).
    pub fn run_self(&self, test_name: &str, role: &str, envs: &[(&str, &str)]) -> Command {
        let exe = std::env::current_exe().expect("the path of the running test binary");
        let mut command = self.command(exe);
        command
            // Ignored tests too: a test marked ignored runs its roles when it is run.
            .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
            .arg("--include-ignored")
            .env(ROLE_ENV, role)
            .envs(envs.iter().copied());
        command
    }

    /// Waits until something in this host listens on TCP `port` on an address the LAN can
    /// reach (not only loopback). Looks with `ss`, so it makes no connection.
    pub fn wait_tcp(&self, port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let listeners = run(self.command("ss").arg("-Hltn"))?;
            let mut loopback_only = false;
            for local in listeners
                .lines()
                .filter_map(|l| l.split_whitespace().nth(3))
            {
                let Some((addr, p)) = local.rsplit_once(':') else {
                    continue;
                };
                if p.parse::<u16>().ok() != Some(port) {
                    continue;
                }
                if addr.starts_with("127.")
                    || addr.starts_with("[::1]")
                    || addr.starts_with("[::ffff:127.")
                {
                    loopback_only = true;
                } else {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "nothing listens on {}:{port} in {} after {timeout:?}{}",
                    self.ip,
                    self.name,
                    if loopback_only {
                        " (only on loopback)"
                    } else {
                        ""
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// N hosts on one bridge, each in its own network namespace. Everything it made goes away
/// when it is dropped.
pub struct Lab {
    switch: String,
    hosts: Vec<Host>,
    /// Every namespace made so far, the switch first.
    namespaces: Vec<String>,
    children: Mutex<Vec<Arc<Mutex<Child>>>>,
}

impl Lab {
    /// A lab with hosts `h0`, `h1`, ….
    pub fn new(n_hosts: usize) -> Result<Lab> {
        let names: Vec<String> = (0..n_hosts).map(|i| format!("h{i}")).collect();
        Lab::with_hosts(&names)
    }

    /// A lab with one host per name (letters, digits, `-`, `_`), addressed in that order
    /// 10.213.k.1, .2, … with k chosen per lab.
    pub fn with_hosts<S: AsRef<str>>(names: &[S]) -> Result<Lab> {
        available().map_err(anyhow::Error::msg)?;
        ensure!(
            (1..=250).contains(&names.len()),
            "a lab has 1 to 250 hosts, not {}",
            names.len()
        );
        remove_stale();

        let prefix = next_prefix();
        let k = 1 + prefix
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
            % 254;
        let mut lab = Lab {
            switch: format!("{prefix}-switch"),
            hosts: Vec::new(),
            namespaces: Vec::new(),
            children: Mutex::default(),
        };
        // From here on an error drops `lab`, which removes what was made.
        let switch = lab.switch.clone();
        lab.add_netns(&switch)?;
        ip(&["-n", &switch, "link", "add", BRIDGE, "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", BRIDGE, "up"])?;
        for (i, name) in names.iter().map(AsRef::as_ref).enumerate() {
            ensure!(
                !name.is_empty()
                    && name != "switch"
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "bad host name {name:?}"
            );
            ensure!(
                lab.hosts.iter().all(|h| h.name != name),
                "two hosts named {name:?}"
            );
            let netns = format!("{prefix}-{name}");
            let port = format!("p{i}");
            let ip4 = Ipv4Addr::new(10, 213, k as u8, i as u8 + 1);
            lab.add_netns(&netns)?;
            ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &netns,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", BRIDGE, "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{ip4}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
            lab.hosts.push(Host {
                name: name.to_owned(),
                netns,
                ip: ip4,
            });
        }
        Ok(lab)
    }

    fn add_netns(&mut self, netns: &str) -> Result<()> {
        ip(&["netns", "add", netns])?;
        self.namespaces.push(netns.to_owned());
        // Best effort: /proc/sys may be read-only in a container; then the capture also
        // holds IPv6 neighbour discovery, which tests do not depend on.
        let _ = Command::new("ip")
            .args(["netns", "exec", netns, "sh", "-c"])
            .arg("for c in all default; do echo 1 >/proc/sys/net/ipv6/conf/$c/disable_ipv6; done")
            .stderr(Stdio::null())
            .status();
        Ok(())
    }

    /// The hosts, in the order given.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host named `name`; panics if there is none.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name:?} in this lab"))
    }

    /// Every namespace of this lab, the switch's first.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Spawns `command` (from [`Host::command`] or [`Host::run_self`]) and keeps track of
    /// it: the guard kills it when dropped, and so does the lab. Piped stdout and stderr
    /// are read in the background (see [`ChildGuard::stdout`]).
    pub fn spawn(&self, command: &mut Command) -> Result<ChildGuard> {
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {command:?}"))?;
        let stdout = Pipe::collect(child.stdout.take());
        let stderr = Pipe::collect(child.stderr.take());
        let id = child.id();
        let child = Arc::new(Mutex::new(child));
        lock(&self.children).push(child.clone());
        Ok(ChildGuard {
            child,
            id,
            stdout,
            stderr,
        })
    }

    /// Starts capturing every frame that crosses the switch; returns once tcpdump listens.
    pub fn capture(&self) -> Result<Capture> {
        ensure!(
            Command::new("tcpdump")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "tcpdump is missing (build-aux/setup installs it)"
        );
        let tcpdump = self.spawn(
            Command::new("ip")
                .args(["netns", "exec", &self.switch])
                // Immediate mode: otherwise frames wait in the kernel ring for up to a
                // second, and the last ones before `stop` are never written.
                .args(["tcpdump", "-i", BRIDGE, "-w", "-", "-U", "-s", "0", "-n"])
                .arg("--immediate-mode")
                // A 64 MiB kernel buffer: with two busy cores and a live video burst the
                // default one overflowed (14 of 937 frames dropped).
                .args(["-B", "65536"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !tcpdump.stderr().contains("listening on") {
            if let Some(status) = tcpdump.try_wait()? {
                bail!("tcpdump exited ({status}): {}", tcpdump.stderr());
            }
            ensure!(
                Instant::now() < deadline,
                "tcpdump did not start: {}",
                tcpdump.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Capture { tcpdump })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in lock(&self.children).drain(..) {
            kill_child(&child);
        }
        for netns in self.namespaces.iter().rev() {
            if let Err(e) = remove_netns(netns) {
                eprintln!("lab: could not remove the namespace {netns}: {e:#}");
            }
        }
    }
}

/// Deletes the namespaces of labs whose process is gone.
fn remove_stale() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for netns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = netns
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Another process may be removing it too.
            let _ = remove_netns(netns);
        }
    }
}

/// Kills whatever still runs in `netns` (grandchildren of the lab's children, leftovers
/// of a crashed run) and deletes it; its interfaces go with it.
fn remove_netns(netns: &str) -> Result<()> {
    for pid in ip(&["netns", "pids", netns])?.split_whitespace() {
        if let Some(pid) = pid.parse().ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
    ip(&["netns", "del", netns]).map(drop)
}

/// A process started by [`Lab::spawn`]; killed when dropped.
pub struct ChildGuard {
    child: Arc<Mutex<Child>>,
    id: u32,
    stdout: Pipe,
    stderr: Pipe,
}

impl ChildGuard {
    /// Its pid (the program's: `ip netns exec` execs it).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The std handle, e.g. to write to a piped stdin.
    pub fn child(&self) -> MutexGuard<'_, Child> {
        lock(&self.child)
    }

    /// Its piped stdout so far (empty when not piped).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.bytes()).into_owned()
    }

    /// Its piped stderr so far (empty when not piped).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        Ok(self.child().try_wait()?)
    }

    /// Waits for it to exit (then for its piped output to be read, unless something it
    /// started still holds the pipes); an error when it still runs after `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.try_wait()? {
                break status;
            }
            ensure!(
                Instant::now() < deadline,
                "pid {} still runs after {timeout:?}",
                self.id
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while !(self.stdout.done() && self.stderr.done()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(status)
    }

    /// Kills it (SIGKILL) and reaps it; nothing if it already exited.
    pub fn kill(&self) {
        kill_child(&self.child);
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_child(child: &Mutex<Child>) {
    let mut child = lock(child);
    // std remembers a reaped child and then sends nothing, so a reused pid is safe.
    let _ = child.kill();
    let _ = child.wait();
}

/// A child's output pipe, read into a buffer by a thread.
struct Pipe {
    buf: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Pipe {
    fn collect(source: Option<impl Read + Send + 'static>) -> Pipe {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let reader = source.map(|mut source| {
            let buf = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = vec![0; 64 * 1024];
                while let Ok(n @ 1..) = source.read(&mut chunk) {
                    lock(&buf).extend_from_slice(&chunk[..n]);
                }
            })
        });
        Pipe { buf, reader }
    }

    fn bytes(&self) -> Vec<u8> {
        lock(&self.buf).clone()
    }

    fn done(&self) -> bool {
        self.reader.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

/// tcpdump on the lab's bridge, from [`Lab::capture`].
pub struct Capture {
    tcpdump: ChildGuard,
}

impl Capture {
    /// Stops tcpdump (SIGINT: it flushes and exits) and returns what it captured. Fails if
    /// the kernel dropped packets, since then "not found in clear" would prove nothing.
    pub fn stop(self) -> Result<Captured> {
        let pid = Pid::from_raw(self.tcpdump.id() as i32).context("tcpdump has no pid")?;
        kill_process(pid, Signal::INT).context("stopping tcpdump")?;
        self.tcpdump.wait_timeout(Duration::from_secs(10))?;
        let stderr = self.tcpdump.stderr();
        let count = |what: &str| {
            stderr
                .lines()
                .find_map(|l| l.strip_suffix(what))
                .and_then(|n| n.trim().parse::<usize>().ok())
        };
        ensure!(
            count(" packets dropped by kernel") == Some(0),
            "tcpdump dropped packets or did not say: {stderr}"
        );
        let captured = Captured::parse(self.tcpdump.stdout.bytes())?;
        ensure!(
            count(" packets captured") == Some(captured.packets()),
            "tcpdump's count differs from the {} frames read: {stderr}",
            captured.packets()
        );
        Ok(captured)
    }
}

/// The frames a [`Capture`] saw, as a pcap file and parsed.
pub struct Captured {
    pcap: Vec<u8>,
    /// Each frame's bytes within `pcap`.
    frames: Vec<Range<usize>>,
    ethernet: bool,
    flows: OnceLock<Vec<TcpFlow>>,
}

/// The bytes one side of a TCP connection sent, reassembled in sequence order.
#[derive(Clone, Debug)]
pub struct TcpFlow {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub data: Vec<u8>,
}

impl Captured {
    /// Parses the classic pcap format: a 24-byte header (magic, version, snaplen, link
    /// type), then per frame a 16-byte record (seconds, fraction, captured and original
    /// length) and the captured bytes; little or big endian, µs or ns timestamps.
    fn parse(pcap: Vec<u8>) -> Result<Captured> {
        ensure!(
            pcap.len() >= 24,
            "tcpdump wrote no pcap header ({} bytes)",
            pcap.len()
        );
        let little = match pcap[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            _ => bail!("not a pcap file: magic {:02x?}", &pcap[..4]),
        };
        let u32_at = |at: usize| {
            let bytes = [pcap[at], pcap[at + 1], pcap[at + 2], pcap[at + 3]];
            if little {
                u32::from_le_bytes(bytes)
            } else {
                u32::from_be_bytes(bytes)
            }
        };
        let ethernet = u32_at(20) & 0xffff == 1;
        let mut frames = Vec::new();
        let mut at = 24;
        while at < pcap.len() {
            ensure!(at + 16 <= pcap.len(), "pcap record header cut at byte {at}");
            let len = u32_at(at + 8) as usize;
            at += 16;
            ensure!(at + len <= pcap.len(), "pcap frame cut at byte {at}");
            frames.push(at..at + len);
            at += len;
        }
        Ok(Captured {
            pcap,
            frames,
            ethernet,
            flows: OnceLock::new(),
        })
    }

    /// The number of frames captured.
    pub fn packets(&self) -> usize {
        self.frames.len()
    }

    /// Their total size, link-layer headers included.
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(ExactSizeIterator::len).sum()
    }

    /// Every frame, whole (Ethernet header first).
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().map(|r| &self.pcap[r.clone()])
    }

    /// The pcap file, as tcpdump wrote it.
    pub fn pcap(&self) -> &[u8] {
        &self.pcap
    }

    /// Writes the pcap file, e.g. for Wireshark when a test fails.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, &self.pcap).with_context(|| format!("writing {}", path.display()))
    }

    /// Whether `needle` crossed the wire in clear: within one frame, or within the
    /// reassembled data of a TCP flow (so also when split over segments). Search for each
    /// encoding that matters yourself (hex, base64, …).
    pub fn contains(&self, needle: &[u8]) -> bool {
        self.frames().any(|frame| find(frame, needle))
            || self.tcp_flows().iter().any(|flow| find(&flow.data, needle))
    }

    /// The `needles` that crossed the wire in clear (see [`Captured::contains`]).
    pub fn found<'n>(&self, needles: &[&'n [u8]]) -> Vec<&'n [u8]> {
        needles
            .iter()
            .copied()
            .filter(|n| self.contains(n))
            .collect()
    }

    /// The TCP flows, one per direction of each connection, in order of first frame.
    pub fn tcp_flows(&self) -> &[TcpFlow] {
        self.flows.get_or_init(|| {
            let mut flows: Vec<TcpFlow> = Vec::new();
            // Per flow: the sequence number of its first data byte, and its (sequence
            // number, payload) segments.
            let mut segments = Vec::new();
            for segment in self.frames().filter_map(|f| self.l4(f)) {
                let Some((seq, syn)) = segment.tcp else {
                    continue;
                };
                let (src, dst) = (segment.src, segment.dst);
                let index = flows
                    .iter()
                    .position(|f| (f.src, f.dst) == (src, dst))
                    .unwrap_or_else(|| {
                        flows.push(TcpFlow {
                            src,
                            dst,
                            data: Vec::new(),
                        });
                        segments.push((None, Vec::new()));
                        flows.len() - 1
                    });
                let (first, parts) = &mut segments[index];
                if syn {
                    *first = Some(seq.wrapping_add(1));
                } else if !segment.payload.is_empty() {
                    first.get_or_insert(seq);
                    parts.push((seq, segment.payload));
                }
            }
            for (flow, (first, mut parts)) in flows.iter_mut().zip(segments) {
                // Offsets from the first byte; data from before it is negative.
                let offset = |seq: u32| seq.wrapping_sub(first.unwrap_or_default()) as i32;
                parts.sort_by_key(|(seq, _)| offset(*seq));
                for (seq, bytes) in parts {
                    let Ok(offset) = usize::try_from(offset(seq)) else {
                        continue;
                    };
                    // A gap (a frame tcpdump missed) is closed up; overlaps are skipped.
                    let skip = flow.data.len().saturating_sub(offset);
                    flow.data
                        .extend_from_slice(bytes.get(skip..).unwrap_or_default());
                }
            }
            flows
        })
    }

    /// The TCP and UDP payload bytes sent between `a` and `b`, both ways, retransmissions
    /// included: proof that the capture saw the traffic a test is about.
    pub fn bytes_between(&self, a: Ipv4Addr, b: Ipv4Addr) -> usize {
        self.frames()
            .filter_map(|f| self.l4(f))
            .filter(|s| {
                (*s.src.ip(), *s.dst.ip()) == (a, b) || (*s.src.ip(), *s.dst.ip()) == (b, a)
            })
            .map(|s| s.payload.len())
            .sum()
    }

    /// The TCP or UDP segment in an Ethernet frame carrying IPv4, if it is one.
    fn l4<'f>(&self, frame: &'f [u8]) -> Option<Segment<'f>> {
        if !self.ethernet {
            return None;
        }
        let mut ether_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
        let mut ip = frame.get(14..)?;
        if ether_type == 0x8100 {
            ether_type = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]);
            ip = ip.get(4..)?;
        }
        if ether_type != 0x0800 || ip.len() < 20 || ip[0] >> 4 != 4 {
            return None;
        }
        let header = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let fragment_offset = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
        if fragment_offset != 0 {
            return None;
        }
        let (protocol, src, dst) = (ip[9], ip_at(ip, 12), ip_at(ip, 16));
        // Ethernet pads short frames; the IP length says where the packet ends.
        let l4 = ip.get(header..total.min(ip.len()))?;
        let ports = |l4: &[u8]| -> Option<(u16, u16)> {
            Some((
                u16::from_be_bytes([*l4.first()?, *l4.get(1)?]),
                u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]),
            ))
        };
        let (sport, dport) = ports(l4)?;
        let (tcp, payload) = match protocol {
            6 => {
                let header = l4.get(..20)?;
                let seq = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
                let offset = usize::from(header[12] >> 4) * 4;
                (Some((seq, header[13] & 0x02 != 0)), l4.get(offset..)?)
            }
            17 => (None, l4.get(8..)?),
            _ => return None,
        };
        Some(Segment {
            src: SocketAddrV4::new(src, sport),
            dst: SocketAddrV4::new(dst, dport),
            tcp,
            payload,
        })
    }
}

struct Segment<'f> {
    src: SocketAddrV4,
    dst: SocketAddrV4,
    /// TCP's sequence number and SYN flag; `None` for UDP.
    tcp: Option<(u32, bool)>,
    payload: &'f [u8],
}

fn ip_at(packet: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3])
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args))
}

/// Runs `command` to the end; its stdout, or an error with its stderr.
fn run(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
