//! Abstract syntax tree of a SOM class file.

use super::error::Span;
use super::lexer::IntValue;

/// A name and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// What a class names as its superclass.
#[derive(Clone, Debug, PartialEq)]
pub enum SuperclassSpec {
    /// Nothing written: `Object`.
    Default,
    /// `nil`: a root class.
    Nil,
    /// A named class.
    Named(Ident),
}

/// A class definition: `Name = Super ( |fields| methods ---- |fields| methods )`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDef {
    /// The class name.
    pub name: Ident,
    /// The superclass.
    pub superclass: SuperclassSpec,
    /// Instance fields.
    pub fields: Vec<Ident>,
    /// Instance methods.
    pub methods: Vec<MethodDef>,
    /// Class-side fields.
    pub class_fields: Vec<Ident>,
    /// Class-side methods.
    pub class_methods: Vec<MethodDef>,
}

/// A method definition.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodDef {
    /// The selector (`foo`, `+`, `at:put:`).
    pub selector: String,
    /// The parameter names.
    pub params: Vec<Ident>,
    /// The body.
    pub body: MethodBody,
    /// Where the pattern starts.
    pub span: Span,
}

/// A method body.
#[derive(Clone, Debug, PartialEq)]
pub enum MethodBody {
    /// `= primitive`, or `= ( <primitive> ... )` with the Smalltalk code
    /// that runs when the primitive fails (or does not exist).
    Primitive(Option<Body>),
    /// `= ( ... )`
    Code(Body),
}

/// Temporaries and statements of a method or block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Body {
    /// Declared temporaries.
    pub temps: Vec<Ident>,
    /// The statements.
    pub stmts: Vec<Stmt>,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// An expression whose value is discarded (or is the block's value).
    Expr(Expr),
    /// `^ expr`
    Return(Expr, Span),
}

/// A block literal `[:a | |t| ... ]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Parameters.
    pub params: Vec<Ident>,
    /// Body.
    pub body: Body,
    /// Where `[` is.
    pub span: Span,
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// An integer.
    Int(IntValue),
    /// A Double.
    Double(f64),
    /// A string.
    Str(String),
    /// A symbol.
    Symbol(String),
    /// A character.
    Char(char),
    /// A literal array.
    Array(Vec<Lit>),
    /// `nil` in a literal array.
    Nil,
    /// `true` in a literal array.
    True,
    /// `false` in a literal array.
    False,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A variable (or global) read.
    Var(Ident),
    /// `self`
    SelfRef(Span),
    /// `super` (as a send receiver, or standing for `self`).
    Super(Span),
    /// `nil`
    Nil(Span),
    /// `true`
    True(Span),
    /// `false`
    False(Span),
    /// A literal.
    Lit(Lit, Span),
    /// `target := value`
    Assign {
        /// The variable.
        target: Ident,
        /// The value.
        value: Box<Expr>,
    },
    /// A message send.
    Send {
        /// The receiver.
        receiver: Box<Expr>,
        /// The selector.
        selector: String,
        /// The arguments.
        args: Vec<Expr>,
        /// Where the selector (its first part) is.
        span: Span,
    },
    /// `receiver msg; msg; ...`: every part is a message chain whose innermost
    /// receiver is [`Expr::CascadeReceiver`].
    Cascade {
        /// The shared receiver, evaluated once.
        receiver: Box<Expr>,
        /// The parts, in order; the value is the last part's.
        parts: Vec<Expr>,
    },
    /// The value of the enclosing cascade's receiver (inside cascade parts only).
    CascadeReceiver(Span),
    /// A block.
    Block(Block),
    /// `{ a. b }`
    Brace(Vec<Expr>, Span),
}

impl Expr {
    /// Where the expression starts (its first token, roughly).
    pub fn span(&self) -> Span {
        match self {
            Expr::Var(id) => id.span,
            Expr::SelfRef(s)
            | Expr::Super(s)
            | Expr::Nil(s)
            | Expr::True(s)
            | Expr::False(s)
            | Expr::Lit(_, s)
            | Expr::CascadeReceiver(s)
            | Expr::Brace(_, s) => *s,
            Expr::Assign { target, .. } => target.span,
            Expr::Send { span, .. } => *span,
            Expr::Cascade { receiver, .. } => receiver.span(),
            Expr::Block(b) => b.span,
        }
    }
}
