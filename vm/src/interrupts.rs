//! Interrupts: requests that the program's thread act at its next
//! safepoint (a timer that expired; later, a request of the live
//! connection), and the timer thread that raises them.
//!
//! ```text
//!  timer thread                         program's thread
//!  sleeps until the deadline  --------> `pending` (one word) polled at
//!  sets TIMER in `pending`               method entries and loop
//!  and `native_limit` to 0               back-edges by the interpreter,
//!                                        at loop back-edges by native code
//!  (other threads: their own bits)       (one load), and `native_limit`
//!                                        at native calls (which compare
//!                                        the native call depth with it)
//! ```
//!
//! The program's thread sets the deadline (the earliest timed wait), takes
//! the pending bits at a safepoint, and, when no process can run, sleeps
//! in [`Interrupts::idle_until`] until the deadline or a request, without
//! spinning.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// Bit of `pending`: a timer's deadline passed.
pub const TIMER: u64 = 1;
/// Bit of `pending`: a request of the live connection waits.
pub const LIVE: u64 = 2;
/// Bit of `pending`: buffered program output has waited long enough.
pub const FLUSH: u64 = 4;
/// Bit of `pending`: the program received SIGINT or SIGTERM
/// ([`Interrupts::signal`] says which) and should flush and end.
pub const SIGNAL: u64 = 8;

/// How long program output may wait in its buffer.
pub const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// The shared request word and the timer.
#[derive(Debug, Default)]
pub struct Interrupts {
    /// Request bits; 0 when nothing is asked. Native code reads it at a
    /// fixed address ([`Interrupts::flag_address`]).
    pending: AtomicU64,
    /// The native call depth native code may reach before a call goes
    /// through the interpreter: the depth bound normally, 0 while an
    /// interrupt is pending, so that the next native call is a safepoint
    /// too (native method entries need no poll of their own).
    native_limit: AtomicU64,
    /// What `native_limit` holds when nothing is pending.
    depth_bound: AtomicU64,
    /// The signal that raised SIGNAL (0: none).
    signal: AtomicU64,
    state: Mutex<TimerState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct TimerState {
    deadline: Option<Instant>,
    /// When FLUSH is raised (output is waiting in its buffer).
    flush_deadline: Option<Instant>,
    thread_started: bool,
}

impl Interrupts {
    /// Interrupts with nothing pending and no timer.
    pub fn new() -> Arc<Interrupts> {
        Arc::new(Interrupts::default())
    }

    /// The address of the request word, for native code to poll.
    pub fn flag_address(&self) -> u64 {
        self.pending.as_ptr() as u64
    }

    /// The address of the native call depth limit, for native code.
    pub fn native_limit_address(&self) -> u64 {
        self.native_limit.as_ptr() as u64
    }

    /// Sets the native call depth bound (the limit while nothing is
    /// pending).
    pub fn set_depth_bound(&self, bound: u64) {
        self.depth_bound.store(bound, Ordering::Release);
        if !self.is_pending() {
            self.native_limit.store(bound, Ordering::Release);
        }
    }

    /// Whether anything is pending (one relaxed load).
    #[inline(always)]
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Takes the pending bits, leaving none.
    pub fn take(&self) -> u64 {
        let bits = self.pending.swap(0, Ordering::AcqRel);
        self.native_limit.store(self.depth_bound.load(Ordering::Acquire), Ordering::Release);
        // A request that came meanwhile keeps native calls stopping.
        if self.is_pending() {
            self.native_limit.store(0, Ordering::Release);
        }
        bits
    }

    /// Raises `bits` and makes native calls stop at the interpreter.
    fn raise(&self, bits: u64) {
        self.pending.fetch_or(bits, Ordering::AcqRel);
        self.native_limit.store(0, Ordering::Release);
    }

    /// Asks the program's thread to act on `bits` at its next safepoint
    /// (and wakes it if it sleeps).
    pub fn request(&self, bits: u64) {
        self.raise(bits);
        let _guard = self.lock();
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TimerState> {
        // A panic on another thread holding the lock leaves the state
        // usable: it is two plain fields.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets (or, with `None`, clears) the time at which TIMER is raised.
    /// The timer thread starts with the first deadline.
    pub fn set_deadline(self: &Arc<Self>, deadline: Option<Instant>) {
        let mut state = self.lock();
        state.deadline = deadline;
        if deadline.is_some() {
            self.start_timer(&mut state);
        }
        self.wake.notify_all();
    }

    /// Raises FLUSH [`FLUSH_DELAY`] from now, unless it is already due
    /// (buffered output must not wait longer than that).
    pub fn arm_flush(self: &Arc<Self>) {
        let mut state = self.lock();
        if state.flush_deadline.is_none() {
            state.flush_deadline = Some(Instant::now() + FLUSH_DELAY);
            self.start_timer(&mut state);
            self.wake.notify_all();
        }
    }

    /// Starts the timer thread now (from a thread other than the
    /// program's, so that the program's first output does not wait for it).
    pub fn start_timer_thread(self: &Arc<Self>) {
        let mut state = self.lock();
        self.start_timer(&mut state);
    }

    fn start_timer(self: &Arc<Self>, state: &mut TimerState) {
        if !state.thread_started {
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new().name("mica-timer".into()).spawn(move || me.run_timer());
            // Without the thread, timers are still served whenever the
            // program waits (idle_until), and output at exit; only
            // preemption by a timer and timely flushes are lost.
            state.thread_started = spawned.is_ok();
        }
    }

    fn run_timer(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if state.deadline.is_some_and(|d| now >= d) {
                self.raise(TIMER);
                state.deadline = None;
                self.wake.notify_all();
            }
            if state.flush_deadline.is_some_and(|d| now >= d) {
                self.raise(FLUSH);
                state.flush_deadline = None;
                self.wake.notify_all();
            }
            let next = match (state.deadline, state.flush_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state = match next {
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    self.wake.wait_timeout(state, d.saturating_duration_since(now)).unwrap_or_else(|p| p.into_inner()).0
                }
            }
        }
    }

    /// Records that `signal` (SIGINT, SIGTERM) arrived and raises SIGNAL.
    pub fn signal_received(&self, signal: i32) {
        self.signal.store(signal as u64, Ordering::Release);
        self.request(SIGNAL);
    }

    /// The signal that raised SIGNAL, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Acquire) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Sleeps until `deadline` (forever with `None`) or until a request
    /// is pending, whichever comes first.
    pub fn idle_until(&self, deadline: Option<Instant>) {
        let mut state = self.lock();
        loop {
            if self.is_pending() {
                return;
            }
            match deadline {
                None => state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    state = self.wake.wait_timeout(state, d - now).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_deadline_raises_the_timer_bit() {
        let i = Interrupts::new();
        assert!(!i.is_pending());
        i.set_deadline(Some(Instant::now() + Duration::from_millis(5)));
        let start = Instant::now();
        while !i.is_pending() {
            assert!(start.elapsed() < Duration::from_secs(5), "the timer never fired");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(i.take(), TIMER);
        assert!(!i.is_pending());
    }

    #[test]
    fn idle_wakes_at_the_deadline_or_on_a_request() {
        let i = Interrupts::new();
        let start = Instant::now();
        i.idle_until(Some(Instant::now() + Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
        let other = Arc::clone(&i);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            other.request(2);
        });
        i.idle_until(None);
        assert_eq!(i.take(), 2);
        t.join().expect("the requesting thread");
    }
}
