//! The topics and the discovery documents: pure functions of the camera's identity.
//!
//! One discovery document per entity, on
//! `<discovery prefix>/<component>/<node id>/<object id>/config` (retained), all naming
//! the same `device`, so Home Assistant groups them under one device whose configuration
//! URL is the camera's WHEP URL. Keys are Home Assistant's long names, as its MQTT
//! integration pages list them (`docs/home-assistant.md` cites them), never the
//! abbreviations.
//!
//! `<base>` is `eyrie-ha/<device id>`, apart from the signalling topics (`eyrie/…`).
//!
//! ```text
//!  <base>/availability   online | offline (retained; the last will says offline)
//!  <base>/state          {"motion":"ON","privacy":"OFF","viewers":0} (retained)
//!  <base>/snapshot       JPEG bytes (retained)
//!  <base>/privacy/set    ON | OFF         ◄─ Home Assistant (switch)
//!  <base>/record/set     PRESS            ◄─ Home Assistant (button)
//! ```

use serde_json::{Value, json};

/// Payload of [`Topics::availability`] while the camera runs.
pub const ONLINE: &str = "online";
/// Payload of [`Topics::availability`] once it stopped (also its last will).
pub const OFFLINE: &str = "offline";
/// Switch and binary sensor payloads.
pub const ON: &str = "ON";
pub const OFF: &str = "OFF";
/// What the "record now" button sends.
pub const PRESS: &str = "PRESS";

/// Who the camera is, as Home Assistant sees it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The camera's device id (from the cloud).
    pub device_id: uuid::Uuid,
    /// The device's name in Home Assistant.
    pub name: String,
    /// `{cloud}/api/v1/devices/{device_id}/whep`.
    pub whep_url: String,
    /// Home Assistant's discovery prefix (`homeassistant` unless changed there).
    pub discovery_prefix: String,
}

impl Identity {
    /// `eyrie_<device id without dashes>`: the discovery topics' node id and the device's
    /// identifier (characters `[a-zA-Z0-9_-]` only, as the discovery topic needs).
    pub fn node_id(&self) -> String {
        format!("eyrie_{}", self.device_id.simple())
    }

    pub fn topics(&self) -> Topics {
        Topics {
            base: format!("eyrie-ha/{}", self.device_id),
            prefix: self.discovery_prefix.clone(),
        }
    }
}

/// The topics one camera uses.
#[derive(Debug, Clone)]
pub struct Topics {
    base: String,
    prefix: String,
}

impl Topics {
    pub fn availability(&self) -> String {
        format!("{}/availability", self.base)
    }
    pub fn state(&self) -> String {
        format!("{}/state", self.base)
    }
    pub fn snapshot(&self) -> String {
        format!("{}/snapshot", self.base)
    }
    pub fn privacy_set(&self) -> String {
        format!("{}/privacy/set", self.base)
    }
    pub fn record_set(&self) -> String {
        format!("{}/record/set", self.base)
    }
    /// Where Home Assistant says `online` when it (re)starts (its birth message).
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.prefix)
    }
    /// `<prefix>/<component>/<node id>/<object id>/config`.
    pub fn config(&self, component: &str, node_id: &str, object_id: &str) -> String {
        format!("{}/{component}/{node_id}/{object_id}/config", self.prefix)
    }
}

/// The camera's state as published on [`Topics::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct State {
    pub motion: bool,
    pub privacy: bool,
    pub viewers: usize,
}

impl State {
    pub fn to_json(self) -> Vec<u8> {
        let on = |b: bool| if b { ON } else { OFF };
        json!({
            "motion": on(self.motion),
            "privacy": on(self.privacy),
            "viewers": self.viewers,
        })
        .to_string()
        .into_bytes()
    }
}

