//! Parser: tokens to a [`ClassDef`], by recursive descent over the SOM
//! grammar plus cascades, character literals and brace arrays.

use super::ast::{Block, Body, ClassDef, Expr, Ident, Lit, MethodBody, MethodDef, Stmt, SuperclassSpec};
use super::error::{CompileError, Result, Span};
use super::lexer::{Tok, Token, tokenize};

/// Parses a whole class file.
pub fn parse_class(file: &str, source: &str) -> Result<ClassDef> {
    let mut p = Parser::new(file, source)?;
    let class = p.class_def()?;
    p.expect_eof()?;
    Ok(class)
}

/// Parses a sequence of statements (with optional temporaries), as a REPL
/// or `compile:`-style evaluation would.
pub fn parse_statements(file: &str, source: &str) -> Result<Body> {
    let mut p = Parser::new(file, source)?;
    let body = p.body(&Tok::Eof)?;
    p.expect_eof()?;
    Ok(body)
}

/// Parses one method definition (`pattern = ( body )`), as `compile:` does.
pub fn parse_method(file: &str, source: &str) -> Result<MethodDef> {
    let mut p = Parser::new(file, source)?;
    let method = p.method()?;
    p.expect_eof()?;
    Ok(method)
}

/// Most nested expressions the parser accepts, so that hostile input cannot
/// exhaust the native stack.
const MAX_NESTING: u32 = 1_000;

