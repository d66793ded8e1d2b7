//! Child processes that cannot outlive the test.
//!
//! A server kept in a `static` (one PostgreSQL per test binary) is never dropped, so
//! `Drop` cannot stop it. Instead it runs under a shell that waits on its stdin: when the
//! test process exits, for whatever reason, the pipe closes, the shell stops the server
//! and removes its directory.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// A shell running `server`, stopped (with `stop_signal`) and cleaned up (`rm -rf
/// cleanup`) when this process exits.
pub struct Guarded(#[allow(dead_code)] Mutex<Child>);

impl Guarded {
    /// Run `server` (a shell command line) in the background under `sh -c`; `prefix` is
    /// put before `sh` (e.g. `runuser -u postgres --`).
    pub fn spawn(
        prefix: &[&str],
        server: &str,
        stop_signal: &str,
        cleanup: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Guarded {
        let script = format!(
            "{server} & p=$!; cat >/dev/null; kill -{stop_signal} $p; wait $p; rm -rf {}",
            cleanup.display()
        );
        let (program, args) = match prefix.split_first() {
            Some((p, rest)) => (*p, rest.to_vec()),
            None => ("sh", Vec::new()),
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        if !prefix.is_empty() {
            cmd.arg("sh");
        }
        let child = cmd
            .args(["-c", &script])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{server}`: {e}"));
        Guarded(Mutex::new(child))
    }
}
