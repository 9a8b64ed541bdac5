//! Primitives: implemented once, here, for every tier.
//!
//! A primitive works on the universe's frame stack: the receiver is
//! `argc` below the top, the arguments above it. It answers a value (the
//! caller pops receiver and arguments and pushes it), fails (the caller
//! runs the method's Smalltalk code, or raises an error), or raises an error
//! with a message. Values read from the stack stay valid across an
//! allocation only if read again afterwards (the stack is a root).
//!
//! Control primitives — the ones that run Smalltalk code (block
//! evaluation, `perform:`), unwind or stop the program — are only named
//! here; the interpreter implements them.

mod double;
mod integer;
mod object;
mod string;
mod system;

pub use double::format_double;
pub use object::{identity_hash, same};
pub use string::string_hash;
pub use system::{Output, StdOutput, expected_symbol};

use crate::universe::Universe;
use crate::value::Value;

/// What a data primitive answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// The result.
    Ok(Value),
    /// Not applicable (wrong argument class...): run the fallback.
    Fail,
    /// A `PrimitiveFailed` error with this message.
    Error(String),
    /// An error of another kind, with this message.
    Raise(ErrorKind, String),
}

/// The kernel exception class an error the VM raises is an instance of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `Error`: no more particular class fits.
    Error,
    /// `PrimitiveFailed`: arguments of the wrong kind, a primitive this VM
    /// lacks, a primitive that failed with no Smalltalk fallback.
    PrimitiveFailed,
    /// `SubscriptOutOfBounds`: an index outside an object's bounds.
    Index,
    /// `ZeroDivide`: division by zero.
    ZeroDivide,
    /// `ArithmeticError`: a result that cannot be represented, a domain
    /// error.
    Arithmetic,
    /// `OutOfMemory`: the heap reached its limit.
    OutOfMemory,
}

impl ErrorKind {
    /// The name of the kernel class.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::Error => "Error",
            ErrorKind::PrimitiveFailed => "PrimitiveFailed",
            ErrorKind::Index => "SubscriptOutOfBounds",
            ErrorKind::ZeroDivide => "ZeroDivide",
            ErrorKind::Arithmetic => "ArithmeticError",
            ErrorKind::OutOfMemory => "OutOfMemory",
        }
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Error,
        ErrorKind::PrimitiveFailed,
        ErrorKind::Index,
        ErrorKind::ZeroDivide,
        ErrorKind::Arithmetic,
        ErrorKind::OutOfMemory,
    ];
}

impl From<crate::universe::VmError> for Prim {
    fn from(e: crate::universe::VmError) -> Prim {
        Prim::Raise(ErrorKind::OutOfMemory, e.to_string())
    }
}

/// What a primitive answers for a defined outcome of a special operation;
/// `None` for an overflow into a LargeInteger or an operand that is not
/// an immediate (the primitive's own arithmetic goes on).
pub(crate) fn answer(u: &mut Universe, outcome: crate::arith::Outcome) -> Option<Prim> {
    use crate::arith::Outcome;
    Some(match outcome {
        Outcome::Value(v) => Prim::Ok(v),
        Outcome::Bool(b) => Prim::Ok(u.boolean(b)),
        Outcome::Boxed(d) => match u.new_double(d) {
            Ok(v) => Prim::Ok(v),
            Err(e) => e.into(),
        },
        Outcome::ZeroDivide => Prim::Raise(ErrorKind::ZeroDivide, "Division by zero.".into()),
        Outcome::Overflow | Outcome::Send => return None,
    })
}

/// A data primitive.
pub type PrimFn = fn(&mut Universe, usize) -> Prim;

