//! Processes: green threads on the program's thread, Smalltalk-80's
//! scheduling, semaphores and timed waits.
//!
//! Every process runs on the one frame stack, from its bottom: a switch
//! copies the running process's frames (every word below `sp`, in the one
//! layout the interpreter and native code share) into an Array in its
//! `Process` object and copies the next one's back, at the same indices.
//! So frame indices, the caller links inside frames and native code's
//! view of a frame are the same whichever process runs, a process that
//! waits costs only the words of its frames (10,000 of them fit in a few
//! megabytes), and a switch costs what the two processes' frames hold.
//! Native code never runs across a switch: a switch happens in a
//! primitive or at a safepoint, and native code below leaves
//! (`left_native`); the process goes on in the interpreter, which enters
//! native code again at the next entry point.
//!
//! ```text
//!  Process object (kernel Process.som, fields in this order)
//!   0 name  1 priority  2 state  3 frames (Array, while not running)
//!   4 fp    5 pc        6 block (until started)  7 waitingOn (Semaphore)
//!   8 index (into the scheduler's slots, while ready, running or waiting)
//!
//!  Semaphore: 0 signals  1 first waiter  2 last waiter (slot indices)
//! ```
//!
//! The scheduler knows the processes that are ready, running or waiting
//! (pinned, so none is collected while it can still run); a suspended or
//! new process lives as long as the program refers to it. The highest
//! priority ready process runs; one of higher priority that becomes ready
//! (a signal, an expired timer, `resume`) takes over at once or at the
//! next safepoint, and the one it displaces goes back to the front of its
//! queue; processes of one priority take turns at `yield` and when one
//! waits. When no process can run the thread sleeps until the next timer;
//! with no timer either, the program ends with a deadlock report.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use vm::object::Format;
use vm::primitives::{Control, ErrorKind};
use vm::universe::PinId;
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::error::Stop;
use crate::frame::*;
use crate::{Flow, Interpreter, Step};

/// Field indices of a `Process` object.
pub(crate) mod fields {
    /// The name (a String or nil).
    pub const NAME: usize = 0;
    /// The priority (1 to 80).
    pub const PRIORITY: usize = 1;
    /// The state (see `State`).
    pub const STATE: usize = 2;
    /// The frames, while another process runs (an Array of the frame
    /// stack's words from the bottom).
    pub const FRAMES: usize = 3;
    /// The running frame's index, while the frames are kept aside.
    pub const FP: usize = 4;
    /// The bytecode index to go on at, likewise.
    pub const PC: usize = 5;
    /// The block a process not yet started runs.
    pub const BLOCK: usize = 6;
    /// The Semaphore it waits on.
    pub const WAITING_ON: usize = 7;
    /// Its scheduler slot, while ready, running or waiting.
    pub const INDEX: usize = 8;
    /// The field names, as the kernel declares them.
    pub const NAMES: [&str; 9] =
        ["name", "priority", "state", "frames", "framePointer", "bytecodeIndex", "block", "waitingOn", "index"];
}

/// Field indices of a `Semaphore`.
mod semaphore {
    pub const SIGNALS: usize = 0;
    pub const FIRST: usize = 1;
    pub const LAST: usize = 2;
}

/// The field names of a `Semaphore`, as the kernel declares them.
pub(crate) const SEMAPHORE_FIELDS: [&str; 3] = ["signals", "first", "last"];

/// A process's state, as its `state` field holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Suspended = 0,
    Ready = 1,
    Running = 2,
    Waiting = 3,
    Terminated = 4,
}

/// Priorities run from 1 to this.
pub const MAX_PRIORITY: i64 = 80;
/// The main process's priority (`userSchedulingPriority`).
const MAIN_PRIORITY: i64 = 40;

/// A process the scheduler knows.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The Process object.
    pin: PinId,
    /// The next process in the queue this one is on (ready or waiting).
    next: Option<u32>,
    /// The sequence number of its timed wait, 0 when none.
    timer: u64,
    /// While it unwinds for a process that terminated it, that process's
    /// priority (0 otherwise): it holds the terminator's turn, so no
    /// process the terminator would not have yielded to takes over, and
    /// the terminator itself goes on only when the unwinding is done.
    floor: i64,
}

/// A queue of processes, linked through their slots.
#[derive(Clone, Copy, Debug, Default)]
struct Queue {
    first: Option<u32>,
    last: Option<u32>,
}

/// The scheduler's own state (the processes themselves are objects).
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Ready queues, by priority.
    ready: Vec<Queue>,
    /// Bit `p` set: the queue of priority `p` is not empty.
    ready_mask: u128,
    /// The running process (None until the program first needs processes:
    /// then the main process is made).
    active: Option<u32>,
    main: Option<u32>,
    /// Timed waits: deadline, sequence number, slot.
    timers: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    next_timer: u64,
    /// Process switches so far (for `--stats`).
    pub switches: u64,
    /// The active process was ended while the scheduler looked for the
    /// next one (a live interrupt while it waited): its frames are
    /// dropped, not kept, at the switch.
    discard_active: bool,
}

