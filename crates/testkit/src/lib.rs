//! Eyrie's test kit: the real parts a test needs, started for it and gone when it ends.
//!
//! Every integration test of the workspace used to carry its own copy of "find a free
//! port, start mosquitto / PostgreSQL / Garage, spawn the cloud, register, log in, create
//! a device". Those copies drifted (one waited for the port, one slept; one cleaned up
//! its cluster, one left 130 MB behind). This crate is the one copy:
//!
//! - [`net`]: free loopback ports and waiting for a listener;
//! - [`process`]: child processes that die with the test process, even when it panics;
//! - [`postgres`]: one PostgreSQL server per test binary, a fresh database per test;
//! - [`garage`]: one single-node Garage per test binary (an S3 we did not write);
//! - [`mosquitto`]: a mosquitto broker with the documented ACL, optionally TLS;
//! - [`cloud`]: [`TestCloud`], the real `eyrie-cloud` service in this process on SQLite or
//!   PostgreSQL, with the embedded store or Garage, and the user/device steps tests take
//!   through its REST API;
//! - [`e2e`]: a test account's viewer installation: key set, pairing answers, and a
//!   camera's part for tests that upload by hand.
//!
//! Nothing here is a mock: each fixture is the program the product talks to in
//! production. A fixture whose program is not installed says so loudly (Garage) or fails
//! the test with the `apt install` line that fixes it.

pub mod cloud;
pub mod cluster;
pub mod e2e;
pub mod garage;
pub mod mosquitto;
pub mod net;
pub mod postgres;
pub mod process;

pub use cloud::{Backend, TestCloud};
pub use mosquitto::Mosquitto;
pub use net::{free_port, wait_port};
