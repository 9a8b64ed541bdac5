//! The JIT's tunables, in one table: each row gives the field of
//! [`JitConfig`], its type, its default, its command-line flag, the range
//! it may take and a line of help. The struct, its `Default`, the option
//! parser ([`JitConfig::set`]) and the help text ([`JitConfig::help`]) are
//! all generated from the table, so a tunable is added in one place (as
//! LuaJIT's `JIT_PARAMDEF` does).

use std::fmt::Write as _;

use crate::tiering::JitMode;

/// A value a tunable can hold: how it is read from the command line and
/// shown in help.
pub trait Setting: Copy {
    /// Reads `text`, or says what is wrong with it.
    fn parse(text: &str) -> Result<Self, String>;
    /// How the value is written on the command line.
    fn show(self) -> String;
    /// The value as a number, for range checks (`on` is 1).
    fn magnitude(self) -> u64;
}

macro_rules! numeric_setting {
    ($($t:ty),*) => {$(
        impl Setting for $t {
            fn parse(text: &str) -> Result<Self, String> {
                text.parse().map_err(|_| format!("'{text}' is not a whole number"))
            }
            fn show(self) -> String {
                self.to_string()
            }
            fn magnitude(self) -> u64 {
                self as u64
            }
        }
    )*};
}
numeric_setting!(u32, u64, usize);

impl Setting for bool {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(format!("'{other}' is neither on nor off")),
        }
    }
    fn show(self) -> String {
        if self { "on" } else { "off" }.to_string()
    }
    fn magnitude(self) -> u64 {
        self as u64
    }
}

/// One row of the table, as help and documentation see it.
#[derive(Clone, Copy, Debug)]
pub struct Tunable {
    /// The field of [`JitConfig`].
    pub field: &'static str,
    /// The command-line flag, without `=VALUE`.
    pub flag: &'static str,
    /// What the value stands for in help (`N`, `B`, ...).
    pub metavar: &'static str,
    /// The smallest and largest value it takes.
    pub range: (u64, u64),
    /// One line of help.
    pub help: &'static str,
}

macro_rules! tunables {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $default:expr, $flag:literal $metavar:literal, $lo:literal..=$hi:expr, $help:literal;
    )*) => {
        /// The JIT's mode and tunables (generated from the table in
        /// `interp/src/tunables.rs`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct JitConfig {
            /// Off, tiered or eager (`--jit=`).
            pub mode: JitMode,
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for JitConfig {
            fn default() -> Self {
                JitConfig { mode: JitMode::Tiered, $( $field: $default, )* }
            }
        }

        impl JitConfig {
            /// Every tunable, in table order.
            pub const TUNABLES: &'static [Tunable] = &[$(
                Tunable { field: stringify!($field), flag: $flag, metavar: $metavar, range: ($lo, $hi as u64), help: $help },
            )*];

            /// Applies a command-line argument `FLAG=VALUE` if FLAG is a
            /// tunable's: `None` if it is not one, else whether the value
            /// was good (the error says why not).
            pub fn set(&mut self, arg: &str) -> Option<Result<(), String>> {
                let (flag, value) = arg.split_once('=').unwrap_or((arg, ""));
                $(
                    if flag == $flag {
                        return Some(
                            Self::checked::<$ty>($flag, value, ($lo, $hi as u64)).map(|v| self.$field = v),
                        );
                    }
                )*
                None
            }

            /// A tunable's current value as the command line writes it.
            pub fn shown(&self, field: &str) -> Option<String> {
                $( if field == stringify!($field) { return Some(self.$field.show()); } )*
                None
            }
        }
    };
}

