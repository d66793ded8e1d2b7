//! A delay-and-loss "wire" for the WAN lab: the kernel here has no `netem`, so this is
//! a small userspace forwarder that stands in for it on one link.
//!
//! The link it shapes is cut in two and a namespace of its own put in between; two raw
//! `AF_PACKET` sockets, one on each half, read every Ethernet frame that arrives and write
//! it to the other half after a fixed one-way delay — or drop it with probability `loss`
//! (a seeded RNG; the seed is printed, `LAB_WIRE_SEED` repeats a run). It works on whole
//! frames, below IP, so ARP, TCP and UDP all cross it unchanged and the NAT routers on
//! either side see nothing new.
//!
//! ```text
//!   <p>-raway lan0 ══ l0 ┐ <p>-wire: reader ─► [delay, loss] ─► writer ┌ l1 ══ eth0 <p>-away
//!                        └────────── writer ◄─ [delay, loss] ◄─ reader ┘
//! ```
//!
//! The sockets use `PACKET_VNET_HDR`: each frame comes with the kernel's offload
//! metadata (a TCP segment bigger than the MTU that a veth passed on whole, a checksum
//! left for the hardware to fill in) and goes out with it, so the kernel finishes them on
//! the far side as it would have without the wire.
//!
//! The threads belong to the test process (a thread moves into the wire's namespace only
//! to open the sockets); dropping the [`Wire`] stops them, and so does the lab removing
//! the namespace — also when a test panics, since the lab's `Drop` runs on unwinding.
#![allow(unsafe_code)] // the libc calls below: socket, bind, recv, send, setns

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};

/// Bytes of the `virtio_net_hdr` in front of every frame (no `num_buffers`).
const VNET_HDR: usize = 10;
/// Loss is kept in millionths.
const PPM: u32 = 1_000_000;

/// What a wire does to each frame, the same both ways. Changed at run time with
/// [`Wire::set`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Shape {
    /// Added one-way delay (so the round trip grows by twice this).
    pub delay: Duration,
    /// Probability that a frame is dropped, 0.0–1.0.
    pub loss: f64,
}

/// Frames counted by a [`Wire`], both directions together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    pub forwarded: u64,
    pub dropped: u64,
    /// Frames the kernel refused to send on (should stay 0).
    pub send_errors: u64,
}

struct Shared {
    stop: AtomicBool,
    delay_us: AtomicU64,
    loss_ppm: AtomicU32,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    send_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A running forwarder between the two interfaces of a namespace. Stops when dropped.
pub struct Wire {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    pub seed: u64,
}

impl Wire {
    /// Starts forwarding between `a` and `b` (interface names) in the namespace `netns`
    /// (a name under /run/netns), with no delay and no loss yet.
    pub fn start(netns: &str, a: &str, b: &str) -> Result<Wire> {
        let seed = std::env::var("LAB_WIRE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random::<u64>);
        eprintln!("lab wire {netns}: seed {seed} (LAB_WIRE_SEED={seed} repeats it)");
        let (sa, sb) = open_in(netns, a, b)?;
        let (sa, sb) = (Arc::new(sa), Arc::new(sb));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            delay_us: AtomicU64::new(0),
            loss_ppm: AtomicU32::new(0),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let mut threads = Vec::new();
        for (i, (from, to)) in [(sa.clone(), sb.clone()), (sb, sa)].into_iter().enumerate() {
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let s = shared.clone();
            let rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(i as u64));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("wire-rx{i}"))
                    .spawn(move || read_loop(&from, &s, rng, &tx))?,
            );
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("wire-tx{i}"))
                    .spawn(move || write_loop(&to, &s, &rx))?,
            );
        }
        Ok(Wire {
            shared,
            threads,
            seed,
        })
    }

    /// Changes the delay and loss for frames read from now on. A loss outside 0–1 is
    /// refused (and nothing changes).
    pub fn set(&self, shape: Shape) -> Result<()> {
        if !(0.0..=1.0).contains(&shape.loss) {
            bail!("a loss is a probability, 0 to 1, not {}", shape.loss);
        }
        if shape.delay > Duration::from_secs(10) {
            bail!("a delay above 10 s is no link: {:?}", shape.delay);
        }
        self.shared
            .delay_us
            .store(shape.delay.as_micros() as u64, Ordering::Relaxed);
        self.shared.loss_ppm.store(
            (shape.loss * f64::from(PPM)).round() as u32,
            Ordering::Relaxed,
        );
        eprintln!("lab wire: {shape:?}");
        Ok(())
    }

    pub fn stats(&self) -> WireStats {
        WireStats {
            forwarded: self.shared.forwarded.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            send_errors: self.shared.send_errors.load(Ordering::Relaxed),
        }
    }

    /// The last error a send gave, if any (for a failing test's message).
    pub fn last_error(&self) -> Option<String> {
        self.shared
            .last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let s = self.stats();
        eprintln!(
            "lab wire: {} frames forwarded, {} dropped, {} send errors",
            s.forwarded, s.dropped, s.send_errors
        );
    }
}