/// Primitives the interpreter implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// `value`, `value:`, `value:with:`, `value:with:with:` on a block.
    BlockValue,
    /// `valueWithArguments:` on a block.
    BlockValueWithArguments,
    /// `restart` on a block: run it again from the start.
    BlockRestart,
    /// `cull:` on a block: `value:` with the argument, or `value` for a
    /// block of none.
    BlockCull,
    /// `perform:` and `perform:with:...`
    Perform,
    /// `perform:withArguments:`
    PerformWithArguments,
    /// `perform:inSuperclass:`
    PerformInSuperclass,
    /// `perform:withArguments:inSuperclass:`
    PerformWithArgumentsInSuperclass,
    /// `invokeOn:with:` on a Method or Primitive.
    InvokeOnWith,
    /// `system exit: n`
    Exit,
    /// `system printStackTrace`
    PrintStackTrace,
    /// `system load: #Name`
    Load,
    /// `system loadFile: 'path'`
    LoadFile,
    /// `aClass compile: 'source'`
    Compile,
    /// `Exception primFrame`: the sender's frame.
    Frame,
    /// `Exception primCallerOf: fp`
    FrameCaller,
    /// `Exception primArgument: n of: fp`
    FrameArgument,
    /// `Exception primHandlerFrom: fp for: anException`: the next `on:do:`
    /// frame that takes it (or whose selector must be asked).
    NextHandler,
    /// `Exception primHandling: anException`: its running handler's frame.
    Handling,
    /// `Exception primUnwindBlockAbove: fp`: the next unwind block to run.
    NextUnwindBlock,
    /// `Exception primReturn: value from: fp`: unwind, the frame returns.
    ReturnFromFrame,
    /// `Exception primRestart: fp with: aBlockOrNil`: the frame restarts.
    RestartFrame,
    /// `Exception return: value from: fp` with no unwind block on the way
    /// (else its Smalltalk code runs them first).
    QuickReturnFromFrame,
    /// `anException return: value` from its handler, with no unwind block
    /// on the way (else its Smalltalk code).
    QuickReturn,
    /// `Exception primUnhandled: anException text: aString stdout: aBoolean`:
    /// the report of an unhandled error (stops the program in the main
    /// process).
    Unhandled,
    /// `Process>>priority:`
    ProcessPriority,
    /// `Process>>resume`
    ProcessResume,
    /// `Process>>suspend`
    ProcessSuspend,
    /// `Process>>primTerminate`: ends a process other than the active one.
    ProcessTerminate,
    /// `Process>>primTerminateActive`: ends the active process.
    ProcessTerminateActive,
    /// `Process>>isMain`
    ProcessIsMain,
    /// `Processor activeProcess`
    ActiveProcess,
    /// `Processor yield`
    Yield,
    /// `Semaphore>>signal`
    SemaphoreSignal,
    /// `Semaphore>>wait`
    SemaphoreWait,
    /// `Semaphore>>waitTimeoutMilliseconds:`
    SemaphoreWaitTimeout,
    /// `LiveEvaluation>>answer:print:`: the reply to a live client's eval.
    LiveAnswer,
    /// `LiveEvaluation>>answerPrints:`: the printStrings a live client's
    /// inspection asked for.
    LivePrints,
}

impl Control {
    /// Whether the primitive only reads (or marks) frames and answers a
    /// value: it never pushes, cuts or switches frames, runs Smalltalk code
    /// or stops, so native code may call it as it calls a data primitive
    /// (through `mica_primitive`, with its frame named).
    pub fn is_leaf(self) -> bool {
        matches!(
            self,
            Control::Frame
                | Control::FrameCaller
                | Control::FrameArgument
                | Control::NextHandler
                | Control::Handling
                | Control::NextUnwindBlock
                | Control::ActiveProcess
                | Control::ProcessIsMain
        )
    }
}

/// What a primitive is.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Implemented here.
    Data(PrimFn),
    /// Implemented by the interpreter.
    Control(Control),
}

/// A primitive: the class and selector it belongs to, and what it does.
#[derive(Clone, Copy, Debug)]
pub struct Primitive {
    /// The class that declares it (`Foo class` for the class side).
    pub class: &'static str,
    /// Its selector.
    pub selector: &'static str,
    /// What it does.
    pub kind: Kind,
}

const fn data(class: &'static str, selector: &'static str, f: PrimFn) -> Primitive {
    Primitive { class, selector, kind: Kind::Data(f) }
}

const fn control(class: &'static str, selector: &'static str, c: Control) -> Primitive {
    Primitive { class, selector, kind: Kind::Control(c) }
}

