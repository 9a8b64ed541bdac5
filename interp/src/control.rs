//! Control primitives: the ones that run Smalltalk code, unwind or stop.

use vm::layout::*;
use vm::primitives::{Control, ErrorKind};
use vm::value::Value;

use crate::error::Stop;
use crate::frame::*;
use crate::{Flow, Interpreter, Step};

impl Interpreter {
    /// Runs control primitive `c` of `method` with `argc` arguments.
    pub(crate) fn control(&mut self, c: Control, method: Value, argc: usize) -> Step {
        match c {
            Control::BlockValue => {
                let closure = self.peek(argc);
                self.call_block(closure, argc)
            }
            Control::BlockValueWithArguments => {
                let args = self.peek(0);
                if !self.u.is_array(args) {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "valueWithArguments: needs an Array."));
                }
                let closure = self.peek(1);
                let code = closure.slot(CLOSURE_CODE);
                let arity = method_info_counts(code.slot(METHOD_INFO).int_value()).0;
                if arity != args.size() {
                    let message = format!("Wrong number of arguments: a block of {arity} called with {}.", args.size());
                    return Err(self.failure(ErrorKind::PrimitiveFailed, message));
                }
                let n = self.spread_arguments()?;
                let closure = self.peek(n);
                self.call_block(closure, n)
            }
            Control::BlockCull => {
                let closure = self.peek(1);
                let code = closure.slot(CLOSURE_CODE);
                let arity = method_info_counts(code.slot(METHOD_INFO).int_value()).0;
                if arity == 0 {
                    self.u.sp -= 1;
                }
                self.call_block(closure, arity.min(1))
            }
            Control::BlockRestart => {
                // The block's frame is the caller of `restart`: run it again
                // from its first instruction.
                self.u.sp -= argc + 1;
                self.pc = 0;
                Ok(())
            }
            Control::Perform => {
                // rcv sel a1..an -> rcv a1..an, then send sel.
                let sel_index = self.u.sp - argc;
                let selector = self.u.stack[sel_index];
                if !self.u.is_symbol(selector) {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "perform: needs a Symbol."));
                }
                self.check_arity(selector, argc - 1)?;
                self.u.stack.copy_within(sel_index + 1..self.u.sp, sel_index);
                self.u.sp -= 1;
                self.send_uncached(selector, argc - 1)
            }
            Control::PerformWithArguments => {
                let selector = self.peek(1);
                let args = self.peek(0);
                if !self.u.is_symbol(selector) || !self.u.is_array(args) {
                    return Err(
                        self.failure(ErrorKind::PrimitiveFailed, "perform:withArguments: needs a Symbol and an Array.")
                    );
                }
                self.check_arity(selector, args.size())?;
                self.u.stack[self.u.sp - 2] = args;
                self.u.sp -= 1;
                let n = self.spread_arguments()?;
                self.send_uncached(selector, n)
            }
            Control::PerformInSuperclass => {
                let selector = self.peek(1);
                let class = self.peek(0);
                self.check_kind(self.peek(2), class)?;
                self.u.sp -= 2;
                self.send_from_class(class, selector, 0)
            }
            Control::PerformWithArgumentsInSuperclass => {
                let selector = self.peek(2);
                let args = self.peek(1);
                let class = self.peek(0);
                if !self.u.is_array(args) {
                    return Err(
                        self.failure(ErrorKind::PrimitiveFailed, "perform:withArguments:inSuperclass: needs an Array.")
                    );
                }
                self.check_kind(self.peek(3), class)?;
                self.u.sp -= 2;
                self.u.stack[self.u.sp - 1] = args;
                let n = self.spread_arguments()?;
                self.send_from_class(class, selector, n)
            }
            Control::InvokeOnWith => {
                // method invokeOn: obj with: args  ->  obj a1..an, run method.
                let target = self.peek(2);
                let receiver = self.peek(1);
                let args = self.peek(0);
                if !self.u.is_array(args) {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "invokeOn:with: needs an Array of arguments."));
                }
                if target.format() != vm::object::Format::Method {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "invokeOn:with: must be sent to a method."));
                }
                self.check_kind(receiver, target.slot(METHOD_HOLDER))?;
                self.u.sp -= 3;
                self.push(receiver);
                self.push(args);
                let n = self.spread_arguments()?;
                self.invoke(target, n)
            }
            Control::Exit => {
                let status = self.peek(0);
                match status.as_int() {
                    Some(s) if i32::try_from(s).is_ok() => Err(Flow::Stop(Box::new(Stop::Exit(s as i32)))),
                    Some(s) => {
                        Err(self.failure(ErrorKind::PrimitiveFailed, format!("Exit status {s} is out of range.")))
                    }
                    None => {
                        let class = self.u.class_name(self.u.class_of(status));
                        let message = format!("Expected object of type 'Int' but got type '{class}'.");
                        Err(self.failure(ErrorKind::PrimitiveFailed, message))
                    }
                }
            }
            Control::PrintStackTrace => {
                let trace = self.stack_trace();
                self.u.output.write_out(trace.as_bytes());
                self.finish_primitive(argc, self.peek(argc))
            }
            Control::Load => {
                let name = self.peek(0);
                if !self.u.is_symbol(name) {
                    let class = self.u.class_name(self.u.class_of(name));
                    let message = format!("Expected instance of 'Symbol' but got instance of '{class}'.");
                    return Err(self.failure(ErrorKind::PrimitiveFailed, message));
                }
                let text = self.u.text_or_describe(name);
                match self.load_class(&text) {
                    Ok(Some(class)) => self.finish_primitive(argc, class),
                    Ok(None) => self.finish_primitive(argc, self.u.nil()),
                    Err(message) => Err(self.failure(ErrorKind::Error, message)),
                }
            }
            Control::LoadFile => {
                let path = self.peek(0);
                let Some(text) = self.u.string_value(path) else {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "loadFile: needs a String."));
                };
                match std::fs::read(&text) {
                    Ok(bytes) => match self.u.new_string_bytes(&bytes) {
                        Ok(s) => self.finish_primitive(argc, s),
                        Err(e) => Err(self.failure(ErrorKind::OutOfMemory, e.to_string())),
                    },
                    Err(_) => self.finish_primitive(argc, self.u.nil()),
                }
            }
            Control::Compile => {
                let class = self.peek(1);
                let source = self.peek(0);
                let Some(text) = self.u.string_value(source) else {
                    return Err(self.failure(ErrorKind::PrimitiveFailed, "compile: needs a String."));
                };
                match self.compile_method(class, &text) {
                    Ok(m) => self.finish_primitive(argc, m),
                    Err(message) => Err(self.failure(ErrorKind::Error, message)),
                }
            }
            Control::Frame
            | Control::FrameCaller
            | Control::FrameArgument
            | Control::NextHandler
            | Control::Handling
            | Control::NextUnwindBlock
            | Control::ReturnFromFrame
            | Control::RestartFrame
            | Control::Unhandled => self.exception_primitive(c, argc),
            Control::QuickReturnFromFrame | Control::QuickReturn => self.quick_return(c, method, argc),
            Control::ProcessPriority
            | Control::ProcessResume
            | Control::ProcessSuspend
            | Control::ProcessTerminate
            | Control::ProcessTerminateActive
            | Control::ProcessIsMain
            | Control::ActiveProcess
            | Control::Yield
            | Control::SemaphoreSignal
            | Control::SemaphoreWait
            | Control::SemaphoreWaitTimeout => self.process_primitive(c, argc),
            Control::LiveAnswer => self.live_answer(argc),
            Control::LivePrints => self.live_prints(argc),
        }
        .or_else(|flow| match flow {
            Flow::Stop(stop) => match *stop {
                Stop::Fatal(m) => Err(Flow::Stop(Box::new(Stop::Fatal(format!("{} ({m})", self.method_name(method)))))),
                other => Err(Flow::Stop(Box::new(other))),
            },
            // An error of the primitive: raised in place of its send.
            raise @ Flow::Raise(_) => self.raise_flow(raise, argc),
            other => Err(other),
        })
    }

    /// A leaf control primitive (see `Control::is_leaf`), which answers in
    /// place of its send or fails with a raise and no effect.
    pub(crate) fn control_leaf(&mut self, c: Control, argc: usize) -> Step {
        match c {
            Control::ActiveProcess | Control::ProcessIsMain => self.process_primitive(c, argc),
            _ => self.exception_primitive(c, argc),
        }
    }

    /// Pops receiver and arguments and pushes `result`, as a data primitive
    /// does (sent from Rust, the result is what the send answers).
    pub(crate) fn finish_primitive(&mut self, argc: usize, result: Value) -> Step {
        self.answer(argc, result);
        if self.fp == crate::call::NO_FRAME { Err(Flow::Return(result)) } else { Ok(()) }
    }

    /// Replaces a primitive's receiver and `argc` arguments on the stack by
    /// `result`.
    pub(crate) fn answer(&mut self, argc: usize, result: Value) {
        self.u.sp -= argc + 1;
        self.push(result);
    }

    /// Fails unless `receiver` is an instance of `class` or of a subclass:
    /// a method may only run on receivers that have its class's fields.
    fn check_kind(&mut self, receiver: Value, class: Value) -> Result<(), Flow> {
        if !self.u.is_class(class) {
            return Err(self.failure(ErrorKind::PrimitiveFailed, "Expected a class."));
        }
        let nil = self.u.nil();
        let mut c = self.u.class_of(receiver);
        while c != nil {
            if c == class {
                return Ok(());
            }
            c = c.slot(CLASS_SUPERCLASS);
        }
        let (r, k) = (self.describe(receiver), self.u.class_name(class));
        Err(self.failure(ErrorKind::PrimitiveFailed, format!("{r} is not an instance of {k}.")))
    }

    /// Fails unless `selector` takes `given` arguments.
    fn check_arity(&mut self, selector: Value, given: usize) -> Result<(), Flow> {
        let name = self.u.text_or_describe(selector);
        let wanted = vm::bytecode::selector_arity(&name);
        if wanted == given {
            Ok(())
        } else {
            let message = format!("Tried passing {given} arguments to a function that requires {wanted}.");
            Err(self.failure(ErrorKind::PrimitiveFailed, message))
        }
    }

    /// Replaces the Array on top of the stack by its elements; answers how
    /// many.
    fn spread_arguments(&mut self) -> Result<usize, Flow> {
        let args = self.pop();
        let n = args.size();
        if self.u.sp + n + STACK_RESERVE > self.u.stack.len() {
            return Err(self.stack_overflow());
        }
        for i in 0..n {
            let v = args.slot(i);
            self.push(v);
        }
        Ok(n)
    }

    /// Compiles `source` as a method of `class` and installs it (adding or
    /// replacing); answers the method.
    fn compile_method(&mut self, class: Value, source: &str) -> Result<Value, String> {
        if !self.u.is_class(class) {
            return Err("compile: must be sent to a class.".into());
        }
        let fields = self.u.field_names(class);
        let code = vm::compiler::compile_method_source("<compile:>", source, &fields, Default::default())
            .map_err(|e| e.to_string())?;
        if let Some(why) = code.selector().and_then(|s| self.u.edit_refusal(class, s)) {
            return Err(why);
        }
        vm::bytecode::verify_method(&code, fields.len() as u32).map_err(|e| e.to_string())?;
        let ns = self.u.namespace_of(class);
        let nil = self.u.nil();
        let name = self.u.class_name(class);
        let method = self.u.make_method(&code, class, ns, nil, nil, &name).map_err(|e| e.to_string())?;
        self.u.add_method(class, method).map_err(|e| e.to_string())?;
        Ok(method)
    }
}
