//! Who may use which topic: the rights of `docs/signalling.md` § "Broker ACLs", with a
//! viewer's rights narrowed to the cameras its user owns.
//!
//! | login | publish | subscribe | retain |
//! |---|---|---|---|
//! | device `D` | `eyrie/D/#` | within `eyrie/D/#` | `eyrie/D/status` with `online`/`offline`; an empty payload (clearing) anywhere in its tree |
//! | viewer `viewer-U` | `eyrie/D/in/viewer-U`, D owned by U | `eyrie/+/out/viewer-U` (or one `D`), `eyrie/D/status` for D owned by U | never |
//!
//! A filter is granted only if every topic it can match is readable, so `#`, `eyrie/#`
//! and `eyrie/+/status` are refused to viewers (they would reveal other users' device
//! ids). The checks are pure; the set of owned devices is given by the caller.

use std::collections::HashSet;

use uuid::Uuid;

/// Topic root of signalling.
const ROOT: &str = "eyrie";

/// The identity behind a broker login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Device(Uuid),
    /// A viewer of this user.
    Viewer(Uuid),
}

/// An id exactly as the cloud writes ids (lower-case hyphenated).
fn stored_id(s: &str) -> Option<Uuid> {
    s.parse::<Uuid>().ok().filter(|u| u.to_string() == s)
}

impl Login {
    /// From a broker user name (`<device id>` or `viewer-<user id>`).
    pub fn parse(username: &str) -> Option<Login> {
        match username.strip_prefix("viewer-") {
            Some(u) => stored_id(u).map(Login::Viewer),
            None => stored_id(username).map(Login::Device),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Login::Device(d) => d.to_string(),
            Login::Viewer(u) => format!("viewer-{u}"),
        }
    }
}

/// A login with the devices its user owns (empty for a device).
#[derive(Debug, Clone)]
pub struct Rights {
    pub login: Login,
    pub owned: HashSet<Uuid>,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    /// Allowed if the user owns this device (the set may be out of date: look again).
    IfOwned(Uuid),
}

impl Verdict {
    fn owned_by(self, owned: &HashSet<Uuid>) -> Verdict {
        match self {
            Verdict::IfOwned(d) if owned.contains(&d) => Verdict::Allow,
            v => v,
        }
    }
}

impl Rights {
    /// May this login publish `payload` to `topic` (with `retain`)?
    pub fn publish(&self, topic: &str, retain: bool, payload: &[u8]) -> Verdict {
        let levels: Vec<&str> = topic.split('/').collect();
        if topic.contains(['+', '#']) || levels.first() != Some(&ROOT) || levels.len() < 2 {
            return Verdict::Deny;
        }
        match self.login {
            Login::Device(d) => {
                if levels[1] != d.to_string() {
                    return Verdict::Deny;
                }
                let status = levels.len() == 3 && levels[2] == "status";
                let retain_ok =
                    payload.is_empty() || (status && matches!(payload, b"online" | b"offline"));
                if retain && !retain_ok {
                    Verdict::Deny
                } else {
                    Verdict::Allow
                }
            }
            Login::Viewer(_) => {
                if retain || levels.len() != 4 || levels[2] != "in" {
                    return Verdict::Deny;
                }
                if levels[3] != self.login.name() {
                    return Verdict::Deny;
                }
                match stored_id(levels[1]) {
                    Some(dev) => Verdict::IfOwned(dev).owned_by(&self.owned),
                    None => Verdict::Deny,
                }
            }
        }
    }

