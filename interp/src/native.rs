//! The interface between native code and the interpreter.
//!
//! Native code gets the interpreter as an opaque pointer. It reads a few
//! words at fixed offsets from it ([`NativeLayout`]: the stack pointer, the
//! nursery's allocation pointer, the method epoch...), and calls two
//! runtime functions:
//!
//! - [`mica_step`] runs one bytecode in the interpreter, on the frame native
//!   code has written back, and comes back: the slow path of every bytecode
//!   native code does not finish itself (a send the inline caches cannot
//!   answer, a primitive, an allocation when the nursery is full, a
//!   non-Boolean branch...). When the bytecode completes in the same frame,
//!   native code goes on; when it pushed a frame for a method with native
//!   code, the runtime calls that code (so compiled code calls compiled code
//!   without leaving native code); when the interpreter must take over (an
//!   interpreted callee, a non-local return, an error, an edit that
//!   invalidated the running code), it answers `NATIVE_LEFT` and native code
//!   unwinds.
//! - [`mica_barrier`], the write barrier's slow path.
//!
//! Panics never unwind through native frames: the runtime functions catch
//! them and turn them into a fatal stop.

use std::ffi::c_void;
use std::panic::AssertUnwindSafe;

use vm::bytecode::dispatch_verified;
use vm::runtime::{NATIVE_LEFT, NATIVE_RETURNED};
use vm::universe::Universe;
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::frame::*;
use crate::{Flow, Interpreter, Stop};

/// Most native activations in progress at once (native code calling native
/// code, directly or through [`mica_step`]); deeper sends go through the
/// interpreter, so native code never exhausts the native stack.
pub const MAX_NATIVE_DEPTH: usize = 2000;

/// Bytes of native stack that activations run natively from inside the
/// interpreter may use, below where the interpreter loop first ran (the
/// main thread has 8 MiB by default).
pub const NATIVE_STACK_BUDGET: usize = 4 << 20;

/// Byte offsets, from the interpreter, of what native code reads and writes.
#[derive(Clone, Copy, Debug)]
pub struct NativeLayout {
    /// `Universe::sp` (usize).
    pub sp: i32,
    /// `Universe::jit_fp` (usize): the frame an exit leaves at.
    pub jit_fp: i32,
    /// `Universe::native_depth` (usize).
    pub native_depth: i32,
    /// `Universe::method_epoch` (u64): bumped by every edit.
    pub method_epoch: i32,
    /// The nursery's next free byte (usize).
    pub heap_top: i32,
    /// The nursery's end (usize).
    pub heap_end: i32,
    /// The identity-hash generator's state (u32).
    pub next_hash: i32,
}

impl Interpreter {
    /// Where native code finds what it reads and writes.
    pub fn native_layout() -> NativeLayout {
        let u = std::mem::offset_of!(Interpreter, u) as i32;
        let heap = u + std::mem::offset_of!(Universe, heap) as i32;
        let h = vm::heap::Heap::native_offsets();
        NativeLayout {
            sp: u + std::mem::offset_of!(Universe, sp) as i32,
            jit_fp: u + std::mem::offset_of!(Universe, jit_fp) as i32,
            native_depth: u + std::mem::offset_of!(Universe, native_depth) as i32,
            method_epoch: u + std::mem::offset_of!(Universe, method_epoch) as i32,
            heap_top: heap + h.top,
            heap_end: heap + h.end,
            next_hash: heap + h.next_hash,
        }
    }

