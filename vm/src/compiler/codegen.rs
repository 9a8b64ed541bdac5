//! Code generator: a method's AST to [`CompiledCode`].
//!
//! Where variables live (see `docs/design/bytecode.md`):
//! - arguments not captured by a closure: argument slots of the frame;
//! - temporaries (including those of inlined blocks and the hidden counters
//!   of inlined loops) not captured: frame temporaries, reused once the
//!   inlined block that declared them ends;
//! - captured variables: slots of a heap context made by `PushContext` when
//!   their scope starts (each iteration, for an inlined loop body), so that a
//!   closure made in a loop sees that iteration's variables.

use std::collections::HashMap;

use super::ast::{Block, Expr, Ident, Lit, MethodBody, MethodDef, Stmt};
use super::error::{CompileError, Result, Span};
use super::inline::inline_form;
use super::lexer::IntValue;
use super::scope::{Captures, analyse};
use crate::bytecode::{CodeFlags, CodeKind, CompiledCode, Insn, Literal, Opcode};

use super::assembler::Assembler;

/// What the generator needs to know about the method's class and options.
pub struct MethodContext<'a> {
    /// File name, for errors.
    pub file: &'a str,
    /// Source text, for errors.
    pub source: &'a str,
    /// Field names of the receiver, inherited first.
    pub fields: &'a [String],
    /// Whether assigning to an undeclared name stores a global (REPL-style
    /// evaluation); otherwise it is an error.
    pub allow_global_assignment: bool,
}

/// Compiles one method.
pub fn compile_method(ctx: &MethodContext<'_>, def: &MethodDef) -> Result<CompiledCode> {
    let kind = CodeKind::Method { selector: def.selector.clone() };
    let (body, primitive) = match &def.body {
        MethodBody::Primitive(None) => {
            return Ok(CompiledCode {
                kind,
                num_args: def.params.len() as u32,
                num_temps: 0,
                max_stack: 0,
                num_ics: 0,
                flags: CodeFlags::PRIMITIVE,
                code: Vec::new(),
                literals: Vec::new(),
                lines: Default::default(),
                line: def.span.line,
                names: def.params.iter().map(|p| p.name.clone()).collect(),
            });
        }
        MethodBody::Primitive(Some(fallback)) => (fallback, true),
        MethodBody::Code(body) => (body, false),
    };
    let captures = analyse(def, body);
    let fields: HashMap<&str, u32> = ctx.fields.iter().enumerate().map(|(i, f)| (f.as_str(), i as u32)).collect();
    let mut g = Gen { ctx, fields, captures, units: Vec::new(), scopes: Vec::new(), chain_len: 0 };
    g.units.push(Unit::new(kind, def.params.len() as u32, def.span.line));
    g.unit().asm.set_line(def.span.line);
    let home = g.captures.needs_home;
    g.open_scope(&def.params, &body.temps, home, ParamSource::Args)?;
    if home {
        g.unit().flags.insert(CodeFlags::HOME_CONTEXT);
    }
    if primitive {
        g.unit().flags.insert(CodeFlags::PRIMITIVE);
    }
    for stmt in &body.stmts {
        match stmt {
            Stmt::Return(e, span) => g.method_return(e, *span)?,
            Stmt::Expr(e) => g.effect(e)?,
        }
    }
    // The implicit `^self` belongs to the last statement's line.
    g.emit(Insn::ReturnSelf {});
    let unit = g.units.pop().ok_or_else(|| g.internal(def.span, "no unit"))?;
    unit.finish(ctx, def.span)
}

/// Where a variable lives.
#[derive(Clone, Copy, Debug)]
enum Loc {
    Arg(u32),
    Temp(u32),
    /// Slot `slot` of the context at position `pos` of the static chain.
    Ctx {
        pos: usize,
        slot: u32,
    },
}

struct Var {
    name: String,
    loc: Loc,
}

struct Scope {
    vars: Vec<Var>,
    /// The unit (index into `units`) the scope's frame slots belong to.
    unit: usize,
    /// Whether the scope made a context (and must pop it when it ends, if
    /// it is an inlined scope).
    made_context: bool,
    /// Temporaries to release when the scope ends.
    temp_mark: u32,
}

