//! The typed client of the cloud REST API lives in `eyrie-api` (one client for the app,
//! the camera and the tests); it is re-exported here so viewer code keeps its paths.

pub use eyrie_api::*;