/// Every primitive; a method's primitive number is its index plus one.
pub static PRIMITIVES: &[Primitive] = &[
    // Object
    data("Object", "class", object::class),
    data("Object", "objectSize", object::object_size),
    data("Object", "==", object::identical),
    data("Object", "hashcode", object::hashcode),
    data("Object", "inspect", object::inspect),
    control("Object", "perform:", Control::Perform),
    control("Object", "perform:with:", Control::Perform),
    control("Object", "perform:with:with:", Control::Perform),
    control("Object", "perform:with:with:with:", Control::Perform),
    control("Object", "perform:withArguments:", Control::PerformWithArguments),
    control("Object", "perform:inSuperclass:", Control::PerformInSuperclass),
    control("Object", "perform:withArguments:inSuperclass:", Control::PerformWithArgumentsInSuperclass),
    data("Object", "instVarAt:", object::inst_var_at),
    data("Object", "instVarAt:put:", object::inst_var_at_put),
    data("Object", "instVarNamed:", object::inst_var_named),
    data("Object", "instVarNamed:put:", object::inst_var_named_put),
    // Class
    data("Class", "name", object::class_name),
    data("Class", "new", object::class_new),
    data("Class", "new:", object::class_new_indexed),
    data("Class", "superclass", object::class_superclass),
    data("Class", "fields", object::class_fields),
    data("Class", "methods", object::class_methods),
    data("Class", "selectors", object::class_selectors),
    data("Class", "hasMethod:", object::class_has_method),
    data("Class", "removeSelector:", object::class_remove_selector),
    control("Class", "compile:", Control::Compile),
    // Integer
    data("Integer", "+", integer::add),
    data("Integer", "-", integer::sub),
    data("Integer", "*", integer::mul),
    data("Integer", "/", integer::div),
    data("Integer", "//", integer::double_div),
    data("Integer", "%", integer::modulo),
    data("Integer", "rem:", integer::rem),
    data("Integer", "&", integer::bit_and),
    data("Integer", "bitAnd:", integer::bit_and),
    data("Integer", "bitOr:", integer::bit_or),
    data("Integer", "bitXor:", integer::bit_xor),
    data("Integer", "<<", integer::shift_left),
    data("Integer", ">>", integer::shift_right),
    data("Integer", ">>>", integer::unsigned_shift_right),
    data("Integer", "=", integer::eq),
    data("Integer", "~=", integer::ne),
    data("Integer", "<", integer::lt),
    data("Integer", ">", integer::gt),
    data("Integer", "<=", integer::le),
    data("Integer", ">=", integer::ge),
    data("Integer", "sqrt", integer::sqrt),
    data("Integer", "asString", integer::as_string),
    data("Integer", "asDouble", integer::as_double),
    data("Integer", "as32BitSignedValue", integer::as_32_signed),
    data("Integer", "as32BitUnsignedValue", integer::as_32_unsigned),
    data("Integer", "hashcode", integer::hashcode),
    data("Integer", "atRandom", integer::at_random),
    data("Integer", "asCharacter", integer::as_character),
    data("Integer class", "fromString:", integer::from_string),
    // Double
    data("Double", "+", double::add),
    data("Double", "-", double::sub),
    data("Double", "*", double::mul),
    data("Double", "/", double::div),
    data("Double", "//", double::float_div),
    data("Double", "%", double::modulo),
    data("Double", "=", double::eq),
    data("Double", "<", double::lt),
    data("Double", ">", double::gt),
    data("Double", "<=", double::le),
    data("Double", ">=", double::ge),
    data("Double", "sqrt", double::sqrt),
    data("Double", "round", double::round),
    data("Double", "asInteger", double::as_integer),
    data("Double", "cos", double::cos),
    data("Double", "sin", double::sin),
    data("Double", "asString", double::as_string),
    data("Double", "hashcode", double::hashcode),
    data("Double class", "PositiveInfinity", double::positive_infinity),
    data("Double class", "fromString:", double::from_string),
    // Character
    data("Character", "value", string::char_value),
    data("Character", "asString", string::char_as_string),
    data("Character class", "value:", string::char_from_value),
    // String and Symbol
    data("String", "concatenate:", string::concatenate),
    data("String", "asSymbol", string::as_symbol),
    data("String", "asString", string::as_string),
    data("String", "hashcode", string::hashcode),
    data("String", "length", string::length),
    data("String", "=", string::eq),
    data("String", "isWhiteSpace", string::is_white_space),
    data("String", "isLetters", string::is_letters),
    data("String", "isDigits", string::is_digits),
    data("String", "primSubstringFrom:to:", string::substring),
    data("String", "charAt:", string::char_at),
    data("String", "at:", string::at),
    data("String", "asInteger", string::as_integer),
    data("Symbol", "asString", string::symbol_as_string),
    // Array
    data("Array", "at:", object::array_at),
    data("Array", "at:put:", object::array_at_put),
    data("Array", "length", object::array_length),
    data("Array class", "new:", object::class_new_indexed),
    // Blocks
    control("Block1", "value", Control::BlockValue),
    control("Block2", "value:", Control::BlockValue),
    control("Block3", "value:with:", Control::BlockValue),
    control("Block4", "value:with:with:", Control::BlockValue),
    control("Block", "valueWithArguments:", Control::BlockValueWithArguments),
    control("Block", "restart", Control::BlockRestart),
    control("Block", "cull:", Control::BlockCull),
    data("Block", "numArgs", object::block_num_args),
    // Methods
    data("Method", "signature", object::method_signature),
    data("Method", "holder", object::method_holder),
    control("Method", "invokeOn:with:", Control::InvokeOnWith),
    data("Primitive", "signature", object::method_signature),
    data("Primitive", "holder", object::method_holder),
    control("Primitive", "invokeOn:with:", Control::InvokeOnWith),
    // System
    data("System", "global:", system::global),
    data("System", "global:put:", system::global_put),
    data("System", "hasGlobal:", system::has_global),
    control("System", "load:", Control::Load),
    control("System", "loadFile:", Control::LoadFile),
    control("System", "exit:", Control::Exit),
    data("System", "printString:", system::print_string),
    data("System", "printNewline", system::print_newline),
    data("System", "errorPrint:", system::error_print),
    data("System", "errorPrintln:", system::error_println),
    control("System", "printStackTrace", Control::PrintStackTrace),
    data("System", "time", system::time),
    data("System", "ticks", system::ticks),
    data("System", "fullGC", system::full_gc),
    data("System", "gcStats", system::gc_stats),
    data("System", "saveGraph:to:", system::save_graph),
    data("System", "loadGraph:", system::load_graph),
    data("System", "saveGraphRoots:to:", system::save_graph_roots),
    data("System", "saveGraphCopy:to:", system::save_graph_copy),
    data("System", "loadGraph:with:", system::load_graph_with),
    data("System", "imageStats", system::image_stats),
    // Exceptions
    data("Exception class", "handles:", object::is_kind_of),
    control("Exception class", "primFrame", Control::Frame),
    control("Exception class", "primCallerOf:", Control::FrameCaller),
    control("Exception class", "primArgument:of:", Control::FrameArgument),
    control("Exception class", "primHandlerFrom:for:", Control::NextHandler),
    control("Exception class", "primHandling:", Control::Handling),
    control("Exception class", "primUnwindBlockAbove:", Control::NextUnwindBlock),
    control("Exception class", "primReturn:from:", Control::ReturnFromFrame),
    control("Exception class", "primRestart:with:", Control::RestartFrame),
    control("Exception class", "return:from:", Control::QuickReturnFromFrame),
    control("Exception", "return:", Control::QuickReturn),
    control("Exception class", "primUnhandled:text:stdout:", Control::Unhandled),
    // Processes
    control("Process", "priority:", Control::ProcessPriority),
    control("Process", "resume", Control::ProcessResume),
    control("Process", "suspend", Control::ProcessSuspend),
    control("Process", "primTerminate", Control::ProcessTerminate),
    control("Process", "primTerminateActive", Control::ProcessTerminateActive),
    control("Process", "isMain", Control::ProcessIsMain),
    control("ProcessorScheduler", "activeProcess", Control::ActiveProcess),
    control("ProcessorScheduler", "yield", Control::Yield),
    control("Semaphore", "signal", Control::SemaphoreSignal),
    control("Semaphore", "wait", Control::SemaphoreWait),
    control("Semaphore", "waitTimeoutMilliseconds:", Control::SemaphoreWaitTimeout),
    control("LiveEvaluation", "answer:print:", Control::LiveAnswer),
    control("LiveEvaluation", "answerPrints:", Control::LivePrints),
    // Streams
    data("String", "primCharacters", string::characters),
    data("String class", "primFromCharacters:from:to:", string::from_characters),
];

