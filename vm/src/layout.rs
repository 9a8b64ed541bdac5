//! Slot numbers of the VM's own object shapes: classes, methods, closures,
//! contexts and global bindings. The interpreter, the JIT, the image writer
//! and the collector use only these constants.
//!
//! ```text
//! class / metaclass (Format::Class)       method or block (Format::Method)
//!  0 superclass                            0 selector (nil for a block)
//!  1 name (Symbol)                         1 holder (class)
//!  2 method dictionary (Array) or nil      2 literals (Array)
//!  3 methods in definition order (Array)   3 bytecode (ByteArray)
//!  4 instance field names (Array)          4 info (SmallInteger, see METHOD_INFO_*)
//!  5 instance spec (SmallInteger)          5 inline-cache count
//!  6 companion: a metaclass's class        6 line table (ByteArray) or nil
//!  7 namespace (a Namespace object)        7 cell address | 1 (SmallInteger)
//!  8.. class-side fields                   8 enclosing method (blocks)
//!                                          9 first source line
//! closure (Format::Closure)               10 source file (String) or nil
//!  0 code (block method)
//!  1 receiver
//!  2 context or nil                       context (Format::Context)
//!                                          0 parent context or nil
//! global binding (Format::Fields)          1 home frame (SmallInteger) or nil
//!  0 key (Symbol)  1 value                 2.. captured variables
//! ```

/// Class: the superclass (nil for a root class).
pub const CLASS_SUPERCLASS: usize = 0;
/// Class: the name (a Symbol; `Foo class` for a metaclass).
pub const CLASS_NAME: usize = 1;
/// Class: the method dictionary: an Array of `(selector, method)` pairs,
/// open addressing on the selector's identity hash; nil when empty.
pub const CLASS_METHOD_DICT: usize = 2;
/// Class: the methods in definition order (an Array).
pub const CLASS_METHOD_LIST: usize = 3;
/// Class: the names of all instance fields, inherited first (an Array).
pub const CLASS_INSTANCE_FIELDS: usize = 4;
/// Class: the instance spec: `format | instance_size << 8` (SmallInteger).
pub const CLASS_SPEC: usize = 5;
/// Class: for a metaclass, the class it describes; nil for a class.
pub const CLASS_COMPANION: usize = 6;
/// Class: the namespace the class belongs to (nil: the default one).
pub const CLASS_NAMESPACE: usize = 7;
/// Number of VM fields of a class object; class-side fields follow.
pub const CLASS_FIXED_FIELDS: usize = 8;
/// Names of the VM fields (shown as `<name>`, not reachable from code).
pub const CLASS_FIELD_NAMES: [&str; CLASS_FIXED_FIELDS] =
    ["superclass", "name", "methodDictionary", "methods", "instanceFields", "spec", "companion", "namespace"];

/// Method: the selector (nil for a block).
pub const METHOD_SELECTOR: usize = 0;
/// Method: the class it is installed in.
pub const METHOD_HOLDER: usize = 1;
/// Method: the literal frame (an Array).
pub const METHOD_LITERALS: usize = 2;
/// Method: the bytecode (a ByteArray).
pub const METHOD_BYTECODE: usize = 3;
/// Method: packed counts, see `METHOD_INFO_*`.
pub const METHOD_INFO: usize = 4;
/// Method: the number of inline-cache slots.
pub const METHOD_NUM_ICS: usize = 5;
/// Method: the line table (ByteArray of little-endian `u32` pc/line pairs).
pub const METHOD_LINES: usize = 6;
/// Method: the address of its [`crate::runtime::MethodCell`], tagged as a
/// SmallInteger (`address | 1`, so the collector leaves it alone). The cell
/// is writable memory outside the method object — an arena for methods made
/// at run time, the runtime area after a mapped image for image methods —
/// so that running a method never writes into it (image pages stay clean).
pub const METHOD_CELL: usize = 7;
/// Method: for a block, the method it is in.
pub const METHOD_OUTER: usize = 8;
/// Method: the line it starts on.
pub const METHOD_LINE: usize = 9;
/// Method: the source file it came from (String) or nil.
pub const METHOD_FILE: usize = 10;
/// Method: the names of its arguments, temporaries and context slots (an
/// Array of Symbols, see `CompiledCode::names`) or nil.
pub const METHOD_NAMES: usize = 11;
/// Number of slots of a method object.
pub const METHOD_SIZE: usize = 12;

/// The numbers of arguments, frame temporaries and operand-stack slots
/// packed in a method-info word (`METHOD_INFO`).
#[inline]
pub fn method_info_counts(info: i64) -> (usize, usize, usize) {
    let field = |shift: u32| ((info >> shift) & i64::from(METHOD_INFO_MAX_COUNT)) as usize;
    (field(METHOD_INFO_ARGS_SHIFT), field(METHOD_INFO_TEMPS_SHIFT), field(METHOD_INFO_STACK_SHIFT))
}

/// Bits 0..16 of the method info: number of arguments.
pub const METHOD_INFO_ARGS_SHIFT: u32 = 0;
/// Bits 16..32: number of temporaries.
pub const METHOD_INFO_TEMPS_SHIFT: u32 = 16;
/// Bits 32..48: maximum stack depth.
pub const METHOD_INFO_STACK_SHIFT: u32 = 32;
/// Bits 48..56: `CodeFlags` bits.
pub const METHOD_INFO_FLAGS_SHIFT: u32 = 48;
/// Largest argument, temporary or stack count a method may have.
pub const METHOD_INFO_MAX_COUNT: u32 = 0xffff;

/// Closure: the block's code.
pub const CLOSURE_CODE: usize = 0;
/// Closure: the receiver (`self` in the block).
pub const CLOSURE_RECEIVER: usize = 1;
/// Closure: the context current when it was made, or nil.
pub const CLOSURE_CONTEXT: usize = 2;
/// Number of slots of a closure.
pub const CLOSURE_SIZE: usize = 3;

/// Context: the parent context or nil.
pub const CONTEXT_PARENT: usize = 0;
/// Context: for a method's home context, the frame index of its live
/// activation (nil once it has returned, and for other contexts).
pub const CONTEXT_HOME_FRAME: usize = 1;
/// Number of fixed slots of a context; captured variables follow.
pub const CONTEXT_FIXED: usize = 2;

/// Binding: the global's name.
pub const BINDING_KEY: usize = 0;
/// Binding: the global's value ([`crate::value::Value::UNBOUND`] when unset).
pub const BINDING_VALUE: usize = 1;
/// Number of slots of a binding.
pub const BINDING_SIZE: usize = 2;