    /// May this login subscribe to `filter` (every topic it matches readable)?
    pub fn subscribe(&self, filter: &str) -> Verdict {
        let levels: Vec<&str> = filter.split('/').collect();
        // A wildcard must be a whole level, and `#` the last one (§4.7.1).
        let well_formed = levels.iter().enumerate().all(|(i, l)| {
            (!l.contains('+') || *l == "+")
                && (!l.contains('#') || (*l == "#" && i == levels.len() - 1))
        });
        if !well_formed || levels.first() != Some(&ROOT) || levels.len() < 2 {
            return Verdict::Deny;
        }
        match self.login {
            Login::Device(d) => {
                if levels[1] == d.to_string() {
                    Verdict::Allow
                } else {
                    Verdict::Deny
                }
            }
            Login::Viewer(_) => match levels.as_slice() {
                [_, _, "out", me] if *me == self.login.name() => Verdict::Allow,
                [_, dev, "status"] => match stored_id(dev) {
                    Some(dev) => Verdict::IfOwned(dev).owned_by(&self.owned),
                    None => Verdict::Deny,
                },
                _ => Verdict::Deny,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid, Uuid) {
        (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4())
    }

    #[test]
    fn devices_keep_to_their_tree_and_retain_only_presence() {
        let (d, other, _) = ids();
        let r = Rights {
            login: Login::Device(d),
            owned: HashSet::new(),
        };
        let p = |t: String, retain, body: &[u8]| r.publish(&t, retain, body);
        assert_eq!(
            p(format!("eyrie/{d}/out/viewer-x"), false, b"{}"),
            Verdict::Allow
        );
        assert_eq!(
            p(format!("eyrie/{d}/status"), true, b"online"),
            Verdict::Allow
        );
        assert_eq!(p(format!("eyrie/{d}/status"), true, b"junk"), Verdict::Deny);
        assert_eq!(
            p(format!("eyrie/{d}/in/viewer-x"), true, b""),
            Verdict::Allow
        );
        assert_eq!(
            p(format!("eyrie/{d}/in/viewer-x"), true, b"x"),
            Verdict::Deny
        );
        assert_eq!(
            p(format!("eyrie/{other}/status"), true, b"offline"),
            Verdict::Deny
        );
        assert_eq!(r.subscribe(&format!("eyrie/{d}/in/+")), Verdict::Allow);
        assert_eq!(r.subscribe("eyrie/+/in/+"), Verdict::Deny);
        assert_eq!(r.subscribe("#"), Verdict::Deny);
    }

    #[test]
    fn viewers_write_only_into_owned_inboxes_under_their_name() {
        let (u, mine, theirs) = ids();
        let r = Rights {
            login: Login::Viewer(u),
            owned: [mine].into(),
        };
        let me = format!("viewer-{u}");
        assert_eq!(
            r.publish(&format!("eyrie/{mine}/in/{me}"), false, b"{}"),
            Verdict::Allow
        );
        assert_eq!(
            r.publish(&format!("eyrie/{mine}/in/{me}"), true, b"{}"),
            Verdict::Deny
        );
        assert_eq!(
            r.publish(&format!("eyrie/{theirs}/in/{me}"), false, b"{}"),
            Verdict::IfOwned(theirs)
        );
        assert_eq!(
            r.publish(&format!("eyrie/{mine}/in/viewer-{theirs}"), false, b""),
            Verdict::Deny
        );
        assert_eq!(
            r.publish(&format!("eyrie/{mine}/status"), false, b"offline"),
            Verdict::Deny
        );
        assert_eq!(
            r.publish(&format!("eyrie/{mine}/out/{me}"), false, b"{}"),
            Verdict::Deny
        );
        for f in [
            "#",
            "eyrie/#",
            "eyrie/+/status",
            "eyrie/+/in/+",
            "eyrie/+/out/+",
            "$SYS/#",
        ] {
            assert_eq!(r.subscribe(f), Verdict::Deny, "{f}");
        }
        assert_eq!(r.subscribe(&format!("eyrie/+/out/{me}")), Verdict::Allow);
        assert_eq!(r.subscribe(&format!("eyrie/{mine}/status")), Verdict::Allow);
        assert_eq!(
            r.subscribe(&format!("eyrie/{theirs}/status")),
            Verdict::IfOwned(theirs)
        );
        assert_eq!(
            r.subscribe(&format!("eyrie/{mine}/out/{me}/#")),
            Verdict::Deny
        );
    }

    #[test]
    fn logins_name_one_identity() {
        let u = Uuid::new_v4();
        assert_eq!(Login::parse(&format!("viewer-{u}")), Some(Login::Viewer(u)));
        assert_eq!(Login::parse(&u.to_string()), Some(Login::Device(u)));
        assert_eq!(Login::parse(&u.to_string().to_uppercase()), None);
        assert_eq!(Login::parse("viewer-x"), None);
    }
}
