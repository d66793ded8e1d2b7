//! `eyrie`: one binary for the three roles.
//!
//! - no argument: the viewer (GTK4 + libadwaita), when built with the `gui` feature;
//! - `eyrie cloud`: the cloud NVR service;
//! - `eyrie camera`: camera mode (webcam or test pattern → live sessions and cloud storage);
//! - `eyrie demo`: all three on this machine on embedded defaults.
//!
//! `cargo build --no-default-features` gives a headless binary with `cloud` and `camera`
//! that links no GTK.

mod config;
mod logging;
mod runtime;

#[cfg(feature = "gui")]
mod demo;
#[cfg(feature = "gui")]
mod gui;
#[cfg(feature = "gui")]
mod i18n;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "eyrie", version = config::VERSION, about = "Home cameras for Linux: viewer, kiosk, camera mode and cloud NVR")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Open the viewer fullscreen as a wall-mounted kiosk.
    #[arg(long)]
    kiosk: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the cloud service (REST API, metadata database, presigned storage).
    Cloud(eyrie_cloud::CloudArgs),
    /// Turn this computer's webcam (or a test pattern) into a camera.
    Camera(eyrie_camera::CameraArgs),
    /// Run cloud, camera and viewer together on this machine with embedded defaults.
    Demo,
}

/// Under a test harness or a supervisor that asks for it (`EYRIE_DIE_WITH_PARENT=1`, or a
/// test report asked of a build with the `test-hooks` feature), end with SIGTERM — and so
/// clean up like a window close — when the parent process dies. `xvfb-run` does not pass
/// a SIGTERM on to its child: a killed `xvfb-run` used to leave a whole demo (cloud,
/// camera, viewer) running.
fn die_with_parent() {
    let asked = std::env::var_os("EYRIE_DIE_WITH_PARENT").is_some_and(|v| v == "1")
        || gui_test_report_asked();
    if !asked {
        return;
    }
    let parent = rustix::process::getppid();
    if let Err(e) =
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
    {
        eprintln!("eyrie: cannot follow the parent process: {e}");
    }
    // The parent may have gone before the request took effect.
    if rustix::process::getppid() != parent {
        std::process::exit(1);
    }
}

#[cfg(feature = "test-hooks")]
fn gui_test_report_asked() -> bool {
    std::env::var_os("EYRIE_TEST_REPORT").is_some()
}

#[cfg(not(feature = "test-hooks"))]
fn gui_test_report_asked() -> bool {
    false
}

/// The camera runs all day with a dozen threads (GStreamer streaming threads, the runtime,
/// the recorder); glibc gives each thread that meets contention a malloc arena of its own,
/// which keeps what was freed in it. Two arenas took ~1 MB off what cloud storage costs
/// the camera in RAM (`cargo bench --bench storage`, `storage_mem_bitrate_s`) for no
/// measurable CPU.
///
/// glibc also gives back only the free memory at the very top of a heap, and only beyond
/// the trim threshold: what is freed below a live allocation stays resident. The camera
/// frees and reallocates all day (frames, upload requests, segment manifests), so every
/// 30 s it hands every free page of every arena back with `malloc_trim`: one trim while
/// recording gave back ~380 KB, most of what recording had left behind.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc_for_camera() {
    const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    const M_ARENA_MAX: std::ffi::c_int = -8;
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: mallopt takes two integers and is safe to call at any time (glibc).
    unsafe {
        mallopt(M_ARENA_MAX, 2);
        // A fixed mmap threshold turns off glibc's sliding one, which after the first
        // large free serves every buffer up to 32 MB from the heap and keeps it there:
        // frames, upload reads and encryption chunks of 64 KiB and more are mapped and
        // given back when freed.
        mallopt(M_MMAP_THRESHOLD, 64 * 1024);
        mallopt(M_TRIM_THRESHOLD, 256 * 1024);
    }
    runtime::RUNTIME.spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let t0 = std::time::Instant::now();
            // SAFETY: malloc_trim takes the padding to keep and locks each arena itself;
            // it is safe to call from any thread at any time (glibc).
            let released = unsafe { malloc_trim(0) } == 1;
            tracing::debug!(
                released,
                us = t0.elapsed().as_micros() as u64,
                "malloc_trim"
            );
        }
    });
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc_for_camera() {}

fn main() -> std::process::ExitCode {
    die_with_parent();
    let cli = Cli::parse();
    logging::init();
    let result = match cli.command {
        Some(Command::Cloud(args)) => runtime::RUNTIME.block_on(eyrie_cloud::run(args)),
        Some(Command::Camera(args)) => {
            tune_malloc_for_camera();
            runtime::RUNTIME.block_on(eyrie_camera::run(args))
        }
        Some(Command::Demo) => run_demo(),
        None => run_viewer(cli.kiosk),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eyrie: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "gui")]
fn run_viewer(kiosk: bool) -> anyhow::Result<()> {
    gui::run(kiosk)
}

#[cfg(not(feature = "gui"))]
fn run_viewer(_kiosk: bool) -> anyhow::Result<()> {
    anyhow::bail!("this eyrie was built without the viewer (the `gui` feature); try `eyrie --help`")
}

#[cfg(feature = "gui")]
fn run_demo() -> anyhow::Result<()> {
    demo::run()
}

#[cfg(not(feature = "gui"))]
fn run_demo() -> anyhow::Result<()> {
    anyhow::bail!(
        "`eyrie demo` opens the viewer, and this eyrie was built without it (the `gui` feature)"
    )
}
