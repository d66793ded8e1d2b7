//! The app under test: started under a private X server (unless `DISPLAY` is set) in a
//! process group of its own, and stopped as a whole group — `xvfb-run` does not pass
//! SIGTERM on, so killing only it used to leave Xvfb (and, before the app learnt to die
//! with its parent, whole demos) running after a test.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `eyrie` under `xvfb-run` with a screen of `screen` (e.g. `1280x800x24`).
pub fn command(screen: &str) -> Command {
    let mut c = if std::env::var_os("DISPLAY").is_some() {
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", &format!("-screen 0 {screen}")])
            .arg(env!("CARGO_BIN_EXE_eyrie"));
        c
    };
    c.process_group(0);
    c
}

/// A running app; stopped (TERM to the group, then KILL) when dropped.
pub struct App(Option<Child>);

impl App {
    pub fn spawn(cmd: &mut Command) -> Self {
        Self(Some(cmd.spawn().expect("start eyrie")))
    }

    /// SIGTERM to the app, xvfb-run and Xvfb; SIGKILL whatever is left after 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The group may outlive its leader (Xvfb exiting slowly): make sure it is gone.
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}
