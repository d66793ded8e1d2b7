//! Opening snapshots lives in `eyrie-api` ([`open_snapshot`]: a sealed camera JPEG or a
//! plain picture the app kept, told apart by its first bytes); re-exported here so viewer
//! code keeps its paths.

pub use eyrie_api::snapshot::*;
