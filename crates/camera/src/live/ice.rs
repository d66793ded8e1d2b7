//! The STUN and TURN servers the camera's sessions gather with, kept fresh from the cloud.
//!
//! A camera behind a NAT needs STUN to learn its public address (a server-reflexive
//! candidate) and TURN when the viewer's NAT or firewall lets nothing direct through.
//! The cloud hands both out (`GET /api/v1/devices/{id}/ice-servers`), TURN with
//! credentials in coturn's REST form that expire. [`IceServers`] holds the current list;
//! [`IceServers::follow`] fetches it at start and again before it expires, so an offer
//! never waits on the cloud: each session copies what is there when it is built
//! ([`IceServers::current`]). A session keeps the servers it was built with for its
//! whole life (its TURN allocation, once made, is refreshed by libnice), and the next
//! session uses the new ones.
//!
//! When the cloud cannot be reached the list is kept as it was and the fetch is retried
//! with back-off (2 s doubling to a minute); credentials past their expiry are dropped
//! rather than offered (coturn would refuse them anyway, after a round trip).

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use eyrie_protocol::api::IceServersResponse;
use eyrie_protocol::clock::unix_secs;

/// The servers for `webrtcbin`: a STUN URL and TURN URLs with credentials in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceUrls {
    pub stun: Option<String>,
    pub turn: Vec<String>,
}

#[derive(Debug, Default)]
struct Current {
    urls: IceUrls,
    /// Unix seconds after which `urls.turn` is no use; `None`: never.
    expires_at: Option<i64>,
}

/// The current ICE servers. Cheap to clone; clones share the list.
#[derive(Debug, Clone, Default)]
pub struct IceServers(Arc<RwLock<Current>>);

impl IceServers {
    /// Fixed servers that never expire (a camera configured by hand, tests).
    pub fn fixed(stun: Option<String>, turn: Vec<String>) -> Self {
        let s = Self::default();
        s.write(Current {
            urls: IceUrls { stun, turn },
            expires_at: None,
        });
        s
    }

    /// What a session built now gathers with (TURN left out once expired).
    pub fn current(&self) -> IceUrls {
        let c = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut urls = c.urls.clone();
        if c.expires_at.is_some_and(|exp| exp <= unix_secs()) {
            urls.turn.clear();
        }
        urls
    }

    /// Takes the cloud's answer.
    pub fn set(&self, response: &IceServersResponse) {
        let (stun, turn) = eyrie_rtc::rtc::ice_urls(&response.ice_servers);
        self.write(Current {
            urls: IceUrls { stun, turn },
            expires_at: Some(response.expires_at),
        });
    }

    fn write(&self, c: Current) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// Keeps the list fresh from `fetch` (the cloud's ICE route): now, then when 80 % of
    /// the credentials' lifetime has passed (at least 10 s apart), retrying failures with
    /// back-off. Needs a tokio runtime; ends when every clone of `self` is gone.
    pub fn follow<F, Fut, E>(&self, fetch: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<IceServersResponse, E>> + Send,
        E: std::fmt::Display,
    {
        let weak: Weak<RwLock<Current>> = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(2);
            loop {
                let wait = match fetch().await {
                    Ok(response) => {
                        let Some(strong) = weak.upgrade() else { return };
                        IceServers(strong).set(&response);
                        backoff = Duration::from_secs(2);
                        let left = (response.expires_at - unix_secs()).max(0) as u64;
                        tracing::debug!(
                            servers = response.ice_servers.len(),
                            expires_in_s = left,
                            "ICE servers from the cloud"
                        );
                        Duration::from_secs((left * 4 / 5).clamp(10, 24 * 3600))
                    }
                    Err(e) => {
                        tracing::warn!("cannot fetch ICE servers (retry in {backoff:?}): {e}");
                        let wait = backoff;
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                        wait
                    }
                };
                // Wake up now and then to notice the last clone went.
                let until = tokio::time::Instant::now() + wait;
                while tokio::time::Instant::now() < until {
                    if weak.strong_count() == 0 {
                        return;
                    }
                    tokio::time::sleep_until(
                        until.min(tokio::time::Instant::now() + Duration::from_secs(5)),
                    )
                    .await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eyrie_protocol::api::IceServer;

    fn response(expires_at: i64) -> IceServersResponse {
        IceServersResponse {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:203.0.113.1:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turn:203.0.113.1:3478?transport=tcp".into()],
                    username: Some("1700000000:dev".into()),
                    credential: Some("a+b/c=".into()),
                },
            ],
            expires_at,
        }
    }

    #[test]
    fn turn_is_offered_until_it_expires() {
        let ice = IceServers::default();
        assert_eq!(ice.current(), IceUrls::default());
        ice.set(&response(unix_secs() + 600));
        let now = ice.current();
        assert_eq!(now.stun.as_deref(), Some("stun://203.0.113.1:3478"));
        assert_eq!(
            now.turn,
            ["turn://1700000000%3Adev:a%2Bb%2Fc%3D@203.0.113.1:3478?transport=tcp"]
        );
        // Expired credentials are not offered; STUN needs none and stays.
        ice.set(&response(unix_secs() - 1));
        let later = ice.current();
        assert!(later.turn.is_empty(), "{later:?}");
        assert!(later.stun.is_some());
    }

    #[tokio::test]
    async fn follow_fetches_at_once_and_stops_with_the_last_clone() {
        let ice = IceServers::default();
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let c = calls.clone();
        ice.follow(move || {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, String>(response(unix_secs() + 600)) }
        });
        for _ in 0..100 {
            if !ice.current().turn.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(ice.current().turn.len(), 1);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        let weak = Arc::downgrade(&ice.0);
        drop(ice);
        assert!(
            weak.upgrade().is_none(),
            "the follower holds no strong reference"
        );
    }
}