/// The primitive number (index + 1) of `class>>selector`.
pub fn find(class: &str, selector: &str) -> Option<u16> {
    PRIMITIVES.iter().position(|p| p.class == class && p.selector == selector).map(|i| i as u16 + 1)
}

/// The primitive with number `n`.
pub fn get(n: usize) -> Option<&'static Primitive> {
    n.checked_sub(1).and_then(|i| PRIMITIVES.get(i))
}

/// Whether native code may call primitive `n` directly: a data primitive
/// or a leaf control primitive ([`Control::is_leaf`]).
pub fn native_callable(n: usize) -> bool {
    match get(n).map(|p| p.kind) {
        Some(Kind::Data(_)) => true,
        Some(Kind::Control(c)) => c.is_leaf(),
        None => false,
    }
}

/// The receiver of a primitive with `argc` arguments.
#[inline(always)]
pub fn receiver(u: &Universe, argc: usize) -> Value {
    u.peek(argc)
}

/// Argument `i` (from 0) of a primitive with `argc` arguments.
#[inline(always)]
pub fn arg(u: &Universe, argc: usize, i: usize) -> Value {
    u.peek(argc - 1 - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_primitive_is_declared_twice() {
        for (i, p) in PRIMITIVES.iter().enumerate() {
            assert_eq!(find(p.class, p.selector), Some(i as u16 + 1), "{} {}", p.class, p.selector);
        }
    }
}
