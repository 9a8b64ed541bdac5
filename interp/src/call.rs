//! Sends, calls and returns: inline-cache lookup, method activation,
//! primitives, `doesNotUnderstand:`, and popping frames.

use vm::layout::*;
use vm::object::Format;
use vm::primitives::{ErrorKind, Kind, Prim};
use vm::runtime::Trivial;
use vm::value::Value;

use crate::frame::*;
use crate::{Flow, Interpreter, Step};

/// `fp` while no frame runs (a send from Rust): the activation it makes
/// returns to Rust.
pub(crate) const NO_FRAME: usize = usize::MAX;

impl Interpreter {
    /// Sends `selector` to the receiver `argc` below the top of the stack,
    /// through inline cache `ic` of the running method.
    #[inline]
    pub(crate) fn send_cached(&mut self, selector: Value, argc: usize, ic: u32) -> Step {
        let receiver = self.peek(argc);
        let class = self.u.class_of(receiver);
        let cache = &mut self.u.runtime_mut(self.rt).ics[ic as usize];
        let (method, rt) = match cache.find(class) {
            Some(found) => {
                cache.hits += 1;
                found
            }
            None => {
                cache.misses += 1;
                let m = self.u.lookup(class, selector);
                let (cell, rt) =
                    if m == self.u.nil() { (0, 0) } else { (m.slot(METHOD_CELL).bits() & !1, self.u.runtime_index(m)) };
                let record = self.u.runtime_mut(self.rt);
                let cache = &mut record.ics[ic as usize];
                cache.record(class, m, cell, rt);
                record.ics_outgrown |= cache.outgrown();
                (m, rt)
            }
        };
        if method == self.u.nil() {
            return self.does_not_understand(selector, argc);
        }
        self.invoke_rt(method, rt, argc)
    }

    /// Sends `selector` without an inline cache (perform:, DNU, ...).
    pub(crate) fn send_uncached(&mut self, selector: Value, argc: usize) -> Step {
        let receiver = self.peek(argc);
        let class = self.u.class_of(receiver);
        let method = self.u.lookup(class, selector);
        if method == self.u.nil() {
            return self.does_not_understand(selector, argc);
        }
        self.invoke(method, argc)
    }

    /// Sends `selector` looked up from `class` (super sends,
    /// `perform:inSuperclass:`).
    pub(crate) fn send_from_class(&mut self, class: Value, selector: Value, argc: usize) -> Step {
        let method = if class == self.u.nil() { class } else { self.u.lookup(class, selector) };
        if method == self.u.nil() {
            return self.does_not_understand(selector, argc);
        }
        self.invoke(method, argc)
    }

    /// Runs `method` on the receiver and `argc` arguments on the stack.
    #[inline]
    pub(crate) fn invoke(&mut self, method: Value, argc: usize) -> Step {
        let rt = self.u.runtime_index(method);
        self.invoke_rt(method, rt, argc)
    }

    /// Runs `method` (runtime record `rt`) on the receiver and `argc`
    /// arguments on the stack.
    #[inline(always)]
    pub(crate) fn invoke_rt(&mut self, method: Value, rt: usize, argc: usize) -> Step {
        let info = self.u.runtime(rt).info;
        if info.primitive != 0 {
            return self.primitive(method, rt, info.primitive as usize, argc);
        }
        if info.missing_primitive {
            let name = self.method_name(method);
            return self.raise(ErrorKind::PrimitiveFailed, format!("Primitive {name} is not implemented."), argc + 1);
        }
        let receiver = self.peek(argc);
        if info.trivial != Trivial::No && self.fp != NO_FRAME {
            return self.run_trivial(info.trivial, rt, receiver, argc);
        }
        let nil = self.u.nil();
        self.push_frame_rt(method, rt, receiver, nil, nil)
    }

    /// Runs a method that needs no frame: the result replaces receiver and
    /// arguments.
    #[inline(always)]
    fn run_trivial(&mut self, trivial: Trivial, rt: usize, receiver: Value, argc: usize) -> Step {
        let result = match trivial {
            // SAFETY: the method was verified against its class's fields and
            // the receiver is an instance of that class or a subclass, so the
            // field exists.
            Trivial::Getter(i) => unsafe { receiver.slot_unchecked(i as usize) },
            Trivial::Setter(i) => {
                let v = self.peek(0);
                // SAFETY: as for the getter; the barrier follows.
                unsafe { receiver.set_slot_unchecked(i as usize, v) };
                self.u.heap.write_barrier(receiver, v);
                receiver
            }
            Trivial::ReturnSelf => receiver,
            Trivial::Constant(v) => v,
            Trivial::No => unreachable!("checked by the caller"),
        };
        self.u.sp -= argc;
        // SAFETY: the receiver slot lies below `sp`.
        unsafe { *self.u.stack.get_unchecked_mut(self.u.sp - 1) = result };
        self.u.runtime_mut(rt).invocations += 1;
        Ok(())
    }