/// How the parameters of a scope get their values.
#[derive(Clone, Copy)]
enum ParamSource {
    /// The activation's own arguments (methods and real blocks).
    Args,
    /// An inlined block without parameters.
    NoParams,
    /// The value on top of the stack (popped), for `ifNotNil: [:x | ...]`.
    Stack,
    /// A frame temporary holding it (the counter of an inlined loop); the
    /// parameter shares the temporary unless the body assigns it.
    Temp(u32),
}

/// One method or real block being generated.
struct Unit {
    asm: Assembler,
    kind: CodeKind,
    num_args: u32,
    flags: CodeFlags,
    literals: Vec<Literal>,
    literal_index: HashMap<String, u32>,
    num_ics: u32,
    temp_top: u32,
    max_temps: u32,
    line: u32,
    /// The names of the arguments, frame temporaries and own context
    /// slots (see [`CompiledCode::names`]).
    arg_names: Vec<String>,
    temp_names: Vec<Vec<String>>,
    context_names: Option<Vec<String>>,
}

impl Unit {
    fn new(kind: CodeKind, num_args: u32, line: u32) -> Unit {
        Unit {
            asm: Assembler::new(),
            kind,
            num_args,
            flags: CodeFlags::empty(),
            literals: Vec::new(),
            literal_index: HashMap::new(),
            num_ics: 0,
            temp_top: 0,
            max_temps: 0,
            line,
            arg_names: vec![String::new(); num_args as usize],
            temp_names: Vec::new(),
            context_names: None,
        }
    }

    /// Notes that frame temporary `t` holds variable `name`.
    fn name_temp(&mut self, t: u32, name: &str) {
        let t = t as usize;
        if self.temp_names.len() <= t {
            self.temp_names.resize(t + 1, Vec::new());
        }
        if !self.temp_names[t].iter().any(|n| n == name) {
            self.temp_names[t].push(name.to_string());
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names = self.arg_names.clone();
        names.extend(
            (0..self.max_temps as usize).map(|t| self.temp_names.get(t).map_or(String::new(), |n| n.join("/"))),
        );
        names.extend(self.context_names.iter().flatten().cloned());
        names
    }

    fn finish(self, ctx: &MethodContext<'_>, span: Span) -> Result<CompiledCode> {
        let names = self.names();
        let assembled = self
            .asm
            .finish()
            .map_err(|e| CompileError::new(ctx.file, ctx.source, span, format!("internal compiler error: {e}")))?;
        Ok(CompiledCode {
            names,
            kind: self.kind,
            num_args: self.num_args,
            num_temps: self.max_temps,
            max_stack: assembled.max_stack,
            num_ics: self.num_ics,
            flags: self.flags,
            code: assembled.code,
            literals: self.literals,
            lines: assembled.lines,
            line: self.line,
        })
    }
}

pub(super) struct Gen<'a> {
    pub(super) ctx: &'a MethodContext<'a>,
    fields: HashMap<&'a str, u32>,
    captures: Captures,
    units: Vec<Unit>,
    scopes: Vec<Scope>,
    /// Length of the static context chain at the current point.
    chain_len: usize,
}