impl Scheduler {
    fn slot(&self, index: u32) -> Slot {
        self.slots[index as usize].expect("a live scheduler slot")
    }

    fn slot_mut(&mut self, index: u32) -> &mut Slot {
        self.slots[index as usize].as_mut().expect("a live scheduler slot")
    }

    fn highest_ready(&self) -> Option<i64> {
        (self.ready_mask != 0).then(|| 127 - i64::from(self.ready_mask.leading_zeros()))
    }
}

impl Interpreter {
    // ---- the process table --------------------------------------------------

    fn proc_object(&self, index: u32) -> Value {
        self.u.pinned(self.scheduler.slot(index).pin)
    }

    fn set_field(&mut self, process: Value, i: usize, v: Value) {
        self.u.heap.store(process, i, v);
    }

    fn state_of(&self, process: Value) -> State {
        match process.slot(fields::STATE).as_int() {
            Some(1) => State::Ready,
            Some(2) => State::Running,
            Some(3) => State::Waiting,
            Some(4) => State::Terminated,
            _ => State::Suspended,
        }
    }

    fn set_state(&mut self, process: Value, state: State) {
        self.set_field(process, fields::STATE, Value::small(state as i64));
    }

    fn priority_of(&self, process: Value) -> i64 {
        process.slot(fields::PRIORITY).as_int().unwrap_or(MAIN_PRIORITY).clamp(1, MAX_PRIORITY)
    }

    /// The priority the process of `index` runs at: its own, or its
    /// terminator's while it unwinds for it (see `Slot::floor`).
    fn running_priority(&self, index: u32) -> i64 {
        self.priority_of(self.proc_object(index)).max(self.scheduler.slot(index).floor)
    }

    /// The slot index of a process the scheduler knows.
    fn index_of(&self, process: Value) -> Option<u32> {
        process.slot(fields::INDEX).as_int().map(|i| i as u32)
    }

    /// Makes `process` known to the scheduler.
    fn register(&mut self, process: Value) -> u32 {
        let pin = self.u.pin(process);
        let slot = Slot { pin, next: None, timer: 0, floor: 0 };
        let index = match self.scheduler.free.pop() {
            Some(i) => {
                self.scheduler.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.scheduler.slots.push(Some(slot));
                self.scheduler.slots.len() as u32 - 1
            }
        };
        self.set_field(process, fields::INDEX, Value::small(i64::from(index)));
        index
    }

    /// Forgets a process (suspended, or terminated).
    fn unregister(&mut self, index: u32) {
        self.live_process_gone(index);
        let process = self.proc_object(index);
        let nil = self.u.nil();
        self.set_field(process, fields::INDEX, nil);
        let slot = self.scheduler.slot(index);
        self.u.unpin(slot.pin);
        self.scheduler.slots[index as usize] = None;
        self.scheduler.free.push(index);
    }

    /// The active process's slot, making the main process (the one the
    /// program started in) on first use.
    pub(crate) fn active_index(&mut self) -> Result<u32, Flow> {
        if let Some(a) = self.scheduler.active {
            return Ok(a);
        }
        let class = self.kernel.process;
        if class == self.u.nil() || !self.kernel.processes_ok {
            return Err(self.failure(ErrorKind::Error, "This kernel has no processes."));
        }
        let size = fields::NAMES.len();
        let process = self
            .u
            .alloc(class, Format::Fields, size)
            .map_err(|e| self.failure(ErrorKind::OutOfMemory, e.to_string()))?;
        let mark = self.u.handle_mark();
        let h = self.u.handle(process);
        let name = self.u.new_string("main").map_err(|e| self.failure(ErrorKind::OutOfMemory, e.to_string()));
        let process = self.u.get(h);
        self.u.release_handles(mark);
        let name = name?;
        self.set_field(process, fields::NAME, name);
        self.set_field(process, fields::PRIORITY, Value::small(MAIN_PRIORITY));
        self.set_state(process, State::Running);
        let index = self.register(process);
        self.scheduler.active = Some(index);
        self.scheduler.main = Some(index);
        if self.scheduler.ready.is_empty() {
            self.scheduler.ready = vec![Queue::default(); MAX_PRIORITY as usize + 1];
        }
        Ok(index)
    }

    /// Whether the main process runs (also before any process was made).
    pub(crate) fn in_main_process(&self) -> bool {
        self.scheduler.active.is_none() || self.scheduler.active == self.scheduler.main
    }

    /// A line for `--stats` once the program has made processes.
    pub(crate) fn process_report(&self) -> Option<String> {
        self.scheduler.active?;
        let known = self.scheduler.slots.iter().filter(|s| s.is_some()).count();
        Some(format!("processes: {} switches, {known} ready, running or waiting at exit", self.scheduler.switches))
    }

