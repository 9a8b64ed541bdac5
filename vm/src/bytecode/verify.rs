//! Bytecode verifier: decoding, jump targets, stack depth, literal, inline
//! cache, variable and context indices, and argument counts — so that the
//! interpreter and the JIT can trust verified code.

use std::collections::HashMap;
use std::fmt;

use super::{CodeFlags, CompiledClass, CompiledCode, Flags, Insn, Literal, instructions};

/// Why compiled code failed verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Which unit: `Foo>>bar`, or `Foo>>bar block #3`.
    pub unit: String,
    /// The instruction, when the problem is at one.
    pub pc: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "{} at {}: {}", self.unit, pc, self.problem),
            None => write!(f, "{}: {}", self.unit, self.problem),
        }
    }
}

impl std::error::Error for VerifyError {}

/// One context on the static context chain.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ctx {
    size: u32,
    /// The home context of the method (target of non-local returns).
    home: bool,
    /// Made by this unit (so it may pop it).
    local: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    depth: u32,
    chain: Vec<Ctx>,
}

/// Verifies every method of a class, instance side with the class's
/// instance size and class side with its class-side size.
pub fn verify_class(class: &CompiledClass) -> Result<(), VerifyError> {
    for m in &class.methods {
        let name = format!("{}>>{}", class.name, m.selector().unwrap_or("?"));
        verify_named(m, class.instance_size() as u32, &name)?;
    }
    for m in &class.class_methods {
        let name = format!("{} class>>{}", class.name, m.selector().unwrap_or("?"));
        verify_named(m, class.class_side_size() as u32, &name)?;
    }
    Ok(())
}

/// Verifies a method (and its blocks) whose receiver has `num_fields` fields.
pub fn verify_method(code: &CompiledCode, num_fields: u32) -> Result<(), VerifyError> {
    let name = code.selector().unwrap_or("block").to_string();
    verify_named(code, num_fields, &name)
}

fn verify_named(code: &CompiledCode, num_fields: u32, name: &str) -> Result<(), VerifyError> {
    let fail = |problem: String| VerifyError { unit: name.to_string(), pc: None, problem };
    match code.selector() {
        Some(selector) => {
            let arity = selector_arity(selector);
            if arity != code.num_args as usize {
                return Err(fail(format!("selector {selector} takes {arity} arguments, method has {}", code.num_args)));
            }
        }
        None => return Err(fail("top-level unit is a block, not a method".into())),
    }
    if code.is_primitive() && !code.has_fallback() {
        return Ok(());
    }
    Verifier { num_fields }.unit(code, name, Vec::new(), false)
}

/// The number of arguments a selector takes.
pub fn selector_arity(selector: &str) -> usize {
    match selector.chars().next() {
        Some(c) if c.is_alphabetic() || c == '_' => selector.matches(':').count(),
        Some(_) => 1,
        None => 0,
    }
}

struct Verifier {
    num_fields: u32,
}

