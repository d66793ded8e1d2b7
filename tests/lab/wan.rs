//! The wide-area variant of the lab: a camera at home and a viewer away, each behind its
//! own NAT router, and between them an "internet" with the cloud and a real TURN server.
//!
//! Why: on one LAN every ICE check succeeds host ↔ host, so nothing shows whether live
//! view works where people actually are — behind a home router and an office or carrier
//! NAT, some of them symmetric, some blocking UDP. Here each of those is a real Linux NAT
//! (nftables in a router namespace), the STUN/TURN server is Debian's coturn with the
//! cloud's shared secret, and the test reads which candidate pair ICE chose.
//!
//! ```text
//!   netns <p>-inet:   br0 203.0.113.1/24  ── eyrie cloud (:8470, broker :8472), coturn (:3478 udp+tcp)
//!                      │            │
//!                   (veth)        (veth)
//!                      │            │
//!   netns <p>-rhome: wan0 .2      netns <p>-raway: wan0 .3       nftables: masquerade
//!                    lan0 10.1.0.1                 lan0 10.2.0.1  [random] out of wan0,
//!                      │                             │            [UDP dropped out of wan0]
//!   netns <p>-home:  eth0 10.1.0.2  (camera)   netns <p>-away: eth0 10.2.0.2  (viewer)
//! ```
//!
//! The private networks have no route to each other (what is sent there vanishes: the
//! routers and the internet have a blackhole default route): only what the routers
//! translate reaches the internet, and only what belongs to a connection they saw go out comes
//! back (Linux conntrack: port-restricted filtering). [`Nat::EndpointIndependent`] keeps
//! one public port per private socket whatever the destination (`masquerade`), so STUN's
//! answer is the address a peer can use; [`Nat::Symmetric`] picks a new port for each
//! destination (`masquerade random`), so the address STUN saw is useless to the peer and
//! only a relay gets through.
//!
//! Nothing here has a route to the machine's own network: every address lives inside the
//! lab's namespaces, which [`Lab`]'s drop removes (processes first), also on panic, and a
//! later lab removes those of a crashed run.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::wire::{Shape, Wire};
use super::{ChildGuard, Host, Lab, available, ip, lock, next_prefix, remove_stale, run};

/// The internet's address (cloud and coturn) and the routers' public ones.
pub const INTERNET_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
pub const HOME_PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
pub const AWAY_PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 3);
/// coturn's port (STUN and TURN, UDP and TCP).
pub const TURN_PORT: u16 = 3478;

/// How a router maps private sockets to public ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// One public port per private socket, whatever the destination (`masquerade`).
    EndpointIndependent,
    /// A new public port for each destination (`masquerade random`).
    Symmetric,
}

/// One home or away network.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub nat: Nat,
    /// The router drops every UDP packet leaving for the internet (an office firewall):
    /// only TCP gets out.
    pub block_udp: bool,
}

impl Site {
    pub const EASY: Site = Site {
        nat: Nat::EndpointIndependent,
        block_udp: false,
    };
    pub const SYMMETRIC: Site = Site {
        nat: Nat::Symmetric,
        block_udp: false,
    };
    pub const UDP_BLOCKED: Site = Site {
        nat: Nat::EndpointIndependent,
        block_udp: true,
    };
}

/// The lab of the module docs. Dereferences to its [`Lab`] (spawn, namespaces).
pub struct Wan {
    /// The delay/loss forwarder on the away link ([`Wan::with_wire`]); first, so that it
    /// stops before the lab removes its namespace.
    wire: Option<Wire>,
    lab: Lab,
    /// The internet: cloud, broker, coturn.
    pub internet: Host,
    pub home_router: Host,
    pub away_router: Host,
    /// The camera's host, 10.1.0.2.
    pub home: Host,
    /// The viewer's host, 10.2.0.2.
    pub away: Host,
    /// coturn's `static-auth-secret`, to give `eyrie cloud --turn-secret`.
    pub turn_secret: String,
}

