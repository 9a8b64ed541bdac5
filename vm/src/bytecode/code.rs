//! Compiled code as the compiler produces it: methods and blocks with their
//! bytecode, literals, inline-cache count and line table, and classes.
//!
//! These are plain Rust values; the object model turns them into heap
//! objects when a class is installed.

use std::fmt;

/// A literal of a method or block.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer that fits 64 bits.
    Integer(i64),
    /// An integer that does not fit 64 bits, as canonical decimal text
    /// (a leading `-` when negative, no leading zeros).
    LargeInteger(String),
    /// A Double.
    Double(f64),
    /// A String.
    String(String),
    /// A Symbol (selectors of sends are Symbol literals too).
    Symbol(String),
    /// A Character.
    Character(char),
    /// A literal Array.
    Array(Vec<Literal>),
    /// nil, true or false inside a literal array.
    Nil,
    /// `true` inside a literal array.
    True,
    /// `false` inside a literal array.
    False,
    /// The binding of the global with this name, resolved when the method is
    /// installed so that the global can change value without recompiling.
    Global(String),
    /// A block compiled for `MakeBlock`.
    Block(Box<CompiledCode>),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::LargeInteger(s) => f.write_str(s),
            Literal::Double(d) => {
                if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e16 {
                    write!(f, "{d:.1}")
                } else {
                    write!(f, "{d:?}")
                }
            }
            Literal::String(s) => write!(f, "'{}'", escape(s)),
            Literal::Symbol(s) => {
                if is_plain_symbol(s) {
                    write!(f, "#{s}")
                } else {
                    write!(f, "#'{}'", escape(s))
                }
            }
            Literal::Character(c) => write!(f, "${c}"),
            Literal::Array(items) => {
                f.write_str("#(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Literal::Nil => f.write_str("nil"),
            Literal::True => f.write_str("true"),
            Literal::False => f.write_str("false"),
            Literal::Global(name) => write!(f, "global {name}"),
            Literal::Block(b) => write!(f, "block/{} (line {})", b.num_args, b.line),
        }
    }
}

/// Escapes a string for display the way SOM source writes it.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a symbol prints as `#name` rather than `#'text'`.
fn is_plain_symbol(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if first.is_alphabetic() {
        s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == ':')
    } else {
        s.chars().all(|c| "~&|*/\\+=><,@%-".contains(c))
    }
}

/// Whether a compiled unit is a method or a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// A method with this selector.
    Method {
        /// The selector.
        selector: String,
    },
    /// A block closure's code.
    Block,
}

/// Properties of a compiled unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CodeFlags(u8);

impl CodeFlags {
    /// The method is a primitive. Its bytecode, if any, is the fallback
    /// that runs when the primitive fails or the VM has no such primitive
    /// (`= ( <primitive> ... )`); a `= primitive` body has none.
    pub const PRIMITIVE: CodeFlags = CodeFlags(1);
    /// The method's first instruction makes the context that blocks with a
    /// non-local return (`^` in a block) return through; returning from the
    /// method marks that context dead.
    pub const HOME_CONTEXT: CodeFlags = CodeFlags(1 << 1);
    /// The kernel's `on:do:`: exception handlers are found by the frames
    /// of this method (argument 1 the exception selector, 2 the handler
    /// block). Set by the installer, never by the compiler (see
    /// `KERNEL_MARKS`).
    pub const HANDLER: CodeFlags = CodeFlags(1 << 2);
    /// The kernel's `ensure:` and `ifCurtailed:`: unwinding past a frame
    /// of this method runs argument 1 unless temporary 0 (whether it has
    /// run) is set, and sets it.
    pub const UNWIND: CodeFlags = CodeFlags(1 << 3);
    /// The kernel's `Exception>>handle:resumeAt:`: a handler is running for
    /// `self`; argument 1 is the frame of its `on:do:`, argument 2 the
    /// frame resumption returns from. A handler search from above it goes
    /// on below the `on:do:`.
    pub const HANDLING: CodeFlags = CodeFlags(1 << 4);
    /// Left out of the stack trace of an unhandled error (the kernel's
    /// signalling helpers: `error:`, `signal:` on the class side...).
    pub const HIDDEN: CodeFlags = CodeFlags(1 << 5);

    /// No flag.
    pub const fn empty() -> CodeFlags {
        CodeFlags(0)
    }

    /// The flags of raw bits (as a method object stores them).
    pub const fn from_bits(bits: u8) -> CodeFlags {
        CodeFlags(bits)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: CodeFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: CodeFlags) {
        self.0 |= other.0;
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// Source lines of the bytecode: `(pc, line)` pairs, in increasing `pc`
/// order, each line holding until the next pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineTable {
    entries: Vec<(u32, u32)>,
}

impl LineTable {
    /// Records that the instruction at `pc` comes from `line`.
    pub fn record(&mut self, pc: u32, line: u32) {
        match self.entries.last() {
            Some(&(_, last)) if last == line => {}
            Some(&(last_pc, _)) if last_pc == pc => {
                if let Some(entry) = self.entries.last_mut() {
                    entry.1 = line;
                }
            }
            _ => self.entries.push((pc, line)),
        }
    }

