//! Which sends the compiler inlines as control structures.
//!
//! A send is inlined only when its block arguments (and, for the loops, its
//! block receiver) are literal blocks of the right arity; the code it
//! becomes gives exactly the value the real send would (`nil` for a branch
//! not taken, the receiver for `to:do:` and `timesRepeat:`, `nil` for the
//! `while` loops) and evaluates receiver and arguments in the same order.
//! Both the capture analysis and the code generator ask [`inline_form`], so
//! they cannot disagree.

use super::ast::{Block, Expr, Lit};
use super::lexer::IntValue;

/// An inlined control structure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InlineForm {
    /// `ifTrue:`
    IfTrue,
    /// `ifFalse:`
    IfFalse,
    /// `ifTrue:ifFalse:`
    IfTrueIfFalse,
    /// `ifFalse:ifTrue:`
    IfFalseIfTrue,
    /// `ifNil:`
    IfNil,
    /// `ifNotNil:` (the block may take the receiver as its argument)
    IfNotNil,
    /// `ifNil:ifNotNil:`
    IfNilIfNotNil,
    /// `ifNotNil:ifNil:`
    IfNotNilIfNil,
    /// `and:`
    And,
    /// `or:`
    Or,
    /// `whileTrue:` (`true`) or `whileFalse:` (`false`); the unary forms
    /// `whileTrue` / `whileFalse` have no body.
    While {
        /// Loop while the condition is this.
        condition: bool,
        /// Whether there is a body block.
        has_body: bool,
    },
    /// `to:do:` and `to:by:do:` with a literal step.
    ToDo {
        /// The step (1 for `to:do:`).
        step: Step,
    },
    /// `timesRepeat:`
    TimesRepeat,
}

/// The literal step of a `to:by:do:` loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// An integer step.
    Int(i64),
    /// A Double step.
    Double(f64),
}

impl Step {
    /// Whether the loop counts down (and so tests `>=`).
    pub fn is_negative(self) -> bool {
        match self {
            Step::Int(i) => i < 0,
            Step::Double(d) => d < 0.0,
        }
    }
}

fn literal_block(e: &Expr, arity: usize) -> bool {
    matches!(e, Expr::Block(Block { params, .. }) if params.len() == arity)
}

fn block_with_optional_arg(e: &Expr) -> bool {
    matches!(e, Expr::Block(Block { params, .. }) if params.len() <= 1)
}

fn literal_step(e: &Expr) -> Option<Step> {
    match e {
        Expr::Lit(Lit::Int(IntValue::Small(i)), _) if *i != 0 => Some(Step::Int(*i)),
        Expr::Lit(Lit::Double(d), _) if *d != 0.0 && d.is_finite() => Some(Step::Double(*d)),
        _ => None,
    }
}

/// The control structure a send compiles to, if it is inlined.
pub fn inline_form(receiver: &Expr, selector: &str, args: &[Expr]) -> Option<InlineForm> {
    if matches!(receiver, Expr::Super(_)) {
        return None;
    }
    let form = match (selector, args) {
        ("ifTrue:", [a]) if literal_block(a, 0) => InlineForm::IfTrue,
        ("ifFalse:", [a]) if literal_block(a, 0) => InlineForm::IfFalse,
        ("ifTrue:ifFalse:", [a, b]) if literal_block(a, 0) && literal_block(b, 0) => InlineForm::IfTrueIfFalse,
        ("ifFalse:ifTrue:", [a, b]) if literal_block(a, 0) && literal_block(b, 0) => InlineForm::IfFalseIfTrue,
        ("ifNil:", [a]) if literal_block(a, 0) => InlineForm::IfNil,
        ("ifNotNil:", [a]) if block_with_optional_arg(a) => InlineForm::IfNotNil,
        ("ifNil:ifNotNil:", [a, b]) if literal_block(a, 0) && block_with_optional_arg(b) => InlineForm::IfNilIfNotNil,
        ("ifNotNil:ifNil:", [a, b]) if block_with_optional_arg(a) && literal_block(b, 0) => InlineForm::IfNotNilIfNil,
        ("and:", [a]) if literal_block(a, 0) => InlineForm::And,
        ("or:", [a]) if literal_block(a, 0) => InlineForm::Or,
        ("whileTrue:", [a]) if literal_block(receiver, 0) && literal_block(a, 0) => {
            InlineForm::While { condition: true, has_body: true }
        }
        ("whileFalse:", [a]) if literal_block(receiver, 0) && literal_block(a, 0) => {
            InlineForm::While { condition: false, has_body: true }
        }
        ("whileTrue", []) if literal_block(receiver, 0) => InlineForm::While { condition: true, has_body: false },
        ("whileFalse", []) if literal_block(receiver, 0) => InlineForm::While { condition: false, has_body: false },
        ("to:do:", [_, b]) if literal_block(b, 1) => InlineForm::ToDo { step: Step::Int(1) },
        ("to:by:do:", [_, s, b]) if literal_block(b, 1) => InlineForm::ToDo { step: literal_step(s)? },
        ("timesRepeat:", [a]) if literal_block(a, 0) => InlineForm::TimesRepeat,
        _ => return None,
    };
    Some(form)
}

/// The inlined blocks of a send, in the order the generated code runs them
/// first (the receiver block of a `while` loop comes first).
pub fn inlined_blocks<'e>(form: InlineForm, receiver: &'e Expr, args: &'e [Expr]) -> Vec<&'e Block> {
    let mut blocks = Vec::new();
    if let (InlineForm::While { .. }, Expr::Block(b)) = (form, receiver) {
        blocks.push(b);
    }
    let block_args: &[Expr] = match form {
        InlineForm::ToDo { .. } => &args[args.len() - 1..],
        _ => args,
    };
    for a in block_args {
        if let Expr::Block(b) = a {
            blocks.push(b);
        }
    }
    blocks
}