impl Verifier {
    fn unit(&self, code: &CompiledCode, name: &str, entry_chain: Vec<Ctx>, is_block: bool) -> Result<(), VerifyError> {
        let err = |pc: Option<usize>, problem: String| VerifyError { unit: name.to_string(), pc, problem };
        let mut insns = Vec::new();
        for item in instructions(&code.code) {
            let (pc, d) = item.map_err(|e| err(None, e.to_string()))?;
            insns.push((pc, d.insn, d.len));
        }
        if insns.is_empty() {
            return Err(err(None, "no bytecode".into()));
        }
        let index_of: HashMap<usize, usize> = insns.iter().enumerate().map(|(i, &(pc, _, _))| (pc, i)).collect();
        let home = code.flags.contains(CodeFlags::HOME_CONTEXT);
        if home && (is_block || !matches!(insns[0].1, Insn::PushContext { .. })) {
            return Err(err(None, "home-context flag without a PushContext at entry of a method".into()));
        }
        let mut states: Vec<Option<State>> = vec![None; insns.len()];
        let mut work = vec![0usize];
        states[0] = Some(State { depth: 0, chain: entry_chain });
        let mut block_chains: HashMap<u32, Vec<Ctx>> = HashMap::new();
        while let Some(i) = work.pop() {
            let (pc, insn, len) = insns[i];
            let at = |problem: String| err(Some(pc), problem);
            let Some(state) = states[i].clone() else {
                continue;
            };
            let mut next = state.clone();
            self.check_operands(code, &insn, &state, is_block, home && i == 0, &mut next, &mut block_chains, name)
                .map_err(at)?;
            let (pops, pushes) = insn.stack_effect();
            if state.depth < pops {
                return Err(at(format!("pops {pops} values from a stack of {}", state.depth)));
            }
            next.depth = state.depth - pops + pushes;
            if next.depth > code.max_stack {
                return Err(at(format!("stack depth {} exceeds the declared maximum {}", next.depth, code.max_stack)));
            }
            let flags = insn.opcode().flags();
            let mut successors = Vec::new();
            if let Some(target) = insn.jump_target(pc, len) {
                let t = *index_of
                    .get(&target)
                    .ok_or_else(|| at(format!("jump target {target} is not the start of an instruction")))?;
                successors.push(t);
            } else if flags.contains(Flags::JUMP) {
                return Err(at("jump target out of range".into()));
            }
            let falls_through =
                !flags.contains(Flags::RETURN) && !matches!(insn, Insn::Jump { .. } | Insn::JumpBack { .. });
            if falls_through {
                if i + 1 >= insns.len() {
                    return Err(at("execution falls off the end of the code".into()));
                }
                successors.push(i + 1);
            }
            for s in successors {
                match &states[s] {
                    None => {
                        states[s] = Some(next.clone());
                        work.push(s);
                    }
                    Some(existing) if *existing == next => {}
                    Some(existing) => {
                        return Err(at(format!(
                            "paths meet at {} with stack depth {} and {} / context depth {} and {}",
                            insns[s].0,
                            existing.depth,
                            next.depth,
                            existing.chain.len(),
                            next.chain.len()
                        )));
                    }
                }
            }
        }
        for (lit_index, chain) in block_chains {
            let Some(Literal::Block(block)) = code.literals.get(lit_index as usize) else {
                continue;
            };
            let block_name = format!("{name} block #{lit_index}");
            let entry: Vec<Ctx> = chain.into_iter().map(|c| Ctx { local: false, ..c }).collect();
            crate::with_stack(|| self.unit(block, &block_name, entry, true))?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn check_operands(
        &self,
        code: &CompiledCode,
        insn: &Insn,
        state: &State,
        is_block: bool,
        home_entry: bool,
        next: &mut State,
        block_chains: &mut HashMap<u32, Vec<Ctx>>,
        _name: &str,
    ) -> Result<(), String> {
        let literal = |index: u32| {
            code.literals
                .get(index as usize)
                .ok_or_else(|| format!("literal {index} out of range ({} literals)", code.literals.len()))
        };
        let ic = |index: u32| {
            if index < code.num_ics {
                Ok(())
            } else {
                Err(format!("inline cache {index} out of range ({} caches)", code.num_ics))
            }
        };
        let context = |level: u32, index: u32| -> Result<&Ctx, String> {
            let len = state.chain.len() as u32;
            if level >= len {
                return Err(format!("context level {level} but the chain has {len} contexts"));
            }
            let ctx = &state.chain[(len - 1 - level) as usize];
            if index >= ctx.size {
                return Err(format!("context slot {index} out of range (size {})", ctx.size));
            }
            Ok(ctx)
        };
        match *insn {
            Insn::PushArg { index } | Insn::StoreArg { index } | Insn::PopArg { index } if index >= code.num_args => {
                Err(format!("argument {index} out of range ({} arguments)", code.num_args))
            }
            Insn::PushTemp { index } | Insn::StoreTemp { index } | Insn::PopTemp { index }
                if index >= code.num_temps =>
            {
                Err(format!("temporary {index} out of range ({} temporaries)", code.num_temps))
            }
            Insn::PushField { index } | Insn::StoreField { index } | Insn::PopField { index }
                if index >= self.num_fields =>
            {
                Err(format!("field {index} out of range ({} fields)", self.num_fields))
            }
            Insn::PushLiteral { index } => match literal(index)? {
                Literal::Global(_) | Literal::Block(_) => Err(format!("literal {index} is not a constant")),
                _ => Ok(()),
            },
            Insn::PushGlobal { binding } | Insn::StoreGlobal { binding } => match literal(binding)? {
                Literal::Global(_) => Ok(()),
                _ => Err(format!("literal {binding} is not a global binding")),
            },
            Insn::PushOuter { level, index } | Insn::StoreOuter { level, index } | Insn::PopOuter { level, index } => {
                context(level, index).map(|_| ())
            }
            Insn::Send { selector, argc, ic: slot } | Insn::SuperSend { selector, argc, ic: slot } => {
                ic(slot)?;
                match literal(selector)? {
                    Literal::Symbol(s) if selector_arity(s) == argc as usize => Ok(()),
                    Literal::Symbol(s) => Err(format!("send of {s} with {argc} arguments")),
                    _ => Err(format!("selector literal {selector} is not a symbol")),
                }
            }
            Insn::SendAdd { ic: slot }
            | Insn::SendSub { ic: slot }
            | Insn::SendMul { ic: slot }
            | Insn::SendDiv { ic: slot }
            | Insn::SendFloorDiv { ic: slot }
            | Insn::SendMod { ic: slot }
            | Insn::SendLt { ic: slot }
            | Insn::SendGt { ic: slot }
            | Insn::SendLe { ic: slot }
            | Insn::SendGe { ic: slot }
            | Insn::SendEq { ic: slot }
            | Insn::SendNe { ic: slot }
            | Insn::SendAt { ic: slot }
            | Insn::SendAtPut { ic: slot }
            | Insn::SendSize { ic: slot }
            | Insn::SendValue { ic: slot }
            | Insn::SendValue1 { ic: slot }
            | Insn::SendValue2 { ic: slot }
            | Insn::SendClass { ic: slot }
            | Insn::SendIsNil { ic: slot }
            | Insn::SendNotNil { ic: slot }
            | Insn::SendNot { ic: slot } => ic(slot),
            Insn::MakeBlock { block } => match literal(block)? {
                Literal::Block(_) => match block_chains.get(&block) {
                    Some(chain) if *chain != state.chain => {
                        Err(format!("block literal {block} is made under two different context chains"))
                    }
                    _ => {
                        block_chains.insert(block, state.chain.clone());
                        Ok(())
                    }
                },
                _ => Err(format!("literal {block} is not a block")),
            },
            Insn::PushContext { size } => {
                next.chain.push(Ctx { size, home: home_entry, local: true });
                Ok(())
            }
            Insn::PopContext {} => match state.chain.last() {
                Some(ctx) if ctx.local => {
                    next.chain.pop();
                    Ok(())
                }
                Some(_) => Err("pops a context this code did not make".into()),
                None => Err("pops a context from an empty chain".into()),
            },
            Insn::ReturnSelf {} if is_block => Err("ReturnSelf in a block".into()),
            Insn::ReturnNonLocal { .. } if !is_block => Err("non-local return in a method".into()),
            Insn::ReturnNonLocal { level } => {
                let len = state.chain.len() as u32;
                if level >= len || !state.chain[(len - 1 - level) as usize].home {
                    Err(format!("non-local return level {level} does not reach the home context"))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::{CodeKind, LineTable, encode};

    fn method(insns: &[Insn], literals: Vec<Literal>, max_stack: u32) -> CompiledCode {
        let mut code = Vec::new();
        for i in insns {
            encode(i, &mut code);
        }
        CompiledCode {
            kind: CodeKind::Method { selector: "m".into() },
            num_args: 0,
            num_temps: 1,
            max_stack,
            num_ics: 1,
            flags: CodeFlags::empty(),
            code,
            literals,
            lines: LineTable::default(),
            line: 1,
            names: Vec::new(),
        }
    }

    #[test]
    fn accepts_good_code() {
        let m = method(
            &[Insn::PushSelf {}, Insn::Send { selector: 0, argc: 0, ic: 0 }, Insn::Return {}],
            vec![Literal::Symbol("foo".into())],
            1,
        );
        verify_method(&m, 0).expect("valid");
    }

    #[test]
    fn rejects_each_problem() {
        let sym = || vec![Literal::Symbol("foo".into())];
        let cases: Vec<(Vec<Insn>, Vec<Literal>, &str)> = vec![
            (vec![Insn::Pop {}, Insn::ReturnSelf {}], vec![], "pops 1"),
            (vec![Insn::PushSelf {}], vec![], "falls off"),
            (vec![Insn::PushSelf {}, Insn::PushSelf {}, Insn::Return {}], vec![], "exceeds"),
            (vec![Insn::PushTemp { index: 5 }, Insn::Return {}], vec![], "temporary 5"),
            (vec![Insn::PushArg { index: 0 }, Insn::Return {}], vec![], "argument 0"),
            (vec![Insn::PushField { index: 0 }, Insn::Return {}], vec![], "field 0"),
            (vec![Insn::PushLiteral { index: 3 }, Insn::Return {}], vec![], "literal 3"),
            (
                vec![Insn::PushSelf {}, Insn::Send { selector: 0, argc: 1, ic: 0 }, Insn::Return {}],
                sym(),
                "with 1 arguments",
            ),
            (
                vec![Insn::PushSelf {}, Insn::Send { selector: 0, argc: 0, ic: 4 }, Insn::Return {}],
                sym(),
                "inline cache 4",
            ),
            (vec![Insn::Jump { offset: 1 }, Insn::ReturnSelf {}], vec![], "jump target"),
            (vec![Insn::PushOuter { level: 0, index: 0 }, Insn::Return {}], vec![], "context level"),
            (vec![Insn::PopContext {}, Insn::ReturnSelf {}], vec![], "empty chain"),
            (vec![Insn::PushSelf {}, Insn::ReturnNonLocal { level: 0 }], vec![], "non-local return in a method"),
            (vec![Insn::PushGlobal { binding: 0 }, Insn::Return {}], sym(), "not a global"),
        ];
        for (insns, lits, expected) in cases {
            let m = method(&insns, lits, 1);
            let e = verify_method(&m, 0).expect_err(expected);
            assert!(e.problem.contains(expected), "{expected}: got {e}");
        }
    }

    #[test]
    fn rejects_inconsistent_merge() {
        // push true; jump-if-false L; push self; L: return-self
        let insns = [Insn::PushTrue {}, Insn::JumpIfFalse { offset: 1 }, Insn::PushSelf {}, Insn::ReturnSelf {}];
        let e = verify_method(&method(&insns, vec![], 2), 0).expect_err("merge");
        assert!(e.problem.contains("paths meet"), "{e}");
    }

    #[test]
    fn selector_arities() {
        assert_eq!(selector_arity("foo"), 0);
        assert_eq!(selector_arity("+"), 1);
        assert_eq!(selector_arity("at:put:"), 2);
    }
}
