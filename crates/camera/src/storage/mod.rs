//! Cloud storage: record the main stream, encrypt it, spool it, upload it.
//!
//! (essay filled in with the recorder below)

pub mod cloud;
pub mod spool;
pub mod upload;
