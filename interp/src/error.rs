//! Stopping: `system exit:`, Smalltalk errors with a stack trace, and fatal
//! VM errors.

use std::fmt::Write;

use vm::layout::*;
use vm::value::Value;

use crate::call::NO_FRAME;
use crate::frame::*;
use crate::{Flow, Interpreter};

/// Why the program stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `system exit: status`.
    Exit(i32),
    /// An uncaught Smalltalk error.
    Error {
        /// The message.
        message: String,
        /// The stack trace, most recent call last.
        trace: String,
        /// Whether the message goes to standard output as `ERROR: message`
        /// (`error:`, as SOM prints it) rather than to standard error.
        on_stdout: bool,
    },
    /// The VM could not go on (the message says why).
    Fatal(String),
}

/// Frames shown at each end of a long stack trace.
const TRACE_ENDS: usize = 25;

impl Interpreter {
    /// A Smalltalk error with `message` and a trace of the current stack.
    pub(crate) fn error(&mut self, message: impl Into<String>) -> Flow {
        Flow::Stop(Box::new(Stop::Error { message: message.into(), trace: self.stack_trace(), on_stdout: false }))
    }

    /// The error for a full frame stack.
    pub(crate) fn stack_overflow(&mut self) -> Flow {
        let depth = self.frame_count();
        self.error(format!(
            "Stack overflow: the stack is exhausted after {depth} activations ({} words of frame stack).",
            self.u.stack.len()
        ))
    }

    fn frame_count(&self) -> usize {
        let mut n = 0;
        let mut fp = self.fp;
        while fp != NO_FRAME {
            n += 1;
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        n
    }

    /// One line per frame, outermost first: `Class>>selector (file:line)`.
    pub(crate) fn stack_trace(&self) -> String {
        self.stack_trace_from(self.fp, self.pc)
    }

    /// The trace of frame `fp`, at bytecode index `pc`, and its callers.
    pub(crate) fn stack_trace_from(&self, fp: usize, pc: usize) -> String {
        let mut frames = Vec::new();
        let mut fp = fp;
        let mut pc = pc;
        while fp != NO_FRAME {
            frames.push((fp, pc));
            pc = self.u.stack[fp + FRAME_CALLER_PC].int_value().max(0) as usize;
            fp = self.caller_fp(fp).unwrap_or(NO_FRAME);
        }
        frames.reverse();
        let mut out = String::from("Traceback (most recent call at bottom):\n");
        let n = frames.len();
        for (i, &(fp, pc)) in frames.iter().enumerate() {
            if n > 2 * TRACE_ENDS && i == TRACE_ENDS {
                let _ = writeln!(out, "  ... {} more activations ...", n - 2 * TRACE_ENDS);
            }
            if n > 2 * TRACE_ENDS && i >= TRACE_ENDS && i < n - TRACE_ENDS {
                continue;
            }
            let method = self.u.stack[fp + FRAME_METHOD];
            let _ = writeln!(out, "  {}", self.frame_description(method, pc.saturating_sub(1)));
        }
        out
    }

    pub(crate) fn frame_description(&self, method: Value, pc: usize) -> String {
        let name = self.method_name(method);
        let line = self.u.line_at(method, pc);
        let file = self.u.string_value(method.slot(METHOD_FILE)).unwrap_or_default();
        format!("{name} ({file}:{line})")
    }

    /// Prints what stopped the program and answers the exit status.
    pub fn report(&mut self, stop: Stop) -> i32 {
        match stop {
            Stop::Exit(status) => status,
            Stop::Error { message, trace, on_stdout } => {
                if on_stdout {
                    self.u.output.write_out(format!("ERROR: {message}\n").as_bytes());
                    self.u.output.write_err(trace.as_bytes());
                } else {
                    self.u.output.write_err(format!("{trace}{message}\n").as_bytes());
                }
                1
            }
            Stop::Fatal(message) => {
                self.u.output.write_err(format!("mica: {message}\n").as_bytes());
                1
            }
        }
    }
}
