//! SIGINT and SIGTERM while a program runs: the program's thread is asked
//! (at its next safepoint, or at once if it waits) to flush its output and
//! end with the shell's status for the signal (130, 143). If it has not
//! ended two seconds later (it is stuck in a long primitive), the process
//! ends from here, still with that status.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long the program's thread has to end after a signal.
const GRACE: Duration = Duration::from_secs(2);

/// Routes SIGINT and SIGTERM to `interrupts`; `files` (the live socket,
/// the token file) are removed if the process has to end from the signal
/// thread.
pub fn install(interrupts: Arc<vm::interrupts::Interrupts>, files: Vec<PathBuf>) {
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else { return };
    let _ = std::thread::Builder::new().name("mica-signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            interrupts.signal_received(signal);
            std::thread::sleep(GRACE);
            for path in files {
                let _ = std::fs::remove_file(path);
            }
            std::process::exit(128 + signal);
        }
    });
}