    /// The active process's name, for reports.
    pub(crate) fn active_process_name(&self) -> String {
        match self.scheduler.active {
            Some(a) => self.process_name(self.proc_object(a)),
            None => "main".into(),
        }
    }

    fn process_name(&self, process: Value) -> String {
        let name = process.slot(fields::NAME);
        if name == self.u.nil() { "a Process".into() } else { self.u.text_or_describe(name) }
    }

    // ---- queues ----------------------------------------------------------------

    fn push_back(&mut self, queue: Queue, index: u32) -> Queue {
        self.scheduler.slot_mut(index).next = None;
        match queue.last {
            Some(last) => {
                self.scheduler.slot_mut(last).next = Some(index);
                Queue { first: queue.first, last: Some(index) }
            }
            None => Queue { first: Some(index), last: Some(index) },
        }
    }

    fn pop_front(&mut self, queue: Queue) -> (Queue, Option<u32>) {
        let Some(first) = queue.first else { return (queue, None) };
        let next = self.scheduler.slot(first).next;
        self.scheduler.slot_mut(first).next = None;
        let queue = Queue { first: next, last: if next.is_none() { None } else { queue.last } };
        (queue, Some(first))
    }

    fn remove(&mut self, queue: Queue, index: u32) -> (Queue, bool) {
        let mut prev: Option<u32> = None;
        let mut at = queue.first;
        while let Some(i) = at {
            let next = self.scheduler.slot(i).next;
            if i == index {
                let mut q = queue;
                match prev {
                    Some(p) => self.scheduler.slot_mut(p).next = next,
                    None => q.first = next,
                }
                if q.last == Some(index) {
                    q.last = prev;
                }
                self.scheduler.slot_mut(index).next = None;
                return (q, true);
            }
            prev = Some(i);
            at = next;
        }
        (queue, false)
    }

    fn set_ready_queue(&mut self, priority: i64, queue: Queue) {
        self.scheduler.ready[priority as usize] = queue;
        if queue.first.is_some() {
            self.scheduler.ready_mask |= 1 << priority;
        } else {
            self.scheduler.ready_mask &= !(1 << priority);
        }
    }

    /// Puts a process on its ready queue (at the front: one displaced by a
    /// process of higher priority keeps its turn).
    fn make_ready(&mut self, index: u32, front: bool) {
        let process = self.proc_object(index);
        self.set_state(process, State::Ready);
        let p = self.priority_of(process);
        let queue = self.scheduler.ready[p as usize];
        let queue = if front {
            let mut q = queue;
            self.scheduler.slot_mut(index).next = q.first;
            q.first = Some(index);
            if q.last.is_none() {
                q.last = Some(index);
            }
            q
        } else {
            self.push_back(queue, index)
        };
        self.set_ready_queue(p, queue);
    }

    fn take_ready(&mut self, index: u32) {
        let p = self.priority_of(self.proc_object(index));
        let (queue, _) = self.remove(self.scheduler.ready[p as usize], index);
        self.set_ready_queue(p, queue);
    }

    fn semaphore_queue(&self, semaphore: Value) -> Queue {
        let id = |v: Value| v.as_int().filter(|&i| i >= 0).map(|i| i as u32);
        Queue { first: id(semaphore.slot(semaphore::FIRST)), last: id(semaphore.slot(semaphore::LAST)) }
    }

    fn set_semaphore_queue(&mut self, semaphore: Value, queue: Queue) {
        let nil = self.u.nil();
        let v = |i: Option<u32>| i.map_or(nil, |i| Value::small(i64::from(i)));
        let (first, last) = (v(queue.first), v(queue.last));
        self.set_field(semaphore, semaphore::FIRST, first);
        self.set_field(semaphore, semaphore::LAST, last);
    }

    /// Takes a waiting process off its semaphore and its timer.
    fn stop_waiting(&mut self, index: u32) {
        let process = self.proc_object(index);
        let semaphore = process.slot(fields::WAITING_ON);
        if semaphore != self.u.nil() {
            let (queue, _) = self.remove(self.semaphore_queue(semaphore), index);
            self.set_semaphore_queue(semaphore, queue);
            let nil = self.u.nil();
            self.set_field(process, fields::WAITING_ON, nil);
        }
        self.scheduler.slot_mut(index).timer = 0;
    }

    // ---- switching ---------------------------------------------------------------

    /// Makes `next` the running process. The active one must already have
    /// its new state; unless `discard`, its frames are kept aside first.
    fn switch_to(&mut self, next: u32, discard: bool) -> Step {
        let current = self.scheduler.active.expect("a process runs");
        if next == current && !discard {
            let process = self.proc_object(current);
            self.set_state(process, State::Running);
            return Ok(());
        }
        if !discard {
            self.save_active(current)?;
        }
        self.scheduler.switches += 1;
        self.scheduler.active = Some(next);
        self.load(next)
    }