impl std::ops::Deref for Wan {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

/// Whether this machine can run a [`Wan`]: a lab, plus `nft` and coturn's `turnserver`.
pub fn wan_available() -> Result<(), String> {
    available()?;
    for (program, arg) in [("nft", "--version"), ("turnserver", "--version")] {
        let ok = Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            return Err(format!(
                "{program} is missing (build-aux/setup installs nftables and coturn)"
            ));
        }
    }
    Ok(())
}

/// For tests: prints why and returns true when a [`Wan`] cannot run here.
pub fn skip_if_unavailable() -> bool {
    match wan_available() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipping: no WAN lab here: {why}");
            true
        }
    }
}

impl Wan {
    /// Builds the namespaces, links, routes and NAT rules for a camera at `home` and a
    /// viewer `away`. Servers are started separately ([`Wan::start_turn`], the cloud by
    /// the caller in [`Wan::internet`]).
    pub fn new(home: Site, away: Site) -> Result<Wan> {
        Wan::build(home, away, false)
    }

    /// [`Wan::new`] with a delay/loss [`Wire`] on the away link, between the away router
    /// and the viewer's host (`tests/lab/wire.rs`): `<p>-wire` holds `l0` (to the
    /// router's `lan0`) and `l1` (to the host's `eth0`). It starts with no delay and no
    /// loss; [`Wan::shape_away`] sets them.
    pub fn with_wire(home: Site, away: Site) -> Result<Wan> {
        Wan::build(home, away, true)
    }