    /// Runs the bytecode at `pc` of the frame at `fp` for native code (which
    /// wrote the frame back and stored `sp`); above
    /// `vm::runtime::STEP_OWNER_SHIFT`, `pc` says whose code inlined the
    /// frame's method, if any. Answers the offset to go on at in the same
    /// frame, `NATIVE_RETURNED` if the frame returned to its caller, or
    /// `NATIVE_LEFT` with the interpreter's registers set.
    fn native_step(&mut self, fp: usize, pc: usize) -> u64 {
        // Inlined code says whose code it is part of.
        let owner = (pc >> vm::runtime::STEP_OWNER_SHIFT).checked_sub(1);
        let pc = pc & ((1 << vm::runtime::STEP_OWNER_SHIFT) - 1);
        let epoch = self.u.method_epoch;
        self.fp = fp;
        let method = self.frame(FRAME_METHOD);
        self.set_method(method);
        self.pc = pc;
        // Native code polls interrupts at method entries and back-edges,
        // and comes here when one is pending.
        if self.u.interrupts.is_pending() {
            if let Err(flow) = self.safepoint() {
                self.pending = Some(flow);
                return NATIVE_LEFT;
            }
            if self.left_native {
                // Another process runs now; this frame goes on when its
                // process does, in the interpreter, at `pc`.
                self.left_native = false;
                return NATIVE_LEFT;
            }
        }
        self.count_exit();
        match owner {
            Some(owner) => self.note_inlined_send_exit(owner, pc),
            None => self.note_native_send_exit(pc),
        }
        let byte = self.method_byte(method, pc);
        let plain_return =
            byte == Some(vm::bytecode::opcode_bytes::Return) || byte == Some(vm::bytecode::opcode_bytes::ReturnSelf);
        let non_local_return = byte == Some(vm::bytecode::opcode_bytes::ReturnNonLocal);
        let caller = self.caller_fp(fp);
        let code = self.code;
        // SAFETY: `pc` starts a bytecode of the frame's method (native code
        // passes the offset of the bytecode it stands at), whose code was
        // verified before it was installed.
        let step = unsafe { dispatch_verified(self, code, pc) };
        if let Err(flow) = step {
            self.pending = Some(flow);
            return NATIVE_LEFT;
        }
        if self.left_native {
            // An exception cut the chain or another process runs now: the
            // native activations below must not go on.
            self.left_native = false;
            return NATIVE_LEFT;
        }
        if plain_return && self.fp == caller.unwrap_or(NO_FRAME) {
            // The frame returned to its caller: its value is where its
            // receiver was (`after_native_return` reads its header).
            self.fp = fp;
            return NATIVE_RETURNED;
        }
        if plain_return || non_local_return {
            // Returned elsewhere, or returned and sent (`escapedBlock:`).
            return NATIVE_LEFT;
        }
        if self.fp == fp {
            // Same frame: the bytecode is done (a send answered at once).
            return if self.u.method_epoch == epoch { self.pc as u64 } else { NATIVE_LEFT };
        }
        if self.fp != NO_FRAME && self.fp > fp && self.caller_fp(self.fp) == Some(fp) {
            // A frame was pushed for the callee.
            return self.run_callee_natively(fp, epoch);
        }
        NATIVE_LEFT
    }

    /// The byte at `pc` of `method`'s bytecode.
    fn method_byte(&self, method: Value, pc: usize) -> Option<u8> {
        let bytes = method.slot(vm::layout::METHOD_BYTECODE).bytes();
        bytes.get(pc).copied()
    }

    /// Whether this thread's native stack is used past
    /// [`NATIVE_STACK_BUDGET`] since the interpreter loop first ran. Native
    /// code that calls natively uses little of it per call (the depth bound
    /// covers that), but a callee run natively from inside `mica_step`
    /// nests the interpreter's own Rust frames too; past the budget the
    /// callee is left to the interpreter's loop, which does not nest.
    #[inline]
    fn native_stack_exhausted(&self) -> bool {
        let here = 0u8;
        let here = std::ptr::addr_of!(here) as usize;
        // The stack grows down on every target Mica supports.
        here < self.native_stack_floor
    }

    /// A send pushed the frame of a callee; run it natively if it has native
    /// code, else leave it to the interpreter.
    fn run_callee_natively(&mut self, caller: usize, epoch: u64) -> u64 {
        let Some(native) = self.native else { return NATIVE_LEFT };
        if self.u.native_depth as u64 >= self.jit_config.native_depth
            || self.u.method_epoch != epoch
            || self.u.interrupts.is_pending()
            || self.native_stack_exhausted()
        {
            return NATIVE_LEFT;
        }
        let callee = self.fp;
        let pc = self.pc;
        self.u.native_depth += 1;
        let frame = self.u.stack.as_mut_ptr().wrapping_add(callee);
        // SAFETY: the callee's frame is complete (pushed by the interpreter),
        // `frame` is its address, and `native` was compiled from its method's
        // verified bytecode.
        let r = unsafe { native(self as *mut Interpreter as *mut c_void, callee as u64, pc as u64, frame) };
        self.u.native_depth -= 1;
        match r {
            NATIVE_RETURNED => {
                let next = self.u.stack[callee + FRAME_CALLER_PC].int_value() as usize;
                self.fp = caller;
                let method = self.frame(FRAME_METHOD);
                self.set_method(method);
                self.pc = next;
                if self.u.method_epoch == epoch { next as u64 } else { NATIVE_LEFT }
            }
            NATIVE_LEFT => NATIVE_LEFT,
            exit_pc => {
                // The callee left a bytecode to the interpreter.
                self.fp = self.u.jit_fp;
                let method = self.frame(FRAME_METHOD);
                self.set_method(method);
                self.pc = exit_pc as usize;
                NATIVE_LEFT
            }
        }
    }
}

