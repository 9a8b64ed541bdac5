//! Random, terminating, deterministic SOM programs for differential testing.
//!
//! A program is a main class `ProgN` (its `run` method prints everything
//! the program computes) and a small class hierarchy `ProgNA`, `ProgNB`...
//! for polymorphic and super sends. Programs are made from a seed alone
//! (`program(seed, index)`), so one program can be made again without the
//! rest of its batch.
//!
//! Every expression is generated with a type and a bound on its size (bits
//! for integers, magnitude for doubles), so that nothing the program
//! computes can fail: divisors are made non-zero (`(e bitOr: 1)`,
//! `(e abs + 1)`), doubles stay finite, integers stay small enough to be
//! converted to doubles and printed cheaply. Loops have literal bounds and
//! methods only call methods made before them, so every program ends; the
//! only recursion is on a literal counter.

use std::fmt::Write;

#[path = "generator/expressions.rs"]
mod expressions;
#[path = "generator/methods.rs"]
mod methods;
#[path = "generator/statements.rs"]
mod statements;

/// splitmix64: a tiny, good-enough seeded generator.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The seed of program `index` of a run seeded with `seed`.
pub fn program_seed(seed: u64, index: u64) -> u64 {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    rng.next_u64()
}

/// One generated program: its classes, the main one first.
pub struct Program {
    /// The program's number in its run.
    pub index: u64,
    /// `(class name, source)` pairs; the first is the class whose `run`
    /// method is the program.
    pub classes: Vec<(String, String)>,
}

impl Program {
    /// The name of the program's main class.
    pub fn main_class(&self) -> &str {
        &self.classes[0].0
    }

    /// All of the program's source, for reports and self-checks.
    pub fn source(&self) -> String {
        self.classes.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// The main class of a batch: it runs each program in turn, printing
/// `program N` before each one's output.
pub fn batch_main(name: &str, programs: &[&Program]) -> String {
    let mut text = format!("{name} = (\n    run = (\n");
    for p in programs {
        let _ = writeln!(text, "        'program {}' println.", p.index);
        let _ = writeln!(text, "        {} new run.", p.main_class());
    }
    text += "    )\n)\n";
    text
}

/// Program `index` of the run seeded with `seed`.
pub fn program(seed: u64, index: u64) -> Program {
    let mut g = Gen {
        rng: Rng::new(program_seed(seed, index)),
        name: format!("Prog{index}"),
        helpers: Vec::new(),
        block_helpers: Vec::new(),
        classes: Vec::new(),
        pending: Vec::new(),
        fresh: 0,
    };
    g.program(index)
}

/// Integers are kept below this many bits, doubles below [`MAX_MAG`].
const MAX_BITS: f64 = 200.0;
const MAX_MAG: f64 = 1.0e15;

/// Values near the SmallInteger (62-bit) and 64-bit boundaries, and a few
/// large ones.
const EDGE_INTS: &[&str] = &[
    "4611686018427387903",
    "-4611686018427387904",
    "4611686018427387904",
    "-4611686018427387905",
    "4611686018427387902",
    "-4611686018427387903",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1073741823",
    "1073741824",
    "2147483647",
    "-2147483648",
    "4294967296",
    "-4294967297",
    "2305843009213693952",
    "3037000499",
    "3037000500",
    "-3037000500",
    "123456789012345678901234567890",
    "-98765432109876543210",
];

const DOUBLES: &[&str] = &[
    "0.0",
    "0.5",
    "1.5",
    "-2.25",
    "0.1",
    "0.2",
    "3.14159",
    "100.0",
    "-7.75",
    "1.0e10",
    "2.5e-3",
    "1234.5678",
    "-0.001",
    "1.0",
    "2.0",
    "1.0e-7",
    "65536.0",
    "-1.0e8",
    "0.3333",
];

const STRINGS: &[&str] = &["'abc'", "'x'", "''", "'hello world'", "'Mica'", "'a b c'", "'42'", "'-'"];

/// The type of a generated expression.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Int,
    Dbl,
    Bool,
    Str,
    /// An instance of the program's hierarchy.
    Obj,
    /// A one-argument block from Integer to Integer.
    Blk,
}

#[derive(Clone)]
struct Var {
    name: String,
    ty: Ty,
    /// Bits for integers, magnitude for doubles and for blocks' results.
    bound: f64,
    mutable: bool,
}

/// The variables in reach and what the code being made may do.
#[derive(Clone)]
struct Scope {
    vars: Vec<Var>,
    /// Statements may print (false in helper methods, which run often).
    print: bool,
    /// A `^` in a block is allowed, and what type it returns (the method's).
    ret: Option<Ty>,
    /// The bound of what a `^` may answer.
    ret_bound: f64,
    /// The most iterations a loop made here may have, and the most all
    /// loops around a new loop may run.
    loop_max: i64,
    iteration_limit: u64,
    /// How many nested loops surround the code.
    loops: u32,
    /// The most iterations the code at this point may run, all loops
    /// around it multiplied.
    iterations: u64,
    /// Helper methods with an index below this may be called.
    helpers: usize,
    /// Whether the hierarchy's `val:` may be sent (not from inside it).
    objects: bool,
}

impl Scope {
    fn new(print: bool, ret: Option<Ty>) -> Scope {
        Scope {
            vars: Vec::new(),
            print,
            ret,
            ret_bound: HOT_BITS,
            loop_max: 30,
            iteration_limit: 400,
            loops: 0,
            iterations: 1,
            helpers: 0,
            objects: true,
        }
    }

    fn add(&mut self, name: &str, ty: Ty, bound: f64, mutable: bool) {
        self.vars.push(Var { name: name.to_string(), ty, bound, mutable });
    }

    fn of(&self, ty: Ty, bound: f64) -> Vec<&Var> {
        self.vars.iter().filter(|v| v.ty == ty && v.bound <= bound).collect()
    }
}

/// A helper method of the main class: `name: x` (or `name: x with: y`)
/// answering an integer of at most `bits` bits, for arguments of at most
/// `arg_bits` bits.
struct Helper {
    selector: String,
    args: usize,
    arg_bits: f64,
    bits: f64,
}

struct Gen {
    rng: Rng,
    name: String,
    helpers: Vec<Helper>,
    /// Methods answering blocks (`blockK: x`), with their results' bounds.
    block_helpers: Vec<(String, f64)>,
    /// The hierarchy's class names, the root first; each with its
    /// superclass index.
    classes: Vec<(String, Option<usize>)>,
    /// Temporaries that loops made need declared in the method being made.
    pending: Vec<String>,
    fresh: u32,
}

/// The bound of `val:` answers (bits), and of its argument.
const VAL_BITS: f64 = 101.0;
const VAL_ARG_BITS: f64 = 40.0;
/// `hot:` answers at most this many bits for arguments of [`HOT_ARG_BITS`].
const HOT_BITS: f64 = 65.0;
const HOT_ARG_BITS: f64 = 20.0;

fn bits_of(literal: &str) -> f64 {
    let digits = literal.trim_start_matches('-');
    let value: f64 = digits.parse().unwrap_or(1.0);
    (value + 1.0).log2().ceil() + 1.0
}

fn paren_literal(literal: &str) -> String {
    if literal.starts_with('-') { format!("({literal})") } else { literal.to_string() }
}

fn quote(source: &str) -> String {
    format!("'{}'", source.replace('\'', "''"))
}

fn indent(level: usize) -> String {
    "    ".repeat(level)
}

impl Gen {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }
}