    /// Invokes from Rust: like [`invoke`](Self::invoke), but the activation
    /// returns to Rust. `Ok(Some(v))` when a primitive answered at once.
    pub(crate) fn invoke_from_rust(&mut self, method: Value, argc: usize) -> Result<Option<Value>, Flow> {
        self.fp = NO_FRAME;
        self.invoke(method, argc)?;
        if self.fp == NO_FRAME { Ok(Some(self.top())) } else { Ok(None) }
    }

    /// Pushes a frame for `method` over the receiver and arguments already
    /// on the stack.
    #[inline]
    pub(crate) fn push_frame(&mut self, method: Value, self_value: Value, context: Value, closure: Value) -> Step {
        let rt = self.u.runtime_index(method);
        self.push_frame_rt(method, rt, self_value, context, closure)
    }

    /// Pushes a frame for `method` (runtime record `rt`); a method entry is
    /// a safepoint.
    #[inline(always)]
    pub(crate) fn push_frame_rt(
        &mut self,
        method: Value,
        rt: usize,
        self_value: Value,
        context: Value,
        closure: Value,
    ) -> Step {
        self.push_frame_rt_unpolled(method, rt, self_value, context, closure)?;
        if self.u.interrupts.is_pending() {
            return self.safepoint();
        }
        Ok(())
    }

    /// Pushes a frame for `method` without acting on interrupts (for the
    /// scheduler itself).
    pub(crate) fn push_frame_unpolled(
        &mut self,
        method: Value,
        self_value: Value,
        context: Value,
        closure: Value,
    ) -> Step {
        let rt = self.u.runtime_index(method);
        self.push_frame_rt_unpolled(method, rt, self_value, context, closure)
    }

    /// Pushes a frame for `method` (runtime record `rt`).
    #[inline(always)]
    fn push_frame_rt_unpolled(
        &mut self,
        method: Value,
        rt: usize,
        self_value: Value,
        context: Value,
        closure: Value,
    ) -> Step {
        let info = self.u.runtime(rt).info;
        let temps = info.num_temps as usize;
        let fp = self.u.sp;
        if fp + FRAME_HEADER + temps + info.max_stack as usize + STACK_RESERVE > self.u.stack.len() {
            return Err(self.stack_overflow());
        }
        let caller_fp = if self.fp == NO_FRAME { -1 } else { self.fp as i64 };
        let nil = self.u.known.nil;
        let header = [method, Value::small(caller_fp), Value::small(self.pc as i64), self_value, context, closure];
        // SAFETY: the check above leaves room for the header, temporaries
        // and operand stack.
        unsafe {
            let base = self.u.stack.as_mut_ptr().add(fp);
            std::ptr::copy_nonoverlapping(header.as_ptr(), base, FRAME_HEADER);
            for i in 0..temps {
                *base.add(FRAME_HEADER + i) = nil;
            }
        }
        self.u.sp = fp + FRAME_HEADER + temps;
        self.fp = fp;
        self.pc = 0;
        self.set_method_rt(method, rt);
        self.u.runtime_mut(rt).invocations += 1;
        self.maybe_compile(rt);
        Ok(())
    }

    /// Returns `value` from the running frame to its caller.
    #[inline]
    pub(crate) fn return_value(&mut self, value: Value) -> Step {
        if self.home {
            self.mark_home_dead(self.fp);
        }
        let fp = self.fp;
        let caller = self.frame(FRAME_CALLER_FP).int_value();
        let caller_pc = self.frame(FRAME_CALLER_PC).int_value() as usize;
        let base = fp - self.num_args - 1;
        // SAFETY: the receiver slot lies below the frame.
        unsafe { *self.u.stack.get_unchecked_mut(base) = value };
        self.u.sp = base + 1;
        if caller < 0 {
            return self.bottom_returned(value);
        }
        self.fp = caller as usize;
        self.pc = caller_pc;
        // SAFETY: the caller's frame lies below `sp`.
        let method = unsafe { *self.u.stack.get_unchecked(self.fp + FRAME_METHOD) };
        self.set_method(method);
        Ok(())
    }

    /// The bottom frame returned `value`: the send from Rust answers it. In
    /// a process other than the main one (only a forged cut gets there:
    /// `Process>>startUp` never returns) that process ends instead.
    #[cold]
    #[inline(never)]
    fn bottom_returned(&mut self, value: Value) -> Step {
        if !self.in_main_process() {
            return self.end_active_process();
        }
        self.fp = NO_FRAME;
        Err(Flow::Return(value))
    }

    /// Marks the home context of the method frame at `fp` as returned, so
    /// that non-local returns to it become `escapedBlock:`.
    pub(crate) fn mark_home_dead(&mut self, fp: usize) {
        let nil = self.u.nil();
        let mut ctx = self.u.stack[fp + FRAME_CONTEXT];
        while ctx != nil {
            let parent = ctx.slot(CONTEXT_PARENT);
            if parent == nil {
                ctx.set_slot_raw(CONTEXT_HOME_FRAME, nil);
            }
            ctx = parent;
        }
    }

