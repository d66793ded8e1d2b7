//! Eyrie's wire types, shared by the three roles.
//!
//! Nothing in here does I/O: these are the contracts between the viewer, the camera and
//! the cloud. Each module is written up in `docs/` so that a third party can implement it
//! from the text alone.
//!
//! - [`ticket`]: the short-lived signalling ticket the cloud issues for (user, device) and
//!   the camera verifies with its device secret (`docs/signalling.md`).
//! - [`api`]: REST request and response bodies of the cloud service (`docs/api.md`).
//! - [`signalling`]: MQTT topics and messages between viewer and camera (`docs/signalling.md`).
//! - [`segment`]: the encrypted recording segment format (`docs/segment-format.md`).
//! - [`e2e`]: end-to-end recording keys: viewer keys, key sets, wrapped content keys and
//!   the pairing check (`docs/keys.md`).
//! - [`clock`]: Unix time in the units the wire carries.

pub mod api;
pub mod clock;
pub mod e2e;
pub mod segment;
pub mod signalling;
pub mod ticket;
pub mod trust;
