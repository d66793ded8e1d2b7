//! The one tokio runtime of the process.
//!
//! The GTK app, `eyrie cloud`, `eyrie camera` and `eyrie demo` all run their network work
//! here. The GTK main loop never blocks on it: UI code awaits tokio work with
//! [`spawn_tokio!`](crate::spawn_tokio), which hands the future to the runtime and awaits
//! the join handle from the glib future (the pattern Fractal uses).

use std::sync::LazyLock;

pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("eyrie-tokio")
        .build()
        .expect("the tokio runtime must start")
});

/// Run a future on the shared tokio runtime and get a handle that can be awaited from the
/// GTK main loop (or anywhere else).
#[macro_export]
macro_rules! spawn_tokio {
    ($future:expr) => {
        $crate::runtime::RUNTIME.spawn($future)
    };
}
