//! The login and registration limits, kept in the database so every instance on it
//! shares them.
//!
//! An attempt is **reserved before it is checked**: for each of its keys one atomic
//! statement ([`db::accounts::take_attempt`]) counts the attempt only if the key's window
//! still has room, and answers whether it did. Concurrent attempts therefore cannot all
//! slip past a read-then-write check: of 50 simultaneous guesses exactly the allowed
//! number are counted and checked, the rest answer 429 without touching the password.
//!
//! A login is keyed three ways, each with its own [`Limit`]:
//!
//! | key | limit | what it stops |
//! |---|---|---|
//! | (client address, account) | [`PAIR`]: 5 per 5 min | guessing one account from one place |
//! | account | [`ACCOUNT`]: 20 per hour | guesses spread over many addresses |
//! | client address | [`ADDRESS`]: 100 per 15 min | one place spraying many accounts |
//!
//! Keys are taken in that order; when one is full the ones already taken are given back,
//! so a refused attempt counts nowhere. A **successful** login clears its (address,
//! account) and account keys and gives its address reservation back, so only failures
//! add up: an attacker guessing bob's password from a shared address (a NAT, a family)
//! does not lock alice out there — alice's pair and account keys are untouched, and the
//! address key only fills after 100 failures. The account key can be filled by a
//! distributed attack, which holds that account's logins for up to an hour; that is the
//! price of limiting guesses that come from everywhere.
//!
//! Registration takes one [`REGISTER`] key per client address (10 per hour).
//!
//! The client address is the connection's peer, or — when the peer is a trusted reverse
//! proxy (`--trusted-proxy`) — the right-most `X-Forwarded-For` address that is not itself
//! a trusted proxy ([`client_ip`]). Without trusted proxies the header is ignored: anyone
//! could otherwise pick a fresh address per guess.
//!
//! Keys are stored as digests (user names a stranger typed are not kept). Each window is
//! fixed from its first attempt and restarts in the same statement once it has ended;
//! old windows are swept by the workers ([`sweep`]).
//!
//! ```text
//!  login ─► take(pair) ─► take(account) ─► take(address) ── any full ─► give back ─► 429
//!                                              │ all taken
//!                                              ▼
//!                        verify password ── wrong ─► (kept) 401
//!                                        └─ right ─► clear pair+account, give back address ─► 200
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderMap;
use eyrie_protocol::clock::unix_ms;

use crate::crypto::digest;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How many attempts a key allows per window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Prefix of the stored key (keeps the kinds apart).
    pub prefix: &'static str,
    /// Attempts allowed within [`Limit::window`].
    pub max: i64,
    /// Length of a window, from its first attempt.
    pub window: Duration,
}

/// Failed logins for one account from one client address.
pub const PAIR: Limit = Limit::new("pair", 5, Duration::from_secs(300));
/// Failed logins for one account from anywhere.
pub const ACCOUNT: Limit = Limit::new("acct", 20, Duration::from_secs(3600));
/// Failed logins from one client address, for any accounts.
pub const ADDRESS: Limit = Limit::new("addr", 100, Duration::from_secs(900));
/// Registrations from one client address.
pub const REGISTER: Limit = Limit::new("reg", 10, Duration::from_secs(3600));

/// The longest window: rows older than this are of no key any more.
const LONGEST: Duration = Duration::from_secs(3600);

impl Limit {
    /// `max` attempts per `window` under keys starting with `prefix`.
    pub const fn new(prefix: &'static str, max: i64, window: Duration) -> Self {
        Limit {
            prefix,
            max,
            window,
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

/// One key of an attempt: its limit and stored digest.
#[derive(Debug, Clone)]
pub struct Key {
    limit: Limit,
    hash: String,
}

impl Key {
    fn new(limit: Limit, what: &str) -> Self {
        Key {
            limit,
            hash: digest(&format!("{}:{what}", limit.prefix)),
        }
    }
}

/// The keys of a login, in the order they are taken.
pub struct LoginKeys {
    pair: Key,
    account: Key,
    address: Key,
}

impl LoginKeys {
    pub fn new(username_lc: &str, ip: IpAddr) -> Self {
        LoginKeys {
            pair: Key::new(PAIR, &format!("{ip}|{username_lc}")),
            account: Key::new(ACCOUNT, username_lc),
            address: Key::new(ADDRESS, &ip.to_string()),
        }
    }
}

/// The address of the client: the peer, or the forwarded client behind a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.ip().to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    // Each proxy appends the address it got the request from; read from the right and
    // stop at the first address that is not one of ours.
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// Reserve one attempt under each key, in order. When one is full, the ones already
/// taken are given back and the answer is 429 with the seconds until that key's window
/// ends.
async fn take(state: &AppState, keys: &[&Key]) -> ApiResult<()> {
    let now = unix_ms();
    for (i, k) in keys.iter().enumerate() {
        let expired = now - k.limit.window_ms();
        if db::accounts::take_attempt(&state.db, &k.hash, k.limit.max, now, expired).await? {
            continue;
        }
        for taken in &keys[..i] {
            db::accounts::give_back_attempt(&state.db, &taken.hash).await?;
        }
        let start = db::accounts::attempt_window(&state.db, &k.hash)
            .await?
            .unwrap_or(now);
        let secs = (start + k.limit.window_ms() - now).max(0) / 1000 + 1;
        return Err(ApiError::TooManyRequests(secs as u64));
    }
    Ok(())
}

/// Reserve a login attempt (before the password is checked).
pub async fn take_login(state: &AppState, keys: &LoginKeys) -> ApiResult<()> {
    let r = take(state, &[&keys.pair, &keys.account, &keys.address]).await;
    if r.is_err() {
        crate::metrics::LOGIN_FAILURES.inc();
    }
    r
}

/// The login failed: its reservation stays counted.
pub fn login_failed() {
    crate::metrics::LOGIN_FAILURES.inc();
}

/// The login succeeded: clear the account's keys and give the address its attempt back.
pub async fn login_succeeded(state: &AppState, keys: &LoginKeys) -> db::Result<()> {
    db::accounts::clear_attempts(&state.db, &keys.pair.hash).await?;
    db::accounts::clear_attempts(&state.db, &keys.account.hash).await?;
    db::accounts::give_back_attempt(&state.db, &keys.address.hash).await
}

/// Reserve a registration from this client address.
pub async fn take_registration(state: &AppState, ip: IpAddr) -> ApiResult<()> {
    take(state, &[&Key::new(REGISTER, &ip.to_string())]).await
}

/// Forget windows that have ended.
pub async fn sweep(state: &AppState) -> db::Result<()> {
    let longest = i64::try_from(LONGEST.as_millis()).unwrap_or(i64::MAX);
    db::accounts::sweep_login_failures(&state.db, unix_ms() - longest).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 4000);
        let h = headers(&["203.0.113.9, 198.51.100.4"]);
        assert_eq!(client_ip(peer, &h, &[]), proxy);
        assert_eq!(
            client_ip(peer, &h, &[proxy]),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        // A chain of our own proxies is skipped; a forged left part is not believed.
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let h = headers(&["1.2.3.4", "198.51.100.4, 10.0.0.2"]);
        assert_eq!(
            client_ip(peer, &h, &[proxy, inner]),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        // A header that does not parse is not guessed at.
        assert_eq!(client_ip(peer, &headers(&["junk"]), &[proxy]), proxy);
        assert_eq!(client_ip(peer, &HeaderMap::new(), &[proxy]), proxy);
    }
}
