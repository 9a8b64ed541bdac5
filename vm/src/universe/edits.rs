//! Which edits of methods the tiers could not honour, and so refuse.
//!
//! Two kinds of sends never look their method up: the control structures
//! the compiler inlines (`ifTrue:`, `whileTrue:`, `to:do:` ... with
//! literal blocks), and the fast paths of the special selectors in the
//! interpreter and native code (SmallInteger and Double arithmetic and
//! comparisons, `Array>>at:`, a block's `value`, a Boolean's `not`, `==`).
//! Defining such a method on the classes those paths stand for would have
//! no effect at most call sites, so `compile:` and the live connection
//! refuse it with the reason instead of ignoring it.

use super::{NamespaceId, Universe};
use crate::value::Value;

/// Selectors the compiler inlines when their arguments are literal blocks
/// (kept in step with `compiler::inline::inline_form`).
pub const INLINED_SELECTORS: &[&str] = &[
    "ifTrue:",
    "ifFalse:",
    "ifTrue:ifFalse:",
    "ifFalse:ifTrue:",
    "ifNil:",
    "ifNotNil:",
    "ifNil:ifNotNil:",
    "ifNotNil:ifNil:",
    "and:",
    "or:",
    "whileTrue:",
    "whileFalse:",
    "whileTrue",
    "whileFalse",
    "to:do:",
    "to:by:do:",
    "timesRepeat:",
];

/// Kernel classes whose instances take a special selector's fast path
/// without a lookup, and the selectors.
const FAST_PATHS: &[(&[&str], &[&str])] = &[
    (&["Integer", "Double"], &["+", "-", "*", "/", "//", "%", "<", ">", "<=", ">=", "=", "~="]),
    (&["Array"], &["at:", "at:put:"]),
    (&["Block", "Block1", "Block2", "Block3"], &["value", "value:", "value:with:"]),
    (&["True", "False", "Boolean"], &["not"]),
];

/// Selectors inlined whatever the receiver (a test of identity).
const ALWAYS_INLINED: &[&str] = &["==", "ifNil:", "ifNotNil:", "ifNil:ifNotNil:", "ifNotNil:ifNil:"];

impl Universe {
    /// Why defining (or removing) `selector` in `class` would not take
    /// effect where it is sent, if it would not; `None` if the edit is
    /// honoured everywhere.
    pub fn edit_refusal(&self, class: Value, selector: &str) -> Option<String> {
        let name = self.class_name(class);
        if ALWAYS_INLINED.contains(&selector) {
            return Some(format!(
                "{name}>>{selector} cannot be changed: sends of {selector} are compiled inline (an identity test) and never look the method up"
            ));
        }
        let kernel = self.namespace_of(class) == NamespaceId::KERNEL;
        if !kernel {
            return None;
        }
        if INLINED_SELECTORS.contains(&selector) {
            return Some(format!(
                "{name}>>{selector} cannot be changed: the compiler inlines {selector} with literal blocks, so most sends of it never look the method up"
            ));
        }
        FAST_PATHS.iter().find(|(classes, sels)| classes.contains(&name.as_str()) && sels.contains(&selector)).map(
            |_| {
                format!(
                    "{name}>>{selector} cannot be changed: the interpreter and native code answer {selector} for {name} receivers on a fast path that does not look the method up"
                )
            },
        )
    }
}