/// Runs one bytecode in the interpreter for native code (see the module
/// documentation).
///
/// # Safety
/// `interp` must be the interpreter native code was called with; the frame
/// at `fp` must be written back, `sp` stored, and `pc` the offset of a
/// bytecode of the frame's method (with, above
/// `vm::runtime::STEP_OWNER_SHIFT`, the owner bits inlined code passes).
pub unsafe extern "C" fn mica_step(interp: *mut c_void, fp: u64, pc: u64) -> u64 {
    // SAFETY: the caller passes the interpreter it was called with, which
    // outlives the call; the VM is single-threaded.
    let interp = unsafe { &mut *(interp as *mut Interpreter) };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| interp.native_step(fp as usize, pc as usize)));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        interp.pending = Some(Flow::Stop(Box::new(Stop::Fatal(format!("internal error: {message}")))));
        NATIVE_LEFT
    })
}

/// Runs data primitive `n` for native code, on the receiver and `argc`
/// arguments on top of the stack (native code stored `sp`). Answers 1 when
/// it answered (its value replaces the receiver and arguments), 0 when
/// native code must make the send through the interpreter instead (a
/// failure, which has no effects, or a primitive that needs the
/// interpreter), or `NATIVE_LEFT`.
///
/// # Safety
/// As for [`mica_step`]; `sp` covers the receiver and arguments.
pub unsafe extern "C" fn mica_primitive(interp: *mut c_void, n: u64, argc: u64) -> u64 {
    // SAFETY: as in `mica_step`.
    let interp = unsafe { &mut *(interp as *mut Interpreter) };
    let f = match vm::primitives::get(n as usize).map(|p| p.kind) {
        Some(vm::primitives::Kind::Data(f)) => f,
        Some(vm::primitives::Kind::Control(c)) if c.is_leaf() => return interp.native_leaf_control(c, argc as usize),
        _ => return 0,
    };
    let argc = argc as usize;
    match std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut interp.u, argc))) {
        Ok(vm::primitives::Prim::Ok(v)) => {
            interp.u.sp -= argc + 1;
            interp.u.push(v);
            1
        }
        Ok(_) => 0,
        Err(_) => {
            interp.pending = Some(Flow::Stop(Box::new(Stop::Fatal(format!("internal error in primitive {n}")))));
            NATIVE_LEFT
        }
    }
}

impl Interpreter {
    /// A leaf control primitive for native code, in the frame native code
    /// stored in `jit_fp`: 1 when it answered, 0 when the send must go
    /// through the interpreter (which raises the error it met: the
    /// primitive had no effect), or `NATIVE_LEFT`.
    fn native_leaf_control(&mut self, c: vm::primitives::Control, argc: usize) -> u64 {
        let saved = self.fp;
        self.fp = self.u.jit_fp;
        let sp = self.u.sp;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.control_leaf(c, argc)));
        self.fp = saved;
        match result {
            Ok(Ok(())) => 1,
            Ok(Err(Flow::Raise(_))) => {
                self.u.sp = sp;
                0
            }
            Ok(Err(flow)) => {
                self.pending = Some(flow);
                NATIVE_LEFT
            }
            Err(_) => {
                self.pending = Some(Flow::Stop(Box::new(Stop::Fatal(format!("internal error in primitive {c:?}")))));
                NATIVE_LEFT
            }
        }
    }
}

/// Whether two byte objects (strings or symbols) of the same size hold the
/// same bytes, for native code: 1 or 0. A leaf: it neither allocates nor
/// reads the frame stack.
///
/// # Safety
/// `a` and `b` must be byte objects of the same size.
pub unsafe extern "C" fn mica_bytes_equal(a: u64, b: u64) -> u64 {
    let (a, b) = (Value::from_bits(a), Value::from_bits(b));
    u64::from(a.bytes() == b.bytes())
}

/// The write barrier's slow path, for native code.
///
/// # Safety
/// `interp` must be the interpreter native code was called with; `target`
/// an object and `value` a value.
pub unsafe extern "C" fn mica_barrier(interp: *mut c_void, target: u64, value: u64) {
    // SAFETY: as in `mica_step`.
    let interp = unsafe { &mut *(interp as *mut Interpreter) };
    interp.u.heap.write_barrier(Value::from_bits(target), Value::from_bits(value));
}
