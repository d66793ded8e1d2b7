//! The cloud's black-box tests, one binary: the real service on random loopback ports
//! (SQLite, a fresh PostgreSQL database, the embedded store or Garage) through
//! `eyrie-testkit`. One module per area; `common` holds what several of them run.

#[macro_use]
mod common;

mod api;
mod broker;
mod clip_copy;
mod cluster_broker;
mod cluster_jobs;
mod db;
mod e2e_keys;
mod errors;
mod garage;
mod instances;
mod limits;
mod media;
mod openapi;
mod replay;