/// Reads frames from `from`, drops some, stamps the rest with their due time.
fn read_loop(
    from: &OwnedFd,
    s: &Shared,
    mut rng: rand::rngs::StdRng,
    tx: &mpsc::Sender<(Instant, Vec<u8>)>,
) {
    let mut buf = vec![0u8; VNET_HDR + 65_600];
    while !s.stop.load(Ordering::Relaxed) {
        let n = match recv(from.as_raw_fd(), &mut buf) {
            Ok(Some(n)) => n,
            Ok(None) => continue, // timeout: look at `stop`
            Err(_) => return,     // the namespace is gone
        };
        let loss = s.loss_ppm.load(Ordering::Relaxed);
        if loss > 0 && rng.random_range(0..PPM) < loss {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let due = Instant::now() + Duration::from_micros(s.delay_us.load(Ordering::Relaxed));
        if tx.send((due, buf[..n].to_vec())).is_err() {
            return;
        }
    }
}

/// Writes each frame to `to` once it is due. The delay is the same for every frame read
/// under one setting, so frames leave in the order they came.
fn write_loop(to: &OwnedFd, s: &Shared, rx: &mpsc::Receiver<(Instant, Vec<u8>)>) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    loop {
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        let wait = queue
            .front()
            .map_or(Duration::from_millis(100), |(due, _)| {
                due.saturating_duration_since(Instant::now())
            });
        if wait > Duration::ZERO {
            match rx.recv_timeout(wait.min(Duration::from_millis(100))) {
                Ok(frame) => queue.push_back(frame),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) if queue.is_empty() => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                }
            }
            continue;
        }
        let Some((_, frame)) = queue.pop_front() else {
            continue;
        };
        match send(to.as_raw_fd(), &frame) {
            Ok(()) => {
                s.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                s.send_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = s.last_error.lock() {
                    *last = Some(format!("send of {} bytes: {e}", frame.len()));
                }
            }
        }
    }
}

/// Opens one packet socket on each interface, from a thread that moved into `netns`
/// (setns affects only the calling thread; the sockets stay in that namespace).
fn open_in(netns: &str, a: &str, b: &str) -> Result<(OwnedFd, OwnedFd)> {
    let path = format!("/run/netns/{netns}");
    let (a, b) = (a.to_owned(), b.to_owned());
    std::thread::spawn(move || -> Result<(OwnedFd, OwnedFd)> {
        let ns = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        // SAFETY: a plain syscall on an fd we own; it changes this thread's namespace
        // only, and the thread ends right after.
        let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        if r != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        Ok((packet_socket(&a)?, packet_socket(&b)?))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the wire's set-up thread panicked"))?
}

/// A raw packet socket bound to interface `name`, all protocols, with virtio-net headers,
/// not reading back what it sends itself, and a 100 ms receive timeout.
fn packet_socket(name: &str) -> Result<OwnedFd> {
    let cname = std::ffi::CString::new(name)?;
    // SAFETY: the libc calls below get valid pointers to locals of the right size; the
    // fd is owned by an `OwnedFd` from the moment it exists.
    unsafe {
        let index = libc::if_nametoindex(cname.as_ptr());
        if index == 0 {
            bail!("no interface {name}: {}", std::io::Error::last_os_error());
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto));
        if fd < 0 {
            bail!("packet socket: {}", std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        for (opt, what) in [
            (libc::PACKET_VNET_HDR, "PACKET_VNET_HDR"),
            (libc::PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING"),
        ] {
            if libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                opt,
                (&raw const one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            ) != 0
            {
                bail!("{what} on {name}: {}", std::io::Error::last_os_error());
            }
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        if libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        ) != 0
        {
            bail!("SO_RCVTIMEO: {}", std::io::Error::last_os_error());
        }
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = index as i32;
        if libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ) != 0
        {
            bail!("binding to {name}: {}", std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// One frame (with its virtio-net header) into `buf`; `None` on the receive timeout.
fn recv(fd: RawFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => return Ok(None),
            std::io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

fn send(fd: RawFd, frame: &[u8]) -> std::io::Result<()> {
    // SAFETY: `frame` is valid for reads of its length.
    let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