impl Gen<'_> {
    fn unit(&mut self) -> &mut Unit {
        let last = self.units.len() - 1;
        &mut self.units[last]
    }

    pub(super) fn emit(&mut self, insn: Insn) {
        self.unit().asm.emit(insn);
    }

    pub(super) fn set_line(&mut self, span: Span) {
        self.unit().asm.set_line(span.line);
    }

    pub(super) fn error(&self, span: Span, message: impl Into<String>) -> CompileError {
        CompileError::new(self.ctx.file, self.ctx.source, span, message)
    }

    pub(super) fn internal(&self, span: Span, message: &str) -> CompileError {
        self.error(span, format!("internal compiler error: {message}"))
    }

    pub(super) fn asm(&mut self) -> &mut Assembler {
        &mut self.unit().asm
    }

    pub(super) fn new_ic(&mut self) -> u32 {
        let u = self.unit();
        u.num_ics += 1;
        u.num_ics - 1
    }

    pub(super) fn alloc_temp(&mut self) -> u32 {
        let u = self.unit();
        let t = u.temp_top;
        u.temp_top += 1;
        u.max_temps = u.max_temps.max(u.temp_top);
        t
    }

    pub(super) fn temp_mark(&mut self) -> u32 {
        self.unit().temp_top
    }

    pub(super) fn release_temps(&mut self, mark: u32) {
        self.unit().temp_top = mark;
    }

    fn literal(&mut self, lit: Literal) -> u32 {
        let u = self.unit();
        if matches!(lit, Literal::Block(_)) {
            u.literals.push(lit);
            return (u.literals.len() - 1) as u32;
        }
        let key = format!("{lit:?}");
        if let Some(&i) = u.literal_index.get(&key) {
            return i;
        }
        u.literals.push(lit);
        let i = (u.literals.len() - 1) as u32;
        u.literal_index.insert(key, i);
        i
    }

    fn is_captured(&self, id: &Ident) -> bool {
        self.captures.captured.contains(&id.span)
    }

    /// Opens a scope for `params` and `temps`: makes a context if any of
    /// them is captured (or `force_context`), binds the parameters from
    /// `source` and clears reused temporaries.
    fn open_scope(
        &mut self,
        params: &[Ident],
        temps: &[Ident],
        force_context: bool,
        source: ParamSource,
    ) -> Result<()> {
        let captured_count = params.iter().chain(temps).filter(|v| self.is_captured(v)).count() as u32;
        let made_context = captured_count > 0 || force_context;
        let unit = self.units.len() - 1;
        let temp_mark = self.temp_mark();
        let ctx_pos = self.chain_len;
        if made_context {
            self.emit(Insn::PushContext { size: captured_count });
            self.chain_len += 1;
        }
        let mut next_slot = 0;
        let mut vars = Vec::new();
        // The unit's own scope: its context's slots are named.
        let own_scope = !self.scopes.iter().any(|s| s.unit == unit);
        let mut context_names = Vec::new();
        // Parameters bound from the stack are popped last-first, but inlined
        // blocks take at most one, so order does not matter.
        for (i, p) in params.iter().enumerate() {
            let loc = if self.is_captured(p) {
                let slot = next_slot;
                next_slot += 1;
                match source {
                    ParamSource::Args => self.emit(Insn::PushArg { index: i as u32 }),
                    ParamSource::Temp(t) => self.emit(Insn::PushTemp { index: t }),
                    ParamSource::Stack | ParamSource::NoParams => {}
                }
                self.emit(Insn::PopOuter { level: 0, index: slot });
                context_names.push(p.name.clone());
                Loc::Ctx { pos: ctx_pos, slot }
            } else {
                match source {
                    ParamSource::Args => Loc::Arg(i as u32),
                    ParamSource::Temp(t) if !self.captures.assigned.contains(&p.span) => Loc::Temp(t),
                    ParamSource::Temp(t) => {
                        let own = self.alloc_temp();
                        self.emit(Insn::PushTemp { index: t });
                        self.emit(Insn::PopTemp { index: own });
                        Loc::Temp(own)
                    }
                    ParamSource::Stack | ParamSource::NoParams => {
                        let t = self.alloc_temp();
                        self.emit(Insn::PopTemp { index: t });
                        Loc::Temp(t)
                    }
                }
            };
            vars.push(Var { name: p.name.clone(), loc });
        }
        let fresh_frame = matches!(source, ParamSource::Args);
        for t in temps {
            let loc = if self.is_captured(t) {
                let slot = next_slot;
                next_slot += 1;
                context_names.push(t.name.clone());
                Loc::Ctx { pos: ctx_pos, slot }
            } else {
                let index = self.alloc_temp();
                if !fresh_frame {
                    // An inlined block's temporaries start nil every time it runs.
                    self.emit(Insn::PushNil {});
                    self.emit(Insn::PopTemp { index });
                }
                Loc::Temp(index)
            };
            vars.push(Var { name: t.name.clone(), loc });
        }
        let u = &mut self.units[unit];
        if matches!(source, ParamSource::Args) {
            // A captured argument's frame slot still holds what it was passed.
            for (slot, p) in u.arg_names.iter_mut().zip(params) {
                *slot = p.name.clone();
            }
        }
        for v in &vars {
            if let Loc::Temp(t) = &v.loc {
                u.name_temp(*t, &v.name);
            }
        }
        if own_scope && made_context {
            u.context_names = Some(context_names);
        }
        self.scopes.push(Scope { vars, unit, made_context, temp_mark });
        Ok(())
    }

    /// Closes the innermost scope; `pop_context` pops its context (inlined
    /// scopes do; a unit's own scope ends with its frame).
    fn close_scope(&mut self, pop_context: bool) {
        if let Some(scope) = self.scopes.pop() {
            if scope.made_context {
                if pop_context {
                    self.emit(Insn::PopContext {});
                }
                self.chain_len -= 1;
            }
            self.release_temps(scope.temp_mark);
        }
    }

    fn lookup(&self, name: &str) -> Option<(&Var, usize)> {
        for scope in self.scopes.iter().rev() {
            if let Some(v) = scope.vars.iter().rev().find(|v| v.name == name) {
                return Some((v, scope.unit));
            }
        }
        None
    }

    fn check_unit(&self, owner: usize, span: Span, name: &str) -> Result<()> {
        if owner == self.units.len() - 1 {
            Ok(())
        } else {
            Err(self.internal(span, &format!("variable {name} of an outer activation was not captured")))
        }
    }

    fn push_var(&mut self, id: &Ident) -> Result<()> {
        if let Some((var, owner)) = self.lookup(&id.name) {
            let loc = var.loc;
            let insn = match loc {
                Loc::Arg(index) => {
                    self.check_unit(owner, id.span, &id.name)?;
                    Insn::PushArg { index }
                }
                Loc::Temp(index) => {
                    self.check_unit(owner, id.span, &id.name)?;
                    Insn::PushTemp { index }
                }
                Loc::Ctx { pos, slot } => Insn::PushOuter { level: self.level(pos), index: slot },
            };
            self.emit(insn);
        } else if let Some(&index) = self.fields.get(id.name.as_str()) {
            self.emit(Insn::PushField { index });
        } else {
            let binding = self.literal(Literal::Global(id.name.clone()));
            self.emit(Insn::PushGlobal { binding });
        }
        Ok(())
    }

    fn level(&self, pos: usize) -> u32 {
        (self.chain_len - 1 - pos) as u32
    }

    /// Compiles `target := <value on stack>`, leaving the value (or, with
    /// `pop`, nothing) on the stack.
    fn store_var(&mut self, target: &Ident, pop: bool) -> Result<()> {
        if matches!(target.name.as_str(), "self" | "super" | "nil" | "true" | "false" | "thisContext") {
            return Err(self.error(target.span, format!("cannot assign to the pseudo-variable '{}'", target.name)));
        }
        if let Some((var, owner)) = self.lookup(&target.name) {
            let loc = var.loc;
            let insn = match loc {
                Loc::Arg(index) => {
                    self.check_unit(owner, target.span, &target.name)?;
                    if pop { Insn::PopArg { index } } else { Insn::StoreArg { index } }
                }
                Loc::Temp(index) => {
                    self.check_unit(owner, target.span, &target.name)?;
                    if pop { Insn::PopTemp { index } } else { Insn::StoreTemp { index } }
                }
                Loc::Ctx { pos, slot } => {
                    let level = self.level(pos);
                    if pop { Insn::PopOuter { level, index: slot } } else { Insn::StoreOuter { level, index: slot } }
                }
            };
            self.emit(insn);
        } else if let Some(&index) = self.fields.get(target.name.as_str()) {
            self.emit(if pop { Insn::PopField { index } } else { Insn::StoreField { index } });
        } else if self.ctx.allow_global_assignment {
            let binding = self.literal(Literal::Global(target.name.clone()));
            self.emit(Insn::StoreGlobal { binding });
            if pop {
                self.emit(Insn::Pop {});
            }
        } else {
            return Err(self.error(
                target.span,
                format!("cannot assign to '{}': it is not a temporary, argument or field", target.name),
            ));
        }
        Ok(())
    }

    fn method_return(&mut self, e: &Expr, span: Span) -> Result<()> {
        self.set_line(span);
        if matches!(e, Expr::SelfRef(_)) {
            self.emit(Insn::ReturnSelf {});
            return Ok(());
        }
        self.expr(e)?;
        self.set_line(span);
        self.emit(Insn::Return {});
        Ok(())
    }

    /// `^ e` wherever it stands: a method return in the method's own
    /// activation, a non-local return inside a real block.
    fn return_stmt(&mut self, e: &Expr, span: Span) -> Result<()> {
        if self.units.len() == 1 {
            return self.method_return(e, span);
        }
        self.expr(e)?;
        self.set_line(span);
        // The home context is the first on the chain: the method's own.
        let level = self.level(0);
        self.emit(Insn::ReturnNonLocal { level });
        Ok(())
    }

    /// Compiles statements whose values are not used.
    fn statements_effect(&mut self, stmts: &[Stmt]) -> Result<()> {
        for stmt in stmts {
            match stmt {
                Stmt::Return(e, s) => self.return_stmt(e, *s)?,
                Stmt::Expr(e) => self.effect(e)?,
            }
        }
        Ok(())
    }

    /// Compiles statements whose last value stays on the stack (`nil` when
    /// there are none).
    pub(super) fn statements_value(&mut self, stmts: &[Stmt], span: Span) -> Result<()> {
        if stmts.is_empty() {
            self.set_line(span);
            self.emit(Insn::PushNil {});
            return Ok(());
        }
        let n = stmts.len();
        for (i, stmt) in stmts.iter().enumerate() {
            match stmt {
                Stmt::Return(e, s) => self.return_stmt(e, *s)?,
                Stmt::Expr(e) if i + 1 < n => self.effect(e)?,
                Stmt::Expr(e) => self.expr(e)?,
            }
        }
        Ok(())
    }

    /// Compiles the body of an inlined block, leaving its value on the stack.
    pub(super) fn inline_block(&mut self, block: &Block, source: InlineParam) -> Result<()> {
        self.inline_block_as(block, source, true)
    }

    /// Compiles the body of an inlined loop body, whose value is not used.
    pub(super) fn inline_block_effect(&mut self, block: &Block, source: InlineParam) -> Result<()> {
        self.inline_block_as(block, source, false)
    }

    fn inline_block_as(&mut self, block: &Block, source: InlineParam, want_value: bool) -> Result<()> {
        self.set_line(block.span);
        let source = match source {
            InlineParam::None => ParamSource::NoParams,
            InlineParam::Stack => ParamSource::Stack,
            InlineParam::Temp(t) => ParamSource::Temp(t),
        };
        if matches!(source, ParamSource::NoParams) && !block.params.is_empty() {
            return Err(self.internal(block.span, "inlined block with parameters but no value for them"));
        }
        self.open_scope(&block.params, &block.body.temps, false, source)?;
        if want_value {
            self.statements_value(&block.body.stmts, block.span)?;
        } else {
            self.statements_effect(&block.body.stmts)?;
        }
        self.close_scope(true);
        Ok(())
    }

    fn real_block(&mut self, block: &Block) -> Result<()> {
        self.set_line(block.span);
        let saved_chain = self.chain_len;
        self.units.push(Unit::new(CodeKind::Block, block.params.len() as u32, block.span.line));
        self.set_line(block.span);
        self.open_scope(&block.params, &block.body.temps, false, ParamSource::Args)?;
        self.statements_value(&block.body.stmts, block.span)?;
        self.emit(Insn::Return {});
        self.close_scope(false);
        self.chain_len = saved_chain;
        let unit = self.units.pop().ok_or_else(|| self.internal(block.span, "no unit"))?;
        let code = unit.finish(self.ctx, block.span)?;
        let index = self.literal(Literal::Block(Box::new(code)));
        self.set_line(block.span);
        self.emit(Insn::MakeBlock { block: index });
        Ok(())
    }

    /// Compiles an expression whose value is not used.
    pub(super) fn effect(&mut self, e: &Expr) -> Result<()> {
        if let Expr::Assign { target, value } = e {
            self.expr(value)?;
            self.set_line(target.span);
            return self.store_var(target, true);
        }
        self.expr(e)?;
        self.emit(Insn::Pop {});
        Ok(())
    }

    pub(super) fn expr(&mut self, e: &Expr) -> Result<()> {
        super::with_stack(|| self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<()> {
        match e {
            Expr::Var(id) => {
                self.set_line(id.span);
                self.push_var(id)
            }
            Expr::SelfRef(s) | Expr::Super(s) => {
                self.set_line(*s);
                self.emit(Insn::PushSelf {});
                Ok(())
            }
            Expr::Nil(s) => {
                self.set_line(*s);
                self.emit(Insn::PushNil {});
                Ok(())
            }
            Expr::True(s) => {
                self.set_line(*s);
                self.emit(Insn::PushTrue {});
                Ok(())
            }
            Expr::False(s) => {
                self.set_line(*s);
                self.emit(Insn::PushFalse {});
                Ok(())
            }
            Expr::Lit(lit, s) => {
                self.set_line(*s);
                self.push_literal(lit);
                Ok(())
            }
            Expr::Assign { target, value } => {
                self.expr(value)?;
                self.set_line(target.span);
                self.store_var(target, false)
            }
            Expr::Send { receiver, selector, args, span } => self.send(receiver, selector, args, *span),
            Expr::Cascade { receiver, parts } => {
                let is_super = matches!(**receiver, Expr::Super(_));
                if !is_super {
                    self.expr(receiver)?;
                }
                let n = parts.len();
                for (i, part) in parts.iter().enumerate() {
                    let last = i + 1 == n;
                    if !last && !is_super {
                        self.emit(Insn::Dup {});
                    }
                    self.expr(part)?;
                    if !last {
                        self.emit(Insn::Pop {});
                    }
                }
                Ok(())
            }
            Expr::CascadeReceiver(_) => Ok(()),
            Expr::Block(b) => self.real_block(b),
            Expr::Brace(items, s) => {
                for item in items {
                    self.expr(item)?;
                }
                self.set_line(*s);
                self.emit(Insn::MakeArray { count: items.len() as u32 });
                Ok(())
            }
        }
    }

    pub(super) fn push_literal(&mut self, lit: &Lit) {
        if let Lit::Int(IntValue::Small(v)) = lit
            && let Ok(value) = i32::try_from(*v)
        {
            self.emit(Insn::PushInteger { value });
            return;
        }
        let index = self.literal(convert_literal(lit));
        self.emit(Insn::PushLiteral { index });
    }

    pub(super) fn push_step(&mut self, step: super::inline::Step) {
        match step {
            super::inline::Step::Int(i) => self.push_literal(&Lit::Int(IntValue::Small(i))),
            super::inline::Step::Double(d) => self.push_literal(&Lit::Double(d)),
        }
    }

    fn send(&mut self, receiver: &Expr, selector: &str, args: &[Expr], span: Span) -> Result<()> {
        if let Some(form) = inline_form(receiver, selector, args) {
            return self.inline_send(form, receiver, args, span);
        }
        let is_super = matches!(receiver, Expr::Super(_));
        self.expr(receiver)?;
        for a in args {
            self.expr(a)?;
        }
        self.set_line(span);
        self.emit_send(selector, args.len() as u32, is_super);
        Ok(())
    }

    /// Emits a send of `selector` (receiver and arguments already pushed).
    pub(super) fn emit_send(&mut self, selector: &str, argc: u32, is_super: bool) {
        if !is_super && let Some(op) = Opcode::for_special_selector(selector) {
            let insn = if op == Opcode::SendIdentical {
                Insn::SendIdentical {}
            } else {
                let ic = self.new_ic();
                Insn::from_operands(op, &[i64::from(ic)])
            };
            self.emit(insn);
            return;
        }
        let sel = self.literal(Literal::Symbol(selector.to_string()));
        let ic = self.new_ic();
        self.emit(if is_super {
            Insn::SuperSend { selector: sel, argc, ic }
        } else {
            Insn::Send { selector: sel, argc, ic }
        });
    }
}

/// How an inlined block's single parameter gets its value.
#[derive(Clone, Copy)]
pub(super) enum InlineParam {
    /// The block has no parameters.
    None,
    /// Pop it from the stack.
    Stack,
    /// It is this frame temporary.
    Temp(u32),
}

/// A source literal as a method literal.
pub fn convert_literal(lit: &Lit) -> Literal {
    match lit {
        Lit::Int(IntValue::Small(i)) => Literal::Integer(*i),
        Lit::Int(IntValue::Large(s)) => Literal::LargeInteger(s.clone()),
        Lit::Double(d) => Literal::Double(*d),
        Lit::Str(s) => Literal::String(s.clone()),
        Lit::Symbol(s) => Literal::Symbol(s.clone()),
        Lit::Char(c) => Literal::Character(*c),
        Lit::Array(items) => Literal::Array(items.iter().map(convert_literal).collect()),
        Lit::Nil => Literal::Nil,
        Lit::True => Literal::True,
        Lit::False => Literal::False,
    }
}