struct Parser<'a> {
    file: &'a str,
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, source: &'a str) -> Result<Parser<'a>> {
        let tokens = tokenize(file, source)?;
        Ok(Parser { file, source, tokens, pos: 0, depth: 0 })
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn advance(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn error_at(&self, span: Span, message: impl Into<String>) -> CompileError {
        CompileError::new(self.file, self.source, span, message)
    }

    fn expected(&self, what: &str) -> CompileError {
        self.error_at(self.span(), format!("expected {what} but found {}", self.peek().describe()))
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Token> {
        if self.peek() == tok { Ok(self.advance()) } else { Err(self.expected(what)) }
    }

    fn expect_eof(&mut self) -> Result<()> {
        if *self.peek() == Tok::Eof { Ok(()) } else { Err(self.expected("the end of the file")) }
    }

    /// Consumes one `|` (half of a `||`, which then becomes a `|`): block
    /// parameters may end with `||` when temporaries follow.
    fn eat_bar(&mut self) -> bool {
        match self.peek().clone() {
            Tok::BinOp(op) if op == "|" => {
                self.advance();
                true
            }
            Tok::BinOp(op) if op == "||" => {
                let t = &mut self.tokens[self.pos];
                t.tok = Tok::BinOp("|".into());
                t.span.col += 1;
                t.start += 1;
                true
            }
            _ => false,
        }
    }

    fn ident(&mut self, what: &str) -> Result<Ident> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                let span = self.span();
                self.advance();
                Ok(Ident { name, span })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Runs `f` one nesting level deeper: an error past [`MAX_NESTING`],
    /// and more native stack when the current one runs low.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(self.span(), format!("expressions nest more than {MAX_NESTING} deep")));
        }
        self.depth += 1;
        let result = super::with_stack(|| f(self));
        self.depth -= 1;
        result
    }

    // ---- classes ------------------------------------------------------------

    fn class_def(&mut self) -> Result<ClassDef> {
        let name = self.ident("a class name")?;
        match self.peek() {
            Tok::BinOp(op) if op == "=" => {
                self.advance();
            }
            _ => return Err(self.expected("'=' after the class name")),
        }
        let superclass = match self.peek().clone() {
            Tok::Ident(s) if s == "nil" => {
                self.advance();
                SuperclassSpec::Nil
            }
            Tok::Ident(_) => SuperclassSpec::Named(self.ident("a superclass name")?),
            _ => SuperclassSpec::Default,
        };
        self.expect(&Tok::LParen, "'(' to start the class body")?;
        let fields = self.var_list()?;
        let methods = self.methods()?;
        let (class_fields, class_methods) = if self.eat(&Tok::Separator) {
            let fields = self.var_list()?;
            (fields, self.methods()?)
        } else {
            (Vec::new(), Vec::new())
        };
        if *self.peek() != Tok::RParen {
            return Err(self.expected("a method definition, '----' or ')' to end the class"));
        }
        self.advance();
        check_unique(self, &fields, "field")?;
        check_unique(self, &class_fields, "class field")?;
        Ok(ClassDef { name, superclass, fields, methods, class_fields, class_methods })
    }

    /// `| a b c |`, or nothing. A `||` here is a binary operator (the
    /// pattern of a method named `||`), as in SOM, not an empty list.
    fn var_list(&mut self) -> Result<Vec<Ident>> {
        let mut vars = Vec::new();
        if !matches!(self.peek(), Tok::BinOp(op) if op == "|") {
            return Ok(vars);
        }
        self.advance();
        while let Tok::Ident(_) = self.peek() {
            vars.push(self.ident("a variable name")?);
        }
        if !self.eat_bar() {
            return Err(self.expected("a variable name or '|'"));
        }
        Ok(vars)
    }

    fn methods(&mut self) -> Result<Vec<MethodDef>> {
        let mut methods = Vec::new();
        while matches!(self.peek(), Tok::Ident(_) | Tok::Keyword(_) | Tok::BinOp(_)) {
            methods.push(self.method()?);
        }
        Ok(methods)
    }

    fn method(&mut self) -> Result<MethodDef> {
        let span = self.span();
        let (selector, params) = match self.peek().clone() {
            Tok::Ident(name) => {
                self.advance();
                (name, Vec::new())
            }
            Tok::BinOp(op) => {
                self.advance();
                let arg = self.ident("an argument name after the binary selector")?;
                (op, vec![arg])
            }
            Tok::Keyword(_) => {
                let mut selector = String::new();
                let mut params = Vec::new();
                while let Tok::Keyword(k) = self.peek().clone() {
                    self.advance();
                    selector.push_str(&k);
                    params.push(self.ident("an argument name after the keyword")?);
                }
                (selector, params)
            }
            _ => return Err(self.expected("a method pattern")),
        };
        match self.peek() {
            Tok::BinOp(op) if op == "=" => {
                self.advance();
            }
            _ => return Err(self.expected(&format!("'=' after the pattern of method {selector}"))),
        }
        check_unique(self, &params, "argument")?;
        let body = match self.peek() {
            Tok::Ident(p) if p == "primitive" => {
                self.advance();
                MethodBody::Primitive(None)
            }
            Tok::LParen => {
                self.advance();
                let primitive = self.primitive_pragma()?;
                let body = self.body(&Tok::RParen)?;
                check_shadowing(self, &params, &body.temps)?;
                self.expect(&Tok::RParen, "')' to end the method")?;
                if primitive { MethodBody::Primitive(Some(body)) } else { MethodBody::Code(body) }
            }
            _ => {
                return Err(self.expected(&format!("'(' or 'primitive' for the body of method {selector}")));
            }
        };
        Ok(MethodDef { selector, params, body, span })
    }

    /// `<primitive>` at the start of a method body: the body is the
    /// primitive's fallback.
    fn primitive_pragma(&mut self) -> Result<bool> {
        match (self.peek(), self.peek_at(1)) {
            (Tok::BinOp(lt), Tok::Ident(name)) if lt == "<" && name == "primitive" => {
                self.advance();
                self.advance();
                match self.peek() {
                    Tok::BinOp(gt) if gt == ">" => {
                        self.advance();
                        Ok(true)
                    }
                    _ => Err(self.expected("'>' to end <primitive>")),
                }
            }
            _ => Ok(false),
        }
    }

    // ---- bodies and statements -----------------------------------------------

    /// Temporaries and statements up to (not including) `end`.
    fn body(&mut self, end: &Tok) -> Result<Body> {
        let temps = self.var_list()?;
        check_unique(self, &temps, "temporary")?;
        let mut stmts = Vec::new();
        loop {
            if self.peek() == end {
                break;
            }
            if *self.peek() == Tok::Caret {
                let span = self.span();
                self.advance();
                let e = self.expression()?;
                stmts.push(Stmt::Return(e, span));
                self.eat(&Tok::Period);
                if self.peek() != end {
                    return Err(self.expected(&format!("{} after a return statement", end.describe())));
                }
                break;
            }
            stmts.push(Stmt::Expr(self.expression()?));
            if !self.eat(&Tok::Period) {
                if self.peek() != end {
                    return Err(self.expected(&format!("'.' or {}", end.describe())));
                }
                break;
            }
        }
        Ok(Body { temps, stmts })
    }

    fn expression(&mut self) -> Result<Expr> {
        self.nested(Self::expression_inner)
    }

    fn expression_inner(&mut self) -> Result<Expr> {
        if let (Tok::Ident(_), Tok::Assign) = (self.peek(), self.peek_at(1)) {
            let target = self.ident("a variable")?;
            self.advance();
            let value = self.expression()?;
            return Ok(Expr::Assign { target, value: Box::new(value) });
        }
        let primary = self.primary()?;
        let expr = self.messages(primary)?;
        if *self.peek() != Tok::Semicolon {
            return Ok(expr);
        }
        let Expr::Send { receiver, selector, args, span } = expr else {
            return Err(self.error_at(self.span(), "a cascade (';') must follow a message send"));
        };
        let shared = *receiver;
        let is_super = matches!(shared, Expr::Super(_));
        let part_receiver = |span: Span| {
            if is_super { Expr::Super(span) } else { Expr::CascadeReceiver(span) }
        };
        let mut parts = vec![Expr::Send { receiver: Box::new(part_receiver(span)), selector, args, span }];
        while self.eat(&Tok::Semicolon) {
            let span = self.span();
            if !matches!(self.peek(), Tok::Ident(_) | Tok::Keyword(_) | Tok::BinOp(_)) {
                return Err(self.expected("a message after ';'"));
            }
            parts.push(self.messages(part_receiver(span))?);
        }
        Ok(Expr::Cascade { receiver: Box::new(shared), parts })
    }

    /// Unary messages, then binary, then one keyword message.
    fn messages(&mut self, receiver: Expr) -> Result<Expr> {
        let mut expr = self.unary_messages(receiver)?;
        expr = self.binary_messages(expr)?;
        if let Tok::Keyword(_) = self.peek() {
            let span = self.span();
            let mut selector = String::new();
            let mut args = Vec::new();
            while let Tok::Keyword(k) = self.peek().clone() {
                self.advance();
                selector.push_str(&k);
                let operand = self.primary_operand()?;
                let operand = self.unary_messages(operand)?;
                args.push(self.binary_messages(operand)?);
            }
            expr = Expr::Send { receiver: Box::new(expr), selector, args, span };
        }
        Ok(expr)
    }

    fn unary_messages(&mut self, mut expr: Expr) -> Result<Expr> {
        while let Tok::Ident(name) = self.peek().clone() {
            let span = self.span();
            self.advance();
            expr = Expr::Send { receiver: Box::new(expr), selector: name, args: Vec::new(), span };
        }
        Ok(expr)
    }

    fn binary_messages(&mut self, mut expr: Expr) -> Result<Expr> {
        while let Tok::BinOp(op) = self.peek().clone() {
            let span = self.span();
            self.advance();
            let operand = self.primary_operand()?;
            let operand = self.unary_messages(operand)?;
            expr = Expr::Send { receiver: Box::new(expr), selector: op, args: vec![operand], span };
        }
        Ok(expr)
    }

    fn primary_operand(&mut self) -> Result<Expr> {
        if !self.starts_primary() {
            return Err(self.expected("an argument"));
        }
        self.primary()
    }

    fn starts_primary(&self) -> bool {
        match self.peek() {
            Tok::Ident(_)
            | Tok::Int(_)
            | Tok::Double(_)
            | Tok::Str(_)
            | Tok::Char(_)
            | Tok::Symbol(_)
            | Tok::LitArrayStart
            | Tok::LParen
            | Tok::LBracket
            | Tok::LBrace => true,
            Tok::BinOp(op) => op == "-" && matches!(self.peek_at(1), Tok::Int(_) | Tok::Double(_)),
            _ => false,
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.advance();
                Ok(match name.as_str() {
                    "self" => Expr::SelfRef(span),
                    "super" => Expr::Super(span),
                    "nil" => Expr::Nil(span),
                    "true" => Expr::True(span),
                    "false" => Expr::False(span),
                    _ => Expr::Var(Ident { name, span }),
                })
            }
            Tok::LParen => {
                self.advance();
                let e = self.expression()?;
                self.expect(&Tok::RParen, "')' to close the parenthesis")?;
                Ok(e)
            }
            Tok::LBracket => Ok(Expr::Block(self.nested(Self::block)?)),
            Tok::LBrace => {
                self.advance();
                let mut items = Vec::new();
                while *self.peek() != Tok::RBrace {
                    items.push(self.expression()?);
                    if !self.eat(&Tok::Period) {
                        break;
                    }
                }
                self.expect(&Tok::RBrace, "'.' or '}' in a brace array")?;
                Ok(Expr::Brace(items, span))
            }
            _ => {
                if !self.starts_primary() {
                    return Err(self.expected("an expression"));
                }
                Ok(Expr::Lit(self.literal()?, span))
            }
        }
    }

    fn block(&mut self) -> Result<Block> {
        let span = self.span();
        self.advance();
        let mut params = Vec::new();
        while self.eat(&Tok::Colon) {
            params.push(self.ident("a block parameter name after ':'")?);
        }
        if !params.is_empty() && !self.eat_bar() && *self.peek() != Tok::RBracket {
            return Err(self.expected("'|' after the block parameters"));
        }
        check_unique(self, &params, "block parameter")?;
        let body = self.body(&Tok::RBracket)?;
        check_shadowing(self, &params, &body.temps)?;
        self.expect(&Tok::RBracket, "']' to close the block")?;
        Ok(Block { params, body, span })
    }

    // ---- literals -------------------------------------------------------------

    fn literal(&mut self) -> Result<Lit> {
        match self.peek().clone() {
            Tok::Int(v) => {
                self.advance();
                Ok(Lit::Int(v))
            }
            Tok::Double(d) => {
                self.advance();
                Ok(Lit::Double(d))
            }
            Tok::BinOp(op) if op == "-" => {
                self.advance();
                match self.peek().clone() {
                    Tok::Int(v) => {
                        self.advance();
                        Ok(Lit::Int(v.negated()))
                    }
                    Tok::Double(d) => {
                        self.advance();
                        Ok(Lit::Double(-d))
                    }
                    _ => Err(self.expected("a number after '-'")),
                }
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Lit::Str(s))
            }
            Tok::Char(c) => {
                self.advance();
                Ok(Lit::Char(c))
            }
            Tok::Symbol(s) => {
                self.advance();
                Ok(Lit::Symbol(s))
            }
            Tok::LitArrayStart => {
                self.advance();
                self.literal_array()
            }
            _ => Err(self.expected("a literal")),
        }
    }

    /// The elements of `#( ... )` up to and including `)`.
    fn literal_array(&mut self) -> Result<Lit> {
        self.nested(Self::literal_array_items)
    }

    fn literal_array_items(&mut self) -> Result<Lit> {
        let mut items = Vec::new();
        loop {
            let item = match self.peek().clone() {
                Tok::RParen => {
                    self.advance();
                    break;
                }
                Tok::LParen => {
                    self.advance();
                    self.literal_array()?
                }
                Tok::Ident(name) => {
                    self.advance();
                    match name.as_str() {
                        "nil" => Lit::Nil,
                        "true" => Lit::True,
                        "false" => Lit::False,
                        _ => Lit::Symbol(name),
                    }
                }
                Tok::Keyword(k) => {
                    // Adjacent keywords form one selector: `#(at:put:)`.
                    let mut sym = k;
                    let mut end = self.advance().end;
                    while let Tok::Keyword(next) = self.peek().clone() {
                        if self.tokens[self.pos].start != end {
                            break;
                        }
                        sym.push_str(&next);
                        end = self.advance().end;
                    }
                    Lit::Symbol(sym)
                }
                Tok::BinOp(op) if !(op == "-" && matches!(self.peek_at(1), Tok::Int(_) | Tok::Double(_))) => {
                    self.advance();
                    Lit::Symbol(op)
                }
                Tok::Eof => return Err(self.expected("')' to close the literal array")),
                _ => self.literal().map_err(|_| self.expected("a literal or ')' in the literal array"))?,
            };
            items.push(item);
        }
        Ok(Lit::Array(items))
    }
}

/// Reports a temporary that has the name of an argument of the same method
/// or block (it would hide the argument).
fn check_shadowing(p: &Parser<'_>, params: &[Ident], temps: &[Ident]) -> Result<()> {
    match temps.iter().find(|t| params.iter().any(|a| a.name == t.name)) {
        Some(t) => Err(p.error_at(t.span, format!("temporary '{}' has the same name as an argument", t.name))),
        None => Ok(()),
    }
}

/// Reports the second declaration of a name declared twice in one list.
fn check_unique(p: &Parser<'_>, names: &[Ident], what: &str) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].iter().any(|n| n.name == name.name) {
            return Err(p.error_at(name.span, format!("{what} '{}' is declared twice", name.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
