//! The bytecode table: every bytecode declared once.
//!
//! `for_each_bytecode!` hands the table to a generator macro. Everything that
//! must agree about the instruction set is generated from it: the [`Opcode`]
//! enum, the decoded [`Insn`] form, operand kinds, stack effects, flags,
//! documentation, the [`Visitor`] trait that the interpreter and the JIT
//! implement, and (through [`Insn::operands`] / [`Insn::from_operands`]) the
//! encoder and decoder.
//!
//! Each row reads:
//!
//! ```text
//! Name  visitor_method  (operand: Kind, ...)  pops => pushes  [FLAGS]  "doc"
//! ```
//!
//! `pops` may name operands (a send pops `argc + 1`). Opcode numbers are the
//! row positions plus [`FIRST_OPCODE`]; the two values below it are the
//! operand-width prefixes. Appending rows keeps existing numbers; inserting
//! or reordering rows changes the encoding and needs a new image format
//! version (the golden test `tests/bytecode/opcodes.expected` notices).

/// Calls `$m!` with the whole bytecode table.
#[macro_export]
#[doc(hidden)]
macro_rules! for_each_bytecode {
    ($m:ident) => {
        $m! {
            // ---- push -------------------------------------------------------------
            PushSelf push_self () 0 => 1 [] "Push the receiver.";
            PushNil push_nil () 0 => 1 [] "Push nil.";
            PushTrue push_true () 0 => 1 [] "Push true.";
            PushFalse push_false () 0 => 1 [] "Push false.";
            PushArg push_arg (index: Arg) 0 => 1 []
                "Push argument `index` of the current activation (0 is the first argument, not the receiver).";
            PushTemp push_temp (index: Temp) 0 => 1 [] "Push frame temporary `index`.";
            PushField push_field (index: Field) 0 => 1 [] "Push field `index` of the receiver.";
            PushLiteral push_literal (index: Lit) 0 => 1 [] "Push literal `index` of the method.";
            PushInteger push_integer (value: Int) 0 => 1 [] "Push the SmallInteger `value`.";
            PushGlobal push_global (binding: Lit) 0 => 1 [SAFEPOINT]
                "Push the value of the global whose binding is literal `binding` (sends `unknownGlobal:` when unbound).";
            PushOuter push_outer (level: Level, index: Slot) 0 => 1 []
                "Push slot `index` of the context `level` steps out along the context chain (0 is the innermost).";
            // ---- store ------------------------------------------------------------
            StoreArg store_arg (index: Arg) 1 => 1 []
                "Store the top of stack into argument `index`, leaving it on the stack.";
            PopArg pop_arg (index: Arg) 1 => 0 [] "Pop the top of stack into argument `index`.";
            StoreTemp store_temp (index: Temp) 1 => 1 [] "Store the top of stack into temporary `index`, leaving it on the stack.";
            PopTemp pop_temp (index: Temp) 1 => 0 [] "Pop the top of stack into temporary `index`.";
            StoreField store_field (index: Field) 1 => 1 [BARRIER]
                "Store the top of stack into field `index` of the receiver, leaving it on the stack.";
            PopField pop_field (index: Field) 1 => 0 [BARRIER] "Pop the top of stack into field `index` of the receiver.";
            StoreOuter store_outer (level: Level, index: Slot) 1 => 1 [BARRIER]
                "Store the top of stack into slot `index` of the context `level` steps out, leaving it on the stack.";
            PopOuter pop_outer (level: Level, index: Slot) 1 => 0 [BARRIER]
                "Pop the top of stack into slot `index` of the context `level` steps out.";
            StoreGlobal store_global (binding: Lit) 1 => 1 [BARRIER]
                "Store the top of stack into the global whose binding is literal `binding`, leaving it on the stack.";
            // ---- stack ------------------------------------------------------------
            Pop pop () 1 => 0 [] "Discard the top of stack.";
            Dup dup () 1 => 2 [] "Duplicate the top of stack.";
            // ---- sends ------------------------------------------------------------
            Send send (selector: Lit, argc: Count, ic: Ic) (argc + 1) => 1 [SEND | SAFEPOINT]
                "Send selector literal `selector` to the receiver under `argc` arguments, through inline cache `ic`.";
            SuperSend super_send (selector: Lit, argc: Count, ic: Ic) (argc + 1) => 1 [SEND | SAFEPOINT]
                "Send `selector` to the receiver, looked up from the superclass of the method's holder.";
            SendAdd send_add (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`+`: SmallInteger/Double fast path, else a send.";
            SendSub send_sub (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`-`: fast path, else a send.";
            SendMul send_mul (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`*`: fast path, else a send.";
            SendDiv send_div (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`/`: fast path, else a send.";
            SendFloorDiv send_floor_div (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`//`: fast path, else a send.";
            SendMod send_mod (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`%`: fast path, else a send.";
            SendLt send_lt (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`<`: fast path, else a send.";
            SendGt send_gt (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`>`: fast path, else a send.";
            SendLe send_le (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`<=`: fast path, else a send.";
            SendGe send_ge (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`>=`: fast path, else a send.";
            SendEq send_eq (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`=`: fast path, else a send.";
            SendNe send_ne (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`~=`: fast path, else a send.";
            SendIdentical send_identical () 2 => 1 [] "`==`: identity comparison; never a send.";
            SendAt send_at (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`at:`: Array/String fast path, else a send.";
            SendAtPut send_at_put (ic: Ic) 3 => 1 [SEND | SAFEPOINT | SPECIAL | BARRIER] "`at:put:`: Array fast path, else a send.";
            SendSize send_size (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`size`: Array/String fast path, else a send.";
            SendValue send_value (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`value`: block fast path, else a send.";
            SendValue1 send_value1 (ic: Ic) 2 => 1 [SEND | SAFEPOINT | SPECIAL] "`value:`: block fast path, else a send.";
            SendValue2 send_value2 (ic: Ic) 3 => 1 [SEND | SAFEPOINT | SPECIAL] "`value:with:`: block fast path, else a send.";
            SendClass send_class (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`class`: fast path, else a send.";
            SendIsNil send_is_nil (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`isNil`: fast path, else a send.";
            SendNotNil send_not_nil (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`notNil`: fast path, else a send.";
            SendNot send_not (ic: Ic) 1 => 1 [SEND | SAFEPOINT | SPECIAL] "`not`: Boolean fast path, else a send.";
            // ---- blocks and contexts ----------------------------------------------
            MakeBlock make_block (block: Lit) 0 => 1 [ALLOC | SAFEPOINT]
                "Push a closure of block literal `block` over the receiver and the current context.";
            MakeArray make_array (count: Count) count => 1 [ALLOC | SAFEPOINT]
                "Pop `count` values and push a new Array holding them, the deepest first.";
            PushContext push_context (size: Count) 0 => 0 [ALLOC | SAFEPOINT]
                "Make a context of `size` nil slots whose parent is the current context, and make it current.";
            PopContext pop_context () 0 => 0 [] "Make the parent of the current context current.";
            // ---- jumps ------------------------------------------------------------
            Jump jump (offset: Forward) 0 => 0 [JUMP] "Jump `offset` bytes forward from the next instruction.";
            JumpBack jump_back (offset: Backward) 0 => 0 [JUMP | SAFEPOINT]
                "Loop back-edge: jump `offset` bytes back from the next instruction (counts loop iterations).";
            JumpIfTrue jump_if_true (offset: Forward) 1 => 0 [JUMP | BRANCH | SAFEPOINT]
                "Pop a Boolean and jump forward if it is true (a non-Boolean is sent `mustBeBoolean`).";
            JumpIfFalse jump_if_false (offset: Forward) 1 => 0 [JUMP | BRANCH | SAFEPOINT]
                "Pop a Boolean and jump forward if it is false (a non-Boolean is sent `mustBeBoolean`).";
            JumpIfNil jump_if_nil (offset: Forward) 1 => 0 [JUMP | BRANCH] "Pop a value and jump forward if it is nil.";
            JumpIfNotNil jump_if_not_nil (offset: Forward) 1 => 0 [JUMP | BRANCH] "Pop a value and jump forward unless it is nil.";
            // ---- returns ----------------------------------------------------------
            Return return_top () 1 => 0 [RETURN]
                "Return the top of stack from the current activation (a method, or a block to its caller).";
            ReturnSelf return_self () 0 => 0 [RETURN] "Return the receiver from the current method.";
            ReturnNonLocal return_non_local (level: Level) 1 => 0 [RETURN | SAFEPOINT]
                "Return the top of stack from the home method, whose context is `level` steps out (sends `escapedBlock:` if that method has returned).";
        }
    };
}