tunables! {
    /// Activations after which a method is compiled.
    invocation_threshold: u64 = 1000, "--jit-threshold" "N", 0..=u64::MAX,
        "activations before a method is compiled";
    /// Loop back-edges after which a method is compiled (and its running
    /// activation continues in native code at the loop head).
    backedge_threshold: u64 = 5000, "--jit-loop-threshold" "N", 0..=u64::MAX,
        "loop iterations before a method is compiled and its running activation moves to native code";
    /// Whether hot methods are compiled on another thread while they go on
    /// in the interpreter (tiered mode; eager compilation always waits).
    background: bool = true, "--jit-background" "B", 0..=1,
        "on: hot methods compile on another thread while they run on in the interpreter; off: the program waits for the code";
    /// Sends native code leaves to the interpreter, at sites whose inline
    /// cache learnt classes since the code was made, before the method is
    /// compiled again with what the caches know then.
    recompile_exits: u64 = 500, "--jit-recompile-after" "N", 0..=u64::MAX,
        "sends native code leaves to the interpreter because an inline cache learnt classes after the method was compiled, before it is compiled again";
    /// How many times one method is compiled again that way.
    max_recompilations: u32 = 4, "--jit-max-recompiles" "N", 0..=u32::MAX,
        "times one method is compiled again that way";
    /// Methods longer than this many bytes of bytecode stay interpreted.
    max_method_bytes: usize = 64 * 1024, "--jit-max-method-bytes" "N", 0..=u32::MAX,
        "bytes of bytecode of the longest method compiled";
    /// Native activations one native activation may call into before calls
    /// go through the interpreter (the native stack is sized for the most).
    native_depth: u64 = crate::native::MAX_NATIVE_DEPTH as u64, "--jit-native-depth" "N",
        0..=crate::native::MAX_NATIVE_DEPTH,
        "nested native calls before further calls go through the interpreter (it cannot be raised)";
    /// Callees with frames of at most this many bytes of bytecode are
    /// translated into their callers at send sites whose inline caches
    /// found them, and blocks into the callees that value them (0: none);
    /// a callee passed a block its caller makes may be twice as long.
    inline_bytes: usize = 48, "--jit-inline-bytes" "N", 0..=u16::MAX,
        "bytes of bytecode of the longest method with a frame or block inlined (0: no inlining)";
    /// Levels of inlining: 1 inlines the compiled method's own sends, 2
    /// also the sends of the callees inlined into it, and so on.
    inline_depth: usize = 2, "--jit-inline-depth" "N", 1..=8,
        "levels of callees inlined into inlined callees (1: only the compiled method's own sends)";
    /// Deoptimisation stress: every Nth guard in native code fails as if
    /// its check had (the site leaves to the interpreter); 0 is off. For
    /// testing the VM.
    deopt_every: u64 = 0, "--jit-deopt-every" "N", 0..=u64::MAX,
        "stress: every Nth guard of native code fails and the code leaves to the interpreter (0: off; for testing the VM)";
}

impl JitConfig {
    fn checked<T: Setting>(flag: &str, value: &str, (lo, hi): (u64, u64)) -> Result<T, String> {
        let v = T::parse(value).map_err(|e| format!("{flag}: {e}"))?;
        if !(lo..=hi).contains(&v.magnitude()) {
            return Err(format!("{flag}: {} is out of range ({lo} to {hi})", v.show()));
        }
        Ok(v)
    }

    /// The tunables' part of `mica --help`: each flag, its help wrapped to
    /// the column the rest of the help uses, and its default.
    pub fn help() -> String {
        const COLUMN: usize = 25;
        const WIDTH: usize = 79;
        let defaults = JitConfig::default();
        let mut out = String::new();
        for t in JitConfig::TUNABLES {
            let head = format!("  {}={}", t.flag, t.metavar);
            let default = defaults.shown(t.field).unwrap_or_default();
            let text = format!("{} (default {default})", t.help);
            let mut line = head.clone();
            if head.len() + 1 > COLUMN {
                out.push_str(&head);
                out.push('\n');
                line = String::new();
            }
            let mut first = true;
            for word in text.split(' ') {
                let room = if first { COLUMN } else { line.len() + 1 };
                if !first && room + word.len() > WIDTH {
                    let _ = writeln!(out, "{line}");
                    line = String::new();
                    first = true;
                }
                if first {
                    line = format!("{line:<COLUMN$}{word}");
                    first = false;
                } else {
                    line.push(' ');
                    line.push_str(word);
                }
            }
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_parses_its_default_back() {
        let defaults = JitConfig::default();
        for t in JitConfig::TUNABLES {
            let mut c = JitConfig::default();
            let arg = format!("{}={}", t.flag, defaults.shown(t.field).expect("a field"));
            assert_eq!(c.set(&arg), Some(Ok(())), "{arg}");
            assert_eq!(c, defaults);
        }
    }

    #[test]
    fn values_are_set_and_bad_ones_refused() {
        let mut c = JitConfig::default();
        assert_eq!(c.set("--jit-threshold=7"), Some(Ok(())));
        assert_eq!(c.invocation_threshold, 7);
        assert_eq!(c.set("--jit-background=off"), Some(Ok(())));
        assert!(!c.background);
        assert_eq!(c.set("--jit-deopt-every=3"), Some(Ok(())));
        assert_eq!(c.deopt_every, 3);
        assert_eq!(c.set("--jit-nothing=3"), None);
        assert_eq!(c.set("--jit-threshold=x"), Some(Err("--jit-threshold: 'x' is not a whole number".into())));
        assert_eq!(c.set("--jit-background=yes"), Some(Err("--jit-background: 'yes' is neither on nor off".into())));
        let too_deep = format!("--jit-native-depth={}", crate::native::MAX_NATIVE_DEPTH + 1);
        assert!(matches!(c.set(&too_deep), Some(Err(e)) if e.contains("out of range")));
        assert!(matches!(c.set("--jit-max-recompiles=99999999999"), Some(Err(_))));
        assert_eq!(c.invocation_threshold, 7, "a refused value changes nothing");
    }

    #[test]
    fn help_names_every_flag_with_its_default() {
        let help = JitConfig::help();
        for t in JitConfig::TUNABLES {
            assert!(help.contains(&format!("{}={}", t.flag, t.metavar)), "{help}");
        }
        assert!(help.contains("(default 1000)"), "{help}");
        assert!(help.lines().all(|l| l.len() <= 79), "{help}");
    }
}