    fn build(home: Site, away: Site, with_wire: bool) -> Result<Wan> {
        wan_available().map_err(anyhow::Error::msg)?;
        remove_stale();
        let prefix = next_prefix();
        let mut lab = Lab {
            switch: format!("{prefix}-inet"),
            hosts: Vec::new(),
            namespaces: Vec::new(),
            children: Default::default(),
        };
        // From here on an error drops `lab`, which removes what was made.
        let inet = lab.switch.clone();
        lab.add_netns(&inet)?;
        ip(&["-n", &inet, "link", "set", "lo", "up"])?;
        ip(&["-n", &inet, "link", "add", "br0", "type", "bridge"])?;
        ip(&[
            "-n",
            &inet,
            "addr",
            "add",
            &format!("{INTERNET_IP}/24"),
            "dev",
            "br0",
        ])?;
        ip(&["-n", &inet, "link", "set", "br0", "up"])?;
        // The rest of the world: what coturn relays to an address nobody here has (a
        // peer's private host candidate) leaves by a dummy link and is gone, as on the
        // internet. A blackhole or missing route would fail coturn's send instead, and
        // coturn closes the whole allocation on that error.
        // (A veth pair with no address on its far end and no ARP on its near one: the
        // kernel of this lab's machine may have no `dummy` driver.)
        ip(&[
            "-n", &inet, "link", "add", "world0", "type", "veth", "peer", "name", "world1",
        ])?;
        ip(&["-n", &inet, "link", "set", "world0", "arp", "off", "up"])?;
        ip(&["-n", &inet, "link", "set", "world1", "up"])?;
        ip(&["-n", &inet, "route", "add", "default", "dev", "world0"])?;
        let host = |name: &str, netns: &str, ip: Ipv4Addr| Host {
            name: name.to_owned(),
            netns: netns.to_owned(),
            ip,
        };
        let internet = host("internet", &inet, INTERNET_IP);
        let mut sites = Vec::new();
        for (i, (name, site, public)) in [
            ("home", home, HOME_PUBLIC_IP),
            ("away", away, AWAY_PUBLIC_IP),
        ]
        .into_iter()
        .enumerate()
        {
            let router = format!("{prefix}-r{name}");
            let inside = format!("{prefix}-{name}");
            let net = i as u8 + 1;
            let (gateway, private) = (Ipv4Addr::new(10, net, 0, 1), Ipv4Addr::new(10, net, 0, 2));
            lab.add_netns(&router)?;
            lab.add_netns(&inside)?;
            let port = format!("w{name}");
            ip(&[
                "-n", &inet, "link", "add", &port, "type", "veth", "peer", "name", "wan0", "netns",
                &router,
            ])?;
            ip(&["-n", &inet, "link", "set", &port, "master", "br0", "up"])?;
            if with_wire && name == "away" {
                // The away link, cut in two with the wire's namespace in between.
                let wire = format!("{prefix}-wire");
                lab.add_netns(&wire)?;
                ip(&[
                    "-n", &router, "link", "add", "lan0", "type", "veth", "peer", "name", "l0",
                    "netns", &wire,
                ])?;
                ip(&[
                    "-n", &wire, "link", "add", "l1", "type", "veth", "peer", "name", "eth0",
                    "netns", &inside,
                ])?;
                for dev in ["l0", "l1"] {
                    ip(&["-n", &wire, "link", "set", dev, "promisc", "on", "up"])?;
                }
            } else {
                ip(&[
                    "-n", &router, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0",
                    "netns", &inside,
                ])?;
            }
            for (ns, dev, addr) in [
                (&router, "wan0", public),
                (&router, "lan0", gateway),
                (&inside, "eth0", private),
            ] {
                ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
                ip(&["-n", ns, "link", "set", dev, "up"])?;
            }
            ip(&["-n", &router, "link", "set", "lo", "up"])?;
            // What has no route — the other site's private network — vanishes, as on
            // the internet, instead of coming back as ICMP "net unreachable": libnice
            // treats that error on a socket as the socket's end and drops the TURN
            // allocation it carries, which no real network does to it.
            ip(&["-n", &router, "route", "add", "blackhole", "default"])?;
            ip(&["-n", &inside, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &inside,
                "route",
                "add",
                "default",
                "via",
                &gateway.to_string(),
            ])?;
            run(Command::new("ip").args([
                "netns",
                "exec",
                &router,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ]))?;
            nft(&router, &router_rules(site))?;
            sites.push((
                host(&format!("{name}-router"), &router, public),
                host(name, &inside, private),
            ));
        }
        let (away_router, away) = sites.pop().expect("two sites");
        let (home_router, home) = sites.pop().expect("two sites");
        lab.hosts = vec![
            internet.clone(),
            home_router.clone(),
            away_router.clone(),
            home.clone(),
            away.clone(),
        ];
        let secret: [u8; 16] = rand::random();
        let wire = if with_wire {
            Some(Wire::start(&format!("{prefix}-wire"), "l0", "l1")?)
        } else {
            None
        };
        Ok(Wan {
            wire,
            lab,
            internet,
            home_router,
            away_router,
            home,
            away,
            turn_secret: secret.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// Starts coturn in the internet: STUN and TURN on [`TURN_PORT`] over UDP and TCP,
    /// time-limited credentials from [`Wan::turn_secret`] (`use-auth-secret`), relay
    /// addresses on [`INTERNET_IP`], no TLS, no CLI, state in `dir`. Returns once it
    /// listens on TCP.
    pub fn start_turn(&self, dir: &Path) -> Result<ChildGuard> {
        let dir = dir.to_str().context("a UTF-8 directory for coturn")?;
        let turn = self.spawn(
            self.internet
                .command("turnserver")
                .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint"])
                .arg(format!("--listening-ip={INTERNET_IP}"))
                .arg(format!("--relay-ip={INTERNET_IP}"))
                .arg(format!("--listening-port={TURN_PORT}"))
                .args(["--min-port=40000", "--max-port=40999"])
                .args(["--use-auth-secret", "--realm=eyrie.lab"])
                // As a deployment should: no relaying into private networks (a viewer's
                // TURN allocation must not reach the operator's LAN); peers' host
                // candidates there are refused at CreatePermission.
                .arg("--denied-peer-ip=10.0.0.0-10.255.255.255")
                .arg(format!("--static-auth-secret={}", self.turn_secret))
                .arg(format!("--pidfile={dir}/turnserver.pid"))
                .arg(format!("--userdb={dir}/turndb"))
                .args([
                    "--log-file=stdout",
                    "--simple-log",
                    "--no-software-attribute",
                    "--verbose",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.internet.wait_tcp(TURN_PORT, Duration::ZERO).is_err() {
            if let Some(status) = turn.try_wait()? {
                bail!(
                    "coturn exited ({status}): {}{}",
                    turn.stdout(),
                    turn.stderr()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "coturn did not listen: {}",
                turn.stdout()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(turn)
    }

    /// The `eyrie cloud` options that hand out coturn: its STUN URL, TURN over the
    /// transports named (`udp`, `tcp`), and the shared secret.
    pub fn cloud_ice_args(&self, transports: &[&str]) -> Vec<String> {
        let at = format!("{INTERNET_IP}:{TURN_PORT}");
        let turn: Vec<String> = transports
            .iter()
            .map(|t| format!("turn:{at}?transport={t}"))
            .collect();
        vec![
            "--stun-urls".into(),
            format!("stun:{at}"),
            "--turn-urls".into(),
            turn.join(","),
            "--turn-secret".into(),
            self.turn_secret.clone(),
        ]
    }

    /// Gives the away host a new address (10.2.1.2) and drops the old one: the viewer's
    /// network changed under it (Wi-Fi to another network).
    pub fn move_away(&self) -> Result<Ipv4Addr> {
        let (router, away) = (&self.away_router.netns, &self.away.netns);
        let new = Ipv4Addr::new(10, 2, 1, 2);
        ip(&["-n", router, "addr", "add", "10.2.1.1/24", "dev", "lan0"])?;
        ip(&[
            "-n",
            away,
            "addr",
            "add",
            &format!("{new}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&[
            "-n",
            away,
            "addr",
            "del",
            &format!("{}/24", self.away.ip),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", away, "route", "replace", "default", "via", "10.2.1.1"])?;
        Ok(new)
    }

    /// The away link's wire ([`Wan::with_wire`]); panics on a lab built without one.
    pub fn wire(&self) -> &Wire {
        self.wire.as_ref().expect("a lab built with Wan::with_wire")
    }

    /// Sets the away link's added one-way delay and loss (both directions).
    pub fn shape_away(&self, delay: Duration, loss: f64) -> Result<()> {
        self.wire().set(Shape { delay, loss })
    }

    /// Limits what the home router sends to the internet (the camera's uplink) to
    /// `kbit_s` with `tbf`, the way a home line's upload is: a 32 KiB bucket and up to
    /// `queue_ms` of queue, then drops. `None` removes the limit.
    pub fn limit_home_uplink(&self, limit: Option<(u32, u32)>) -> Result<()> {
        let router = &self.home_router.netns;
        match limit {
            Some((kbit_s, queue_ms)) => {
                ensure!(
                    (64..=1_000_000).contains(&kbit_s) && (1..=10_000).contains(&queue_ms),
                    "an uplink of {kbit_s} kbit/s with {queue_ms} ms of queue is no line"
                );
                ip_tc(
                    router,
                    &[
                        "qdisc",
                        "replace",
                        "dev",
                        "wan0",
                        "root",
                        "tbf",
                        "rate",
                        &format!("{kbit_s}kbit"),
                        "burst",
                        "32kb",
                        "latency",
                        &format!("{queue_ms}ms"),
                    ],
                )
            }
            None => ip_tc(router, &["qdisc", "del", "dev", "wan0", "root"]),
        }
    }

    /// The router's conntrack table as nft lists it, for a failing test's message.
    pub fn nat_table(&self, router: &Host) -> String {
        run(Command::new("ip").args(["netns", "exec", &router.netns, "nft", "list", "ruleset"]))
            .unwrap_or_else(|e| format!("{e:#}"))
    }

    /// Everything started in the lab, stopped now (before the lab goes).
    pub fn stop_all(&self) {
        for child in lock(&self.lab.children).drain(..) {
            super::kill_child(&child);
        }
    }
}

/// A router's ruleset: source NAT out of `wan0` (port-preserving or random), inbound only
/// for connections it saw go out, and optionally no UDP out.
///
/// Unsolicited packets from the internet are dropped silently, also those addressed to
/// the router itself, as home routers do: accepted locally, a peer's early ICE check
/// (sent before this side's own check opened the mapping) would leave an unreplied
/// conntrack entry for exactly the tuple the mapping needs — the NAT then picks another
/// port and a port-preserving NAT behaves like a symmetric one — and the router's ICMP
/// "port unreachable" makes the peer's agent give up on the pair. Dropped in the filter
/// hook, the entry is never confirmed.
fn router_rules(site: Site) -> String {
    let random = match site.nat {
        Nat::EndpointIndependent => "",
        Nat::Symmetric => " random",
    };
    let block = if site.block_udp {
        "iifname \"lan0\" oifname \"wan0\" meta l4proto udp drop\n"
    } else {
        ""
    };
    format!(
        "table ip eyrie_nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname \"wan0\" masquerade{random}
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    {block}iifname \"lan0\" oifname \"wan0\" accept
    iifname \"wan0\" oifname \"lan0\" ct state established,related accept
  }}
  chain input {{
    type filter hook input priority filter; policy drop;
    iifname {{ \"lo\", \"lan0\" }} accept
    ct state established,related accept
  }}
}}
"
    )
}

/// Runs `tc` in `netns`.
fn ip_tc(netns: &str, args: &[&str]) -> Result<()> {
    run(Command::new("ip")
        .args(["netns", "exec", netns, "tc"])
        .args(args))
    .map(drop)
}

/// Loads an nft ruleset in `netns`.
fn nft(netns: &str, rules: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", netns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft")?;
    child
        .stdin
        .take()
        .context("nft's stdin")?
        .write_all(rules.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "nft refused the rules ({}): {}\n{rules}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Wan {
    /// `eyrie cloud` in the internet (`--listen 0.0.0.0:8470`, embedded broker and store,
    /// data in `data`) handing out this lab's coturn ([`Wan::cloud_ice_args`]); returns it
    /// and the cloud link it prints.
    pub fn start_cloud(
        &self,
        data: &Path,
        turn_transports: &[&str],
    ) -> Result<(ChildGuard, String)> {
        let cloud = self.spawn(
            self.internet
                .command(env!("CARGO_BIN_EXE_eyrie"))
                .args(["cloud", "--listen", "0.0.0.0:8470", "--data-dir"])
                .arg(data)
                .args(self.cloud_ice_args(turn_transports))
                .env_remove(ICE_ENV)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let link = wait_line(&cloud, "eyrie cloud: link", Duration::from_secs(60))
            .context("the cloud printed no link")?;
        Ok((cloud, link))
    }
}

/// Polls a child's stdout for a line starting with `prefix`; the rest of that line.
pub fn wait_line(child: &ChildGuard, prefix: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(line) = child.stdout().lines().find_map(|l| {
            l.trim_start()
                .strip_prefix(prefix)
                .map(|r| r.trim().to_owned())
        }) {
            return Ok(line);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the process ended ({status}) before printing {prefix:?}:\n{}\n{}",
                child.stdout(),
                child.stderr()
            );
        }
        ensure!(
            Instant::now() < deadline,
            "no {prefix:?} within {timeout:?}:\n{}\n{}",
            child.stdout(),
            child.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The variable that keeps the suite's ICE on loopback; lab children must not inherit it.
pub const ICE_ENV: &str = "EYRIE_ICE_ADDRESSES";