    /// The source line of the instruction at `pc` (0 if unknown).
    pub fn line_at(&self, pc: u32) -> u32 {
        match self.entries.binary_search_by_key(&pc, |&(p, _)| p) {
            Ok(i) => self.entries[i].1,
            Err(0) => 0,
            Err(i) => self.entries[i - 1].1,
        }
    }

    /// The raw `(pc, line)` pairs.
    pub fn entries(&self) -> &[(u32, u32)] {
        &self.entries
    }
}

/// A compiled method or block.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledCode {
    /// Method (with selector) or block.
    pub kind: CodeKind,
    /// Number of arguments (the receiver not counted).
    pub num_args: u32,
    /// Number of frame temporaries.
    pub num_temps: u32,
    /// The deepest the operand stack gets.
    pub max_stack: u32,
    /// Number of inline-cache slots the sends use.
    pub num_ics: u32,
    /// Flags.
    pub flags: CodeFlags,
    /// The encoded bytecode.
    pub code: Vec<u8>,
    /// The literal frame.
    pub literals: Vec<Literal>,
    /// Source line of each instruction.
    pub lines: LineTable,
    /// The line the method or block starts on.
    pub line: u32,
    /// Variable names, for debuggers: one per argument, one per frame
    /// temporary (the names of the variables sharing it, joined by `/`;
    /// empty for a hidden one such as a loop counter), then one per slot
    /// of the context the activation makes when it starts (its captured
    /// variables), if it makes one.
    pub names: Vec<String>,
}

impl CompiledCode {
    /// The selector of a method, `None` for a block.
    pub fn selector(&self) -> Option<&str> {
        match &self.kind {
            CodeKind::Method { selector } => Some(selector),
            CodeKind::Block => None,
        }
    }

    /// Whether the method is a primitive (with or without a fallback).
    pub fn is_primitive(&self) -> bool {
        self.flags.contains(CodeFlags::PRIMITIVE)
    }

    /// Whether the method is a primitive with Smalltalk code to run when
    /// the primitive fails.
    pub fn has_fallback(&self) -> bool {
        self.is_primitive() && !self.code.is_empty()
    }
}

/// A compiled class: both sides, with field names and methods.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledClass {
    /// The class name.
    pub name: String,
    /// The superclass name; `None` for a root class (`Object = nil (...)`).
    pub superclass: Option<String>,
    /// Instance fields inherited from the superclass chain, outermost first.
    pub inherited_fields: Vec<String>,
    /// The class's own instance fields; their indices follow the inherited ones.
    pub fields: Vec<String>,
    /// Class-side fields inherited from the superclasses' class sides.
    pub inherited_class_fields: Vec<String>,
    /// The class's own class-side fields.
    pub class_fields: Vec<String>,
    /// Instance-side methods, in source order.
    pub methods: Vec<CompiledCode>,
    /// Class-side methods, in source order.
    pub class_methods: Vec<CompiledCode>,
    /// The file the class came from.
    pub file: String,
}

impl CompiledClass {
    /// Total number of instance fields (inherited and own).
    pub fn instance_size(&self) -> usize {
        self.inherited_fields.len() + self.fields.len()
    }

    /// Total number of class-side fields (inherited and own).
    pub fn class_side_size(&self) -> usize {
        self.inherited_class_fields.len() + self.class_fields.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_table_lookup() {
        let mut t = LineTable::default();
        t.record(0, 3);
        t.record(2, 3);
        t.record(5, 4);
        t.record(5, 6);
        t.record(9, 7);
        assert_eq!(t.entries(), &[(0, 3), (5, 6), (9, 7)]);
        assert_eq!(t.line_at(0), 3);
        assert_eq!(t.line_at(4), 3);
        assert_eq!(t.line_at(5), 6);
        assert_eq!(t.line_at(100), 7);
    }

    #[test]
    fn literal_display() {
        assert_eq!(Literal::Symbol("at:put:".into()).to_string(), "#at:put:");
        assert_eq!(Literal::Symbol("+".into()).to_string(), "#+");
        assert_eq!(Literal::Symbol("hello world".into()).to_string(), "#'hello world'");
        assert_eq!(Literal::String("it's".into()).to_string(), "'it\\'s'");
        assert_eq!(Literal::Double(1.0).to_string(), "1.0");
        assert_eq!(Literal::Double(0.1).to_string(), "0.1");
        let arr = Literal::Array(vec![Literal::Integer(1), Literal::Symbol("a".into()), Literal::Nil]);
        assert_eq!(arr.to_string(), "#(1 #a nil)");
    }
}