/// Every discovery document: (config topic, JSON document).
pub fn documents(id: &Identity) -> Vec<(String, Value)> {
    let topics = id.topics();
    let node = id.node_id();
    let device = json!({
        "identifiers": [node],
        "name": id.name,
        "manufacturer": "Eyrie",
        "model": "Eyrie camera",
        "sw_version": env!("CARGO_PKG_VERSION"),
        "configuration_url": id.whep_url,
    });
    let origin = json!({
        "name": "eyrie",
        "sw_version": env!("CARGO_PKG_VERSION"),
        "support_url": "https://github.com/eyrie-nvr/eyrie/blob/main/docs/home-assistant.md",
    });
    let availability = json!([{
        "topic": topics.availability(),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
    }]);
    // What every entity carries: its device, origin, id and availability.
    let entity = |object: &str, extra: Value, available: bool| {
        let mut doc = json!({
            "unique_id": format!("{node}_{object}"),
            "device": device,
            "origin": origin,
        });
        if available {
            doc["availability"] = availability.clone();
        }
        if let (Some(d), Value::Object(extra)) = (doc.as_object_mut(), extra) {
            d.extend(extra);
        }
        doc
    };
    vec![
        (
            topics.config("camera", &node, "snapshot"),
            entity(
                "snapshot",
                // No image_encoding: the payload is the JPEG's raw bytes. A null name
                // makes the camera the device's main feature (named after the device).
                json!({ "name": null, "topic": topics.snapshot() }),
                true,
            ),
        ),
        (
            topics.config("binary_sensor", &node, "motion"),
            entity(
                "motion",
                json!({
                    "name": "Motion",
                    "device_class": "motion",
                    "state_topic": topics.state(),
                    "value_template": "{{ value_json.motion }}",
                    "payload_on": ON,
                    "payload_off": OFF,
                }),
                true,
            ),
        ),
        (
            topics.config("binary_sensor", &node, "online"),
            // No availability of its own: when the camera is gone this sensor says
            // "disconnected" instead of becoming unavailable.
            entity(
                "online",
                json!({
                    "name": "Online",
                    "device_class": "connectivity",
                    "entity_category": "diagnostic",
                    "state_topic": topics.availability(),
                    "payload_on": ONLINE,
                    "payload_off": OFFLINE,
                }),
                false,
            ),
        ),
        (
            topics.config("switch", &node, "privacy"),
            entity(
                "privacy",
                json!({
                    "name": "Privacy mode",
                    "icon": "mdi:eye-off",
                    "command_topic": topics.privacy_set(),
                    "state_topic": topics.state(),
                    "value_template": "{{ value_json.privacy }}",
                    "payload_on": ON,
                    "payload_off": OFF,
                    "state_on": ON,
                    "state_off": OFF,
                    "optimistic": false,
                }),
                true,
            ),
        ),
        (
            topics.config("button", &node, "record_now"),
            entity(
                "record_now",
                json!({
                    "name": "Record now",
                    "icon": "mdi:record-rec",
                    "command_topic": topics.record_set(),
                    "payload_press": PRESS,
                }),
                true,
            ),
        ),
        (
            topics.config("sensor", &node, "viewers"),
            entity(
                "viewers",
                json!({
                    "name": "Live viewers",
                    "icon": "mdi:account-eye",
                    "state_topic": topics.state(),
                    "value_template": "{{ value_json.viewers }}",
                    "state_class": "measurement",
                    "entity_category": "diagnostic",
                }),
                true,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            device_id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            name: "Hall".into(),
            whep_url: "https://cloud.example:8470/api/v1/devices/x/whep".into(),
            discovery_prefix: "homeassistant".into(),
        }
    }

    #[test]
    fn topics_use_only_the_characters_discovery_allows() {
        let id = identity();
        let node = id.node_id();
        assert!(
            node.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{node}"
        );
        for (topic, doc) in documents(&id) {
            let parts: Vec<&str> = topic.split('/').collect();
            assert_eq!(parts.len(), 5, "{topic}");
            assert_eq!(parts[0], "homeassistant");
            assert_eq!(parts[2], node);
            assert_eq!(parts[4], "config");
            assert_eq!(doc["unique_id"], format!("{node}_{}", parts[3]));
            assert_eq!(doc["device"]["configuration_url"], id.whep_url);
        }
    }

    #[test]
    fn the_state_document_matches_the_value_templates() {
        let s = State {
            motion: true,
            privacy: false,
            viewers: 2,
        };
        let v: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(v, json!({"motion": "ON", "privacy": "OFF", "viewers": 2}));
    }
}