    /// Keeps the active process's frames in its object.
    fn save_active(&mut self, current: u32) -> Step {
        let sp = self.u.sp;
        let frames = self.u.new_array(sp).map_err(|e| self.fatal_memory(e))?;
        let young = self.u.heap.is_young(frames);
        for i in 0..sp {
            let v = self.u.stack[i];
            if young {
                frames.set_slot_raw(i, v);
            } else {
                self.u.heap.store(frames, i, v);
            }
        }
        let process = self.proc_object(current);
        self.set_field(process, fields::FRAMES, frames);
        let fp = if self.fp == NO_FRAME { -1 } else { self.fp as i64 };
        self.set_field(process, fields::FP, Value::small(fp));
        self.set_field(process, fields::PC, Value::small(self.pc as i64));
        Ok(())
    }

    fn fatal_memory(&self, e: vm::universe::VmError) -> Flow {
        Flow::Stop(Box::new(Stop::Fatal(format!("cannot switch processes: {e}"))))
    }

    /// Puts process `index`'s frames on the stack and runs it (a process
    /// not yet started gets the frame of `Process>>startUp`).
    fn load(&mut self, index: u32) -> Step {
        let process = self.proc_object(index);
        self.set_state(process, State::Running);
        let frames = process.slot(fields::FRAMES);
        let nil = self.u.nil();
        self.left_native = true;
        if frames == nil {
            self.u.sp = 0;
            self.fp = NO_FRAME;
            self.push(process);
            let method = self.kernel.start_up_method;
            return self.push_frame_unpolled(method, process, nil, nil);
        }
        let n = frames.size();
        for i in 0..n {
            self.u.stack[i] = frames.slot(i);
        }
        self.u.sp = n;
        self.set_field(process, fields::FRAMES, nil);
        let fp = process.slot(fields::FP).int_value();
        self.pc = process.slot(fields::PC).int_value() as usize;
        self.fp = if fp < 0 { NO_FRAME } else { fp as usize };
        if self.fp != NO_FRAME {
            let method = self.frame(FRAME_METHOD);
            self.set_method(method);
        }
        Ok(())
    }

    /// The active process cannot go on (it waits, was suspended or ended):
    /// runs the next ready one, sleeping until a timer makes one ready if
    /// none is; with neither, the program ends with a deadlock report.
    fn run_next(&mut self, discard: bool) -> Step {
        loop {
            if let Some(p) = self.scheduler.highest_ready() {
                let queue = self.scheduler.ready[p as usize];
                let (queue, next) = self.pop_front(queue);
                self.set_ready_queue(p, queue);
                let next = next.expect("a ready queue marked not empty");
                let discard = discard || std::mem::take(&mut self.scheduler.discard_active);
                return self.switch_to(next, discard);
            }
            let deadline = self.scheduler.timers.peek().map(|Reverse((d, _, _))| *d);
            if deadline.is_none() && !self.live_waits() {
                // The last client's leaving may still be on its way: it
                // lets stopped and paused processes go on (or end).
                if self.live.is_some() && self.serve_live(true)? && self.scheduler.highest_ready().is_some() {
                    continue;
                }
                return Err(self.deadlock());
            }
            // Nothing can run before the next timer (or live request):
            // sleep (output first, so that someone watching sees what was
            // printed).
            self.u.output.flush();
            self.u.interrupts.idle_until(deadline);
            let bits = self.u.interrupts.take();
            self.idle_interrupts(bits)?;
            self.expire_timers();
        }
    }