    /// Runs primitive number `n` of `method` (runtime record `rt`).
    fn primitive(&mut self, method: Value, rt: usize, n: usize, argc: usize) -> Step {
        match vm::primitives::get(n).map(|p| p.kind) {
            Some(Kind::Data(f)) => match f(&mut self.u, argc) {
                Prim::Ok(v) => {
                    self.u.sp -= argc + 1;
                    self.push(v);
                    if self.fp == NO_FRAME { Err(Flow::Return(v)) } else { Ok(()) }
                }
                // A fallback (`= ( <primitive> ... )`) runs instead of either
                // failure.
                Prim::Fail | Prim::Error(_) | Prim::Raise(..) if self.u.runtime(rt).info.code_len != 0 => {
                    self.run_fallback(method, rt, argc)
                }
                Prim::Fail => {
                    let message = self.primitive_failed(method, argc);
                    self.raise(ErrorKind::PrimitiveFailed, message, argc + 1)
                }
                Prim::Error(message) => self.raise(ErrorKind::PrimitiveFailed, message, argc + 1),
                Prim::Raise(kind, message) => self.raise(kind, message, argc + 1),
            },
            Some(Kind::Control(c)) => self.control(c, method, argc),
            None => self.raise(ErrorKind::PrimitiveFailed, format!("bad primitive number {n}"), argc + 1),
        }
    }

    /// Activates the fallback code of a primitive that failed, over the
    /// receiver and arguments the primitive left on the stack.
    #[cold]
    pub(crate) fn run_fallback(&mut self, method: Value, rt: usize, argc: usize) -> Step {
        let receiver = self.peek(argc);
        let nil = self.u.nil();
        self.push_frame_rt(method, rt, receiver, nil, nil)
    }

    /// The message of a primitive that failed with no fallback.
    fn primitive_failed(&mut self, method: Value, argc: usize) -> String {
        let name = self.method_name(method);
        let args: Vec<String> = (0..argc).map(|i| self.describe(self.peek(argc - 1 - i))).collect();
        let receiver = self.describe(self.peek(argc));
        if args.is_empty() {
            format!("Primitive {name} failed for {receiver}.")
        } else {
            format!("Primitive {name} failed for {receiver} with {}.", args.join(", "))
        }
    }

    /// Sends `doesNotUnderstand: selector arguments: args` in place of the
    /// send that found no method.
    pub(crate) fn does_not_understand(&mut self, selector: Value, argc: usize) -> Step {
        let array = match self.u.new_array(argc) {
            Ok(a) => a,
            Err(e) => return self.raise(ErrorKind::OutOfMemory, e.to_string(), argc + 1),
        };
        for i in 0..argc {
            array.set_slot_raw(i, self.peek(argc - 1 - i));
        }
        self.u.sp -= argc;
        self.push(selector);
        self.push(array);
        let receiver = self.peek(2);
        let class = self.u.class_of(receiver);
        let dnu = self.intern("doesNotUnderstand:arguments:");
        let method = self.u.lookup(class, dnu);
        if method == self.u.nil() {
            let sel = self.u.text_or_describe(selector);
            let name = self.u.class_name(class);
            let message = format!("{name} does not understand {sel} (nor doesNotUnderstand:arguments:).");
            return self.raise(ErrorKind::Error, message, 3);
        }
        self.invoke(method, 2)
    }

    /// The Symbol for `name`.
    pub(crate) fn intern(&mut self, name: &str) -> Value {
        self.u.intern(name).unwrap_or(self.u.known.nil)
    }

    /// `Class>>selector` of a method (`Class>>selector (block)` for a
    /// block).
    pub(crate) fn method_name(&self, method: Value) -> String {
        self.u.method_name(method)
    }

    /// A short description of a value for messages.
    pub(crate) fn describe(&self, v: Value) -> String {
        if let Some(i) = v.as_int() {
            return i.to_string();
        }
        if let Some(s) = self.u.string_value(v) {
            return if self.u.is_symbol(v) { format!("#{s}") } else { format!("'{s}'") };
        }
        if let Some(d) = self.u.double_value(v) {
            return vm::primitives::format_double(d);
        }
        if v == self.u.nil() {
            return "nil".into();
        }
        if v == self.u.known.true_ {
            return "true".into();
        }
        if v == self.u.known.false_ {
            return "false".into();
        }
        if let Some(c) = v.as_char() {
            return format!("${c}");
        }
        if v.is_pointer() && v.format() == Format::Class {
            return self.u.class_name(v);
        }
        let name = self.u.class_name(self.u.class_of(v));
        let article = if name.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" };
        format!("{article} {name}")
    }
}