    fn deadlock(&mut self) -> Flow {
        let mut text = String::from(
            "deadlock: no process can run, none is ready and no timer is pending, so nothing can wake the waiting processes:",
        );
        let main = self.scheduler.main;
        for (i, slot) in self.scheduler.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let process = self.u.pinned(slot.pin);
            let what = match self.state_of(process) {
                State::Waiting => "waits on a Semaphore",
                State::Suspended => "is suspended",
                _ => continue,
            };
            let main_mark = if main == Some(i as u32) { " (the main process)" } else { "" };
            let _ = write!(
                text,
                "\n  {}{main_mark}, priority {}, {what} in {}",
                self.process_name(process),
                self.priority_of(process),
                self.top_frame_of(i as u32)
            );
        }
        Flow::Stop(Box::new(Stop::Error { message: text, trace: String::new(), on_stdout: false }))
    }

    /// Where process `index` stands: `Class>>selector (file:line)` of its
    /// running frame.
    pub(crate) fn top_frame_of(&self, index: u32) -> String {
        let process = self.proc_object(index);
        let frames = process.slot(fields::FRAMES);
        let (method, pc) = if frames == self.u.nil() {
            if self.fp == NO_FRAME {
                return "no method".into();
            }
            (self.frame(FRAME_METHOD), self.pc)
        } else {
            let fp = process.slot(fields::FP).int_value();
            if fp < 0 || fp as usize >= frames.size() {
                return "no method".into();
            }
            (frames.slot(fp as usize + FRAME_METHOD), process.slot(fields::PC).int_value().max(0) as usize)
        };
        self.frame_description(method, pc.saturating_sub(1))
    }

    /// The processes the scheduler knows (ready, running or waiting, and
    /// the main one).
    pub(crate) fn scheduled_processes(&self) -> Vec<Value> {
        self.scheduler.slots.iter().flatten().map(|s| self.u.pinned(s.pin)).collect()
    }

    /// The state of `process` as the live protocol names it.
    pub(crate) fn process_state_name(&self, process: Value) -> &'static str {
        match self.state_of(process) {
            State::Suspended => "suspended",
            State::Ready => "ready",
            State::Running => "running",
            State::Waiting => "waiting",
            State::Terminated => "terminated",
        }
    }

    /// The name and priority of `process`.
    pub(crate) fn process_label(&self, process: Value) -> (String, i64) {
        (self.process_name(process), self.priority_of(process))
    }

    /// The frames of `process`, innermost first, as (frame index, bytecode
    /// index to go on at), and where their words are: `None` for the frame
    /// stack (the running process), else the Array its frames are kept in
    /// while it does not run.
    pub(crate) fn process_frames(&self, process: Value) -> (Vec<(usize, usize)>, Option<Value>) {
        let frames = process.slot(fields::FRAMES);
        let (mut fp, mut pc, words) = if frames == self.u.nil() {
            let active = self.scheduler.active.map(|a| self.proc_object(a));
            if active != Some(process) || self.fp == NO_FRAME {
                return (Vec::new(), None);
            }
            (self.fp as i64, self.pc, None)
        } else {
            let pc = process.slot(fields::PC).as_int().unwrap_or(0).max(0) as usize;
            (process.slot(fields::FP).as_int().unwrap_or(-1), pc, Some(frames))
        };
        let mut out = Vec::new();
        while fp >= 0 && out.len() < 1_000_000 {
            let f = fp as usize;
            let (Some(caller_pc), Some(caller_fp)) =
                (self.frame_word(words, f + FRAME_CALLER_PC), self.frame_word(words, f + FRAME_CALLER_FP))
            else {
                break;
            };
            out.push((f, pc));
            pc = caller_pc.as_int().unwrap_or(0).max(0) as usize;
            fp = caller_fp.as_int().unwrap_or(-1);
        }
        (out, words)
    }

    /// Word `i` of the frames [`Interpreter::process_frames`] found.
    pub(crate) fn frame_word(&self, words: Option<Value>, i: usize) -> Option<Value> {
        match words {
            None => (i < self.u.sp).then(|| self.u.stack[i]),
            Some(a) => (i < a.size()).then(|| a.slot(i)),
        }
    }

    /// If a ready process has a higher priority than the active one, it
    /// takes over (the active one keeps its turn at the front of its
    /// queue).
    fn preempt_if_needed(&mut self) -> Step {
        let Some(active) = self.scheduler.active else { return Ok(()) };
        let Some(high) = self.scheduler.highest_ready() else { return Ok(()) };
        if high <= self.running_priority(active) {
            return Ok(());
        }
        if self.fp == NO_FRAME {
            // A primitive sent from Rust: the switch waits for the next
            // safepoint.
            return Ok(());
        }
        self.make_ready(active, true);
        self.run_next(false)
    }

    // ---- timers ------------------------------------------------------------------

    fn add_timer(&mut self, index: u32, ms: i64) {
        self.scheduler.next_timer += 1;
        let seq = self.scheduler.next_timer;
        let deadline = Instant::now() + Duration::from_millis(ms.max(0) as u64);
        self.scheduler.slot_mut(index).timer = seq;
        self.scheduler.timers.push(Reverse((deadline, seq, index)));
        self.rearm_timer();
    }

    fn rearm_timer(&mut self) {
        let next = self.scheduler.timers.peek().map(|Reverse((d, _, _))| *d);
        self.u.interrupts.set_deadline(next);
    }

    /// Wakes the processes whose timed waits expired (their wait answers
    /// true).
    fn expire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((deadline, seq, index))) = self.scheduler.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.scheduler.timers.pop();
            let live = self.scheduler.slots.get(index as usize).copied().flatten().is_some_and(|s| s.timer == seq);
            if !live {
                continue;
            }
            self.stop_waiting(index);
            self.set_wait_result(index, self.u.known.true_);
            self.make_ready(index, false);
        }
        self.rearm_timer();
    }

    /// Sets the value a waiting process's wait answers (the top of its
    /// kept frames).
    fn set_wait_result(&mut self, index: u32, v: Value) {
        let process = self.proc_object(index);
        let frames = process.slot(fields::FRAMES);
        if frames == self.u.nil() {
            // It is the active process, waiting without a switch.
            let sp = self.u.sp;
            self.u.stack[sp - 1] = v;
        } else {
            let n = frames.size();
            self.u.heap.store(frames, n - 1, v);
        }
    }

    /// At a safepoint with interrupts pending: expired timers make their
    /// processes ready, and one of higher priority takes over.
    #[cold]
    pub(crate) fn safepoint(&mut self) -> Step {
        use vm::interrupts::{FLUSH, LIVE, SIGNAL, TIMER};
        let bits = self.u.interrupts.take();
        if bits & (FLUSH | SIGNAL) != 0 {
            self.u.output.flush();
        }
        if bits & SIGNAL != 0 {
            return Err(self.signalled());
        }
        let mut preempt = false;
        if bits & LIVE != 0 && self.fp != NO_FRAME {
            preempt |= self.serve_live(false)?;
        } else if bits & LIVE != 0 {
            // A primitive sent from Rust: the requests wait for the next
            // safepoint with a frame.
            self.u.interrupts.request(LIVE);
        }
        if bits & TIMER != 0 && self.scheduler.active.is_some() {
            self.expire_timers();
            preempt = true;
        }
        if preempt { self.preempt_if_needed() } else { Ok(()) }
    }

    /// The interrupts taken while no process can run.
    fn idle_interrupts(&mut self, bits: u64) -> Step {
        use vm::interrupts::{LIVE, SIGNAL};
        if bits & SIGNAL != 0 {
            self.u.output.flush();
            return Err(self.signalled());
        }
        if bits & LIVE != 0 {
            self.serve_live(true)?;
        }
        Ok(())
    }

    /// SIGINT or SIGTERM arrived: the program ends with the shell's status
    /// for it (output flushed).
    fn signalled(&mut self) -> Flow {
        let signal = self.u.interrupts.signal().unwrap_or(15);
        Flow::Stop(Box::new(Stop::Exit(128 + signal)))
    }

    /// Whether live clients may still make a process ready (so that no
    /// process being ready is not yet a deadlock).
    fn live_waits(&self) -> bool {
        self.live.is_some() && self.live_clients.load(std::sync::atomic::Ordering::Acquire) > 0
    }

    /// The running process's slot, if processes were made.
    pub(crate) fn scheduler_active(&self) -> Option<u32> {
        self.scheduler.active
    }

    /// A new, not started Process object.
    pub(crate) fn new_process_object(&mut self) -> Result<Value, String> {
        let class = self.kernel.process;
        self.u.alloc(class, Format::Fields, fields::NAMES.len()).map_err(|e| e.to_string())
    }

    /// Makes `process` ready to run `block` (anything that understands
    /// `value`) at `priority`; answers its slot.
    pub(crate) fn schedule_new_process(&mut self, process: Value, block: Value, name: Value, priority: i64) -> u32 {
        self.set_field(process, fields::NAME, name);
        self.set_field(process, fields::PRIORITY, Value::small(priority.clamp(1, MAX_PRIORITY)));
        self.set_field(process, fields::BLOCK, block);
        self.set_state(process, State::Suspended);
        let index = self.register(process);
        self.make_ready(index, false);
        index
    }

    /// Ends process `index` at once, without running its unwind blocks
    /// (an interrupted live evaluation). The active one may only be ended
    /// so while the scheduler looks for the next process.
    pub(crate) fn kill_process(&mut self, index: u32) {
        let process = self.proc_object(index);
        match self.state_of(process) {
            State::Ready => self.take_ready(index),
            State::Waiting => self.stop_waiting(index),
            _ => {}
        }
        if self.scheduler.active == Some(index) {
            self.scheduler.discard_active = true;
        }
        self.mark_terminated(process);
        self.unregister(index);
    }

    /// Gives `process` the state of one that ended (no frames, no block).
    fn mark_terminated(&mut self, process: Value) {
        let nil = self.u.nil();
        self.set_state(process, State::Terminated);
        self.set_field(process, fields::FRAMES, nil);
        self.set_field(process, fields::BLOCK, nil);
    }

    // ---- the primitives ------------------------------------------------------------

    /// The process primitives (see [`Control`]).
    pub(crate) fn process_primitive(&mut self, c: Control, argc: usize) -> Step {
        let active = self.active_index()?;
        let receiver = self.peek(argc);
        match c {
            Control::ActiveProcess => {
                let p = self.proc_object(active);
                self.answer(argc, p);
                Ok(())
            }
            Control::Yield => {
                self.answer(argc, receiver);
                let p = self.priority_of(self.proc_object(active));
                let unwinding = self.scheduler.slot(active).floor > 0;
                if self.scheduler.ready[p as usize].first.is_none() || self.fp == NO_FRAME || unwinding {
                    return Ok(());
                }
                self.make_ready(active, false);
                self.run_next(false)
            }
            Control::ProcessIsMain => {
                let main = self.index_of(receiver).is_some() && self.index_of(receiver) == self.scheduler.main;
                let b = self.u.boolean(main);
                self.answer(argc, b);
                Ok(())
            }
            Control::ProcessResume => self.resume(receiver, argc),
            Control::ProcessSuspend => self.suspend(receiver, argc, active),
            Control::ProcessTerminate => self.terminate_other(receiver, argc, active),
            Control::ProcessTerminateActive => {
                if Some(active) == self.scheduler.main {
                    return Err(self.failure(
                        ErrorKind::Error,
                        "The main process cannot be terminated: system exit: ends the program.",
                    ));
                }
                if self.fp == NO_FRAME {
                    return Err(self.failure(ErrorKind::Error, "A process can end itself only inside a method."));
                }
                self.end_active_process()
            }
            Control::ProcessPriority => {
                let Some(p) = self.peek(0).as_int().filter(|p| (1..=MAX_PRIORITY).contains(p)) else {
                    let given = self.describe(self.peek(0));
                    return Err(self.failure(
                        ErrorKind::PrimitiveFailed,
                        format!("A process priority is from 1 to {MAX_PRIORITY}, not {given}."),
                    ));
                };
                self.answer(argc, receiver);
                let index = self.index_of(receiver);
                let ready = self.state_of(receiver) == State::Ready;
                if let (Some(i), true) = (index, ready) {
                    self.take_ready(i);
                    self.set_field(receiver, fields::PRIORITY, Value::small(p));
                    self.make_ready(i, false);
                } else {
                    self.set_field(receiver, fields::PRIORITY, Value::small(p));
                }
                self.preempt_if_needed()
            }
            Control::SemaphoreSignal => {
                self.answer(argc, receiver);
                self.signal(receiver)
            }
            Control::SemaphoreWait => self.wait(receiver, argc, active, None),
            Control::SemaphoreWaitTimeout => {
                let Some(ms) = self.peek(0).as_int() else {
                    let given = self.describe(self.peek(0));
                    return Err(self.failure(
                        ErrorKind::PrimitiveFailed,
                        format!("A timeout is a number of milliseconds, not {given}."),
                    ));
                };
                self.wait(receiver, argc, active, Some(ms))
            }
            _ => unreachable!("not a process primitive: {c:?}"),
        }
    }

    fn check_semaphore(&self, semaphore: Value) -> Result<i64, Flow> {
        let ok = semaphore.is_pointer() && semaphore.format() == Format::Fields && semaphore.size() >= 3;
        match if ok { semaphore.slot(semaphore::SIGNALS).as_int() } else { None } {
            Some(n) => Ok(n),
            None => Err(self.failure(ErrorKind::PrimitiveFailed, "A Semaphore's signal count is not an Integer.")),
        }
    }

    fn signal(&mut self, semaphore: Value) -> Step {
        let signals = self.check_semaphore(semaphore)?;
        let (queue, first) = self.pop_front(self.semaphore_queue(semaphore));
        self.set_semaphore_queue(semaphore, queue);
        let Some(woken) = first else {
            self.set_field(semaphore, semaphore::SIGNALS, Value::small(signals.saturating_add(1)));
            return Ok(());
        };
        let process = self.proc_object(woken);
        let nil = self.u.nil();
        self.set_field(process, fields::WAITING_ON, nil);
        if self.scheduler.slot(woken).timer != 0 {
            self.scheduler.slot_mut(woken).timer = 0;
            self.set_wait_result(woken, self.u.known.false_);
        }
        self.make_ready(woken, false);
        self.preempt_if_needed()
    }

    fn wait(&mut self, semaphore: Value, argc: usize, active: u32, timeout: Option<i64>) -> Step {
        let signals = self.check_semaphore(semaphore)?;
        if signals > 0 {
            self.set_field(semaphore, semaphore::SIGNALS, Value::small(signals - 1));
            let result = if timeout.is_some() { self.u.known.false_ } else { semaphore };
            self.answer(argc, result);
            return Ok(());
        }
        if timeout.is_some_and(|ms| ms <= 0) {
            let t = self.u.known.true_;
            self.answer(argc, t);
            return Ok(());
        }
        if self.fp == NO_FRAME {
            return Err(self.failure(ErrorKind::Error, "A process can wait only inside a method."));
        }
        // The wait's value, unless a signal or the timer sets another.
        self.answer(argc, semaphore);
        let queue = self.push_back(self.semaphore_queue(semaphore), active);
        self.set_semaphore_queue(semaphore, queue);
        let process = self.proc_object(active);
        self.set_field(process, fields::WAITING_ON, semaphore);
        self.set_state(process, State::Waiting);
        if let Some(ms) = timeout {
            self.add_timer(active, ms);
        }
        self.run_next(false)
    }

    fn check_process(&self, process: Value) -> Result<(), Flow> {
        let ok = process.is_pointer() && process.format() == Format::Fields && process.size() >= fields::NAMES.len();
        if ok { Ok(()) } else { Err(self.failure(ErrorKind::PrimitiveFailed, "Not a Process.")) }
    }

    fn resume(&mut self, process: Value, argc: usize) -> Step {
        self.check_process(process)?;
        match self.state_of(process) {
            State::Terminated => Err(self.failure(ErrorKind::Error, "A terminated process cannot be resumed.")),
            State::Suspended => {
                self.answer(argc, process);
                let index = match self.index_of(process) {
                    Some(i) => i,
                    None => self.register(self.peek(0)),
                };
                self.make_ready(index, false);
                self.preempt_if_needed()
            }
            // Ready, running or waiting: nothing to do.
            _ => {
                self.answer(argc, process);
                Ok(())
            }
        }
    }

    fn suspend(&mut self, process: Value, argc: usize, active: u32) -> Step {
        self.check_process(process)?;
        self.answer(argc, process);
        let Some(index) = self.index_of(process) else { return Ok(()) };
        match self.state_of(process) {
            State::Running if index == active => {
                if self.fp == NO_FRAME {
                    return Err(self.failure(ErrorKind::Error, "A process can suspend itself only inside a method."));
                }
                self.set_state(process, State::Suspended);
                // Kept aside by the switch, then forgotten by the scheduler.
                self.run_next(false)?;
                self.forget_suspended(index);
                Ok(())
            }
            State::Ready => {
                self.take_ready(index);
                self.set_state(process, State::Suspended);
                self.forget_suspended(index);
                Ok(())
            }
            State::Waiting => {
                self.stop_waiting(index);
                self.set_state(process, State::Suspended);
                self.forget_suspended(index);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Suspends the active process inside a primitive that has answered
    /// (its frames are kept; resumed, it goes on after the primitive).
    pub(crate) fn suspend_active(&mut self) -> Step {
        let active = self.active_index()?;
        let process = self.proc_object(active);
        self.set_state(process, State::Suspended);
        self.run_next(false)?;
        self.forget_suspended(active);
        Ok(())
    }

    /// Makes the suspended `process` ready (as `resume` does).
    pub(crate) fn resume_suspended(&mut self, process: Value) {
        if self.state_of(process) != State::Suspended {
            return;
        }
        let index = match self.index_of(process) {
            Some(i) => i,
            None => self.register(process),
        };
        self.make_ready(index, false);
    }

    /// Whether `process` is suspended (its frames kept in it, so they may
    /// be changed).
    pub(crate) fn is_suspended(&self, process: Value) -> bool {
        self.state_of(process) == State::Suspended
    }

    /// The running process's object, if processes were made.
    pub(crate) fn active_process_value(&self) -> Option<Value> {
        self.scheduler.active.map(|a| self.proc_object(a))
    }

    /// Whether `process` is the main one.
    pub(crate) fn is_main_process(&self, process: Value) -> bool {
        self.scheduler.main.is_some_and(|m| self.proc_object(m) == process)
    }

    /// Ends the active process (not the main one) without unwinding: its
    /// frames are dropped and the next ready process runs.
    pub(crate) fn end_active_process(&mut self) -> Step {
        let Some(active) = self.scheduler.active.filter(|&a| Some(a) != self.scheduler.main) else {
            return Err(self.error("internal error: the main process cannot end this way"));
        };
        let process = self.proc_object(active);
        self.mark_terminated(process);
        self.unregister(active);
        self.run_next(true)
    }

    /// Forgets a suspended process (it lives as long as the program refers
    /// to it). The main process stays known, so that it is always found.
    fn forget_suspended(&mut self, index: u32) {
        if Some(index) != self.scheduler.main {
            self.unregister(index);
        }
    }

    /// Ends a process other than the active one. A process with frames
    /// runs the unwind blocks of its frames first, in itself: it runs now,
    /// at the active process's priority if that is higher, and the active
    /// process, ready at the front of its queue, goes on when it is done
    /// (or blocks).
    fn terminate_other(&mut self, process: Value, argc: usize, active: u32) -> Step {
        self.check_process(process)?;
        let state = self.state_of(process);
        if state == State::Terminated {
            self.answer(argc, process);
            return Ok(());
        }
        let index = self.index_of(process);
        if index.is_some() && index == self.scheduler.main {
            return Err(
                self.failure(ErrorKind::Error, "The main process cannot be terminated: system exit: ends the program.")
            );
        }
        self.answer(argc, process);
        let nil = self.u.nil();
        match (state, index) {
            (State::Ready, Some(i)) => self.take_ready(i),
            (State::Waiting, Some(i)) => self.stop_waiting(i),
            _ => {}
        }
        let process = self.peek(0);
        if process.slot(fields::FRAMES) == nil || self.fp == NO_FRAME {
            // Never started: nothing to unwind.
            self.mark_terminated(process);
            if let Some(i) = index {
                self.unregister(i);
            }
            return Ok(());
        }
        let index = match index {
            Some(i) => i,
            None => self.register(process),
        };
        let floor = self.running_priority(active);
        self.scheduler.slot_mut(index).floor = floor;
        self.make_ready(active, true);
        self.switch_to(index, false)?;
        // On top of its frames: `Process>>terminateHere`, which unwinds
        // them and ends the process.
        let process = self.proc_object(index);
        self.push(process);
        let method = self.kernel.terminate_here_method;
        self.push_frame_unpolled(method, process, nil, nil)
    }
}
