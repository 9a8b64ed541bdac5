//! Expressions of each type, each within a bound.

use super::*;

impl Gen {
    pub(super) fn int_literal(&mut self, max_bits: f64) -> (String, f64) {
        for _ in 0..4 {
            let (text, bits) = match self.rng.below(10) {
                0..=3 => {
                    let v = self.rng.range(-100, 100);
                    (v.to_string(), bits_of(&v.to_string()))
                }
                4 => {
                    let v = self.rng.range(-(1 << 31), 1 << 31);
                    (v.to_string(), bits_of(&v.to_string()))
                }
                5..=8 => {
                    let v = *self.rng.pick(EDGE_INTS);
                    (v.to_string(), bits_of(v))
                }
                _ => {
                    let k = self.rng.range(0, 70);
                    (format!("(1 << {k})"), k as f64 + 2.0)
                }
            };
            if bits <= max_bits {
                return (paren_literal(&text), bits);
            }
        }
        let v = self.rng.range(0, 9);
        (v.to_string(), 5.0)
    }

    pub(super) fn int_leaf(&mut self, sc: &Scope, max_bits: f64) -> (String, f64) {
        let vars = sc.of(Ty::Int, max_bits);
        if !vars.is_empty() && self.rng.chance(60) {
            let v = *self.rng.pick(&vars);
            return (v.name.clone(), v.bound);
        }
        self.int_literal(max_bits)
    }

    /// A divisor that cannot be zero, and its bound.
    pub(super) fn divisor(&mut self, sc: &Scope, depth: u32, max_bits: f64) -> (String, f64) {
        match self.rng.below(4) {
            0 => {
                let (e, b) = self.int(sc, depth, max_bits);
                (format!("({e} bitOr: 1)"), b)
            }
            1 => {
                let (e, b) = self.int(sc, depth, max_bits - 1.0);
                (format!("({e} abs + 1)"), b + 1.0)
            }
            2 => {
                let v = *self.rng.pick(&[3, 7, -5, 10, 1000, 65536, -1, 1, 2]);
                (paren_literal(&v.to_string()), 18.0)
            }
            _ => {
                let v = *self.rng.pick(&[
                    "4611686018427387904",
                    "9223372036854775807",
                    "-4611686018427387904",
                    "18446744073709551616",
                    "1000000007",
                ]);
                (paren_literal(v), bits_of(v))
            }
        }
    }

    /// An integer expression of at most `max_bits` bits, and its bound.
    pub(super) fn int(&mut self, sc: &Scope, depth: u32, max_bits: f64) -> (String, f64) {
        let (e, bits) = self.int_unchecked(sc, depth, max_bits);
        if bits <= max_bits {
            return (e, bits);
        }
        // A term of fixed size (a string's length, a literal divisor) was
        // larger than the room left.
        let (e, bits) = self.int_leaf(sc, max_bits);
        if bits <= max_bits { (e, bits) } else { ("1".to_string(), 2.0) }
    }

    /// An integer expression whose bound may exceed `max_bits` by a term of
    /// fixed size.
    fn int_unchecked(&mut self, sc: &Scope, depth: u32, max_bits: f64) -> (String, f64) {
        if depth == 0 || max_bits < 8.0 || self.rng.chance(25) {
            return self.int_leaf(sc, max_bits);
        }
        let d = depth - 1;
        match self.rng.below(24) {
            0..=2 => {
                let op = *self.rng.pick(&["+", "-"]);
                let (a, ba) = self.int(sc, d, max_bits - 1.0);
                let (b, bb) = self.int(sc, d, max_bits - 1.0);
                (format!("({a} {op} {b})"), ba.max(bb) + 1.0)
            }
            3 | 4 => {
                let (a, ba) = self.int(sc, d, max_bits / 2.0);
                let (b, bb) = self.int(sc, d, max_bits / 2.0);
                (format!("({a} * {b})"), ba + bb)
            }
            5 | 6 => {
                let op = *self.rng.pick(&["/", "rem:", "%"]);
                let (a, ba) = self.int(sc, d, max_bits - 1.0);
                let (b, bb) = self.divisor(sc, d, max_bits - 1.0);
                let bound = if op == "%" { ba.max(bb) + 1.0 } else { ba };
                (format!("({a} {op} {b})"), bound)
            }
            7 | 8 => {
                let op = *self.rng.pick(&["bitAnd:", "bitOr:", "bitXor:", "&"]);
                let (a, ba) = self.int(sc, d, max_bits);
                let (b, bb) = self.int(sc, d, max_bits);
                (format!("({a} {op} {b})"), ba.max(bb))
            }
            9 => {
                let (a, ba) = self.int(sc, d, max_bits - 2.0);
                let room = (max_bits - ba).clamp(0.0, 66.0) as i64;
                let k = self.rng.range(0, room);
                (format!("({a} << {k})"), ba + k as f64)
            }
            10 => {
                let (a, ba) = self.int(sc, d, max_bits);
                let k = self.rng.range(0, 70);
                (format!("({a} >> {k})"), ba)
            }
            11 => {
                let op = *self.rng.pick(&["negated", "abs"]);
                let (a, ba) = self.int(sc, d, max_bits - 1.0);
                (format!("{a} {op}"), ba + 1.0)
            }
            12 => {
                let op = *self.rng.pick(&["max:", "min:"]);
                let (a, ba) = self.int(sc, d, max_bits);
                let (b, bb) = self.int(sc, d, max_bits);
                (format!("({a} {op} {b})"), ba.max(bb))
            }
            13 => {
                let c = self.boolean(sc, d);
                let (a, ba) = self.int(sc, d, max_bits);
                let (b, bb) = self.int(sc, d, max_bits);
                (format!("({c} ifTrue: [ {a} ] ifFalse: [ {b} ])"), ba.max(bb))
            }
            14 => {
                let mag = (2f64.powf(max_bits - 2.0)).min(MAX_MAG);
                let (x, _) = self.dbl(sc, d, mag);
                let op = *self.rng.pick(&["round", "floor", "asInteger"]);
                (format!("{x} {op}"), mag.log2() + 2.0)
            }
            15 => {
                // Integer / Double is integer division in SOM.
                let (a, ba) = self.int(sc, d, max_bits.min(50.0));
                let (x, _) = self.dbl(sc, d, 1.0e6);
                (format!("({a} / ({x} abs + 1.0))"), ba + 1.0)
            }
            16 => {
                let s = self.string(sc, d);
                (format!("{s} length"), 20.0)
            }
            17 | 18 if sc.helpers > 0 => {
                let i = self.rng.below(sc.helpers as u64) as usize;
                let (selector, args, arg_bits, bits) = {
                    let h = &self.helpers[i];
                    (h.selector.clone(), h.args, h.arg_bits, h.bits)
                };
                if bits > max_bits {
                    return self.int_leaf(sc, max_bits);
                }
                let (a, _) = self.int(sc, d, arg_bits);
                if args == 1 {
                    (format!("(self {selector} {a})"), bits)
                } else {
                    let (b, _) = self.int(sc, d, arg_bits);
                    let mut parts = selector.split(':');
                    let (k1, k2) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    (format!("(self {k1}: {a} {k2}: {b})"), bits)
                }
            }
            19 if sc.objects && max_bits >= VAL_BITS => {
                let objs = sc.of(Ty::Obj, f64::MAX);
                if objs.is_empty() {
                    return self.int_leaf(sc, max_bits);
                }
                let o = self.rng.pick(&objs).name.clone();
                let (a, _) = self.int(sc, d, VAL_ARG_BITS);
                (format!("({o} val: {a})"), VAL_BITS)
            }
            20 => {
                let blocks = sc.of(Ty::Blk, max_bits);
                if let Some(v) = blocks.first().map(|_| self.rng.pick(&blocks)) {
                    let (name, bound) = (v.name.clone(), v.bound);
                    let (a, _) = self.int(sc, d, 40.0);
                    return (format!("({name} value: {a})"), bound);
                }
                // An inline block, valued at once.
                let x = self.fresh("x");
                let mut inner = sc.clone();
                inner.add(&x, Ty::Int, 40.0, false);
                let (a, _) = self.int(sc, d, 40.0);
                let (body, bb) = self.int(&inner, d, max_bits);
                (format!("([ :{x} | {body} ] value: {a})"), bb)
            }
            21 => {
                let (a, ba) = self.int(sc, d, max_bits);
                let (b, bb) = self.int(sc, d, max_bits);
                let (c, bc) = self.int(sc, d, max_bits);
                (format!("((Array with: {a} with: {b} with: {c}) at: {})", self.rng.range(1, 3)), ba.max(bb).max(bc))
            }
            _ => {
                let (a, ba) = self.int(sc, d, max_bits - 1.0);
                let (b, bb) = self.int(sc, d, max_bits - 1.0);
                (format!("({a} + {b})"), ba.max(bb) + 1.0)
            }
        }
    }

    pub(super) fn dbl_leaf(&mut self, sc: &Scope, max_mag: f64) -> String {
        let vars = sc.of(Ty::Dbl, max_mag);
        if !vars.is_empty() && self.rng.chance(50) {
            return self.rng.pick(&vars).name.clone();
        }
        for _ in 0..4 {
            let lit = *self.rng.pick(DOUBLES);
            let v: f64 = lit.parse().unwrap_or(0.0);
            if v.abs() <= max_mag {
                return paren_literal(lit);
            }
        }
        "0.5".to_string()
    }

    /// A double expression of magnitude at most `max_mag`.
    pub(super) fn dbl(&mut self, sc: &Scope, depth: u32, max_mag: f64) -> (String, f64) {
        if depth == 0 || max_mag < 4.0 || self.rng.chance(25) {
            return (self.dbl_leaf(sc, max_mag), max_mag);
        }
        let d = depth - 1;
        let bits = max_mag.log2().floor() - 1.0;
        let text = match self.rng.below(14) {
            0..=2 => {
                let op = *self.rng.pick(&["+", "-"]);
                let (a, _) = self.dbl(sc, d, max_mag / 2.0);
                let (b, _) = self.dbl(sc, d, max_mag / 2.0);
                format!("({a} {op} {b})")
            }
            3 | 4 => {
                let (a, _) = self.dbl(sc, d, max_mag.sqrt());
                let (b, _) = self.dbl(sc, d, max_mag.sqrt());
                format!("({a} * {b})")
            }
            5 => {
                let op = *self.rng.pick(&["/", "%", "//"]);
                let (a, _) = self.dbl(sc, d, max_mag / 2.0);
                let (b, _) = self.dbl(sc, d, max_mag / 2.0);
                format!("({a} {op} ({b} abs + 1.0))")
            }
            6 => {
                let (a, _) = self.int(sc, d, bits);
                format!("{a} asDouble")
            }
            7 => {
                let (a, _) = self.int(sc, d, bits);
                let (b, _) = self.divisor(sc, d, bits);
                format!("({a} // {b})")
            }
            8 => {
                // Integer op Double and Double op Integer coerce.
                let op = *self.rng.pick(&["+", "-", "*"]);
                let split = if op == "*" { max_mag.sqrt() } else { max_mag / 2.0 };
                let (a, _) = self.int(sc, d, split.log2().floor().min(60.0));
                let (b, _) = self.dbl(sc, d, split);
                if self.rng.chance(50) { format!("({a} {op} {b})") } else { format!("({b} {op} {a})") }
            }
            9 => {
                let op = *self.rng.pick(&["abs", "negated"]);
                let (a, _) = self.dbl(sc, d, max_mag);
                format!("{a} {op}")
            }
            10 => {
                let (a, _) = self.dbl(sc, d, max_mag.min(1.0e12));
                format!("{a} abs sqrt")
            }
            11 => {
                let op = *self.rng.pick(&["max:", "min:"]);
                let (a, _) = self.dbl(sc, d, max_mag);
                let (b, _) = self.dbl(sc, d, max_mag);
                format!("({a} {op} {b})")
            }
            12 => {
                let c = self.boolean(sc, d);
                let (a, _) = self.dbl(sc, d, max_mag);
                let (b, _) = self.dbl(sc, d, max_mag);
                format!("({c} ifTrue: [ {a} ] ifFalse: [ {b} ])")
            }
            _ => {
                let (a, _) = self.dbl(sc, d, 1.0e6);
                let op = *self.rng.pick(&["sin", "cos"]);
                format!("{a} {op}")
            }
        };
        (text, max_mag)
    }

    pub(super) fn boolean(&mut self, sc: &Scope, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        let cmp = *self.rng.pick(&["<", ">", "<=", ">=", "=", "~="]);
        match self.rng.below(if depth == 0 { 3 } else { 10 }) {
            0 => {
                let vars = sc.of(Ty::Bool, 0.0);
                if vars.is_empty() {
                    self.rng.pick(&["true", "false"]).to_string()
                } else {
                    self.rng.pick(&vars).name.clone()
                }
            }
            1..=3 => {
                let (a, _) = self.int(sc, d, MAX_BITS);
                let (b, _) = self.int(sc, d, MAX_BITS);
                format!("({a} {cmp} {b})")
            }
            4 => {
                let (a, _) = self.dbl(sc, d, MAX_MAG);
                let (b, _) = self.dbl(sc, d, MAX_MAG);
                format!("({a} {cmp} {b})")
            }
            5 => {
                let (a, _) = self.int(sc, d, 60.0);
                let (b, _) = self.dbl(sc, d, MAX_MAG);
                if self.rng.chance(50) { format!("({a} {cmp} {b})") } else { format!("({b} {cmp} {a})") }
            }
            6 => {
                let op = *self.rng.pick(&["and:", "or:"]);
                let a = self.boolean(sc, d);
                let b = self.boolean(sc, d);
                format!("({a} {op} [ {b} ])")
            }
            7 => {
                let a = self.boolean(sc, d);
                format!("{a} not")
            }
            8 => {
                let (a, _) = self.int(sc, d, MAX_BITS);
                let op = *self.rng.pick(&["even", "odd", "isZero", "negative"]);
                format!("{a} {op}")
            }
            _ => {
                let a = self.string(sc, d);
                let b = self.string(sc, d);
                format!("({a} = {b})")
            }
        }
    }

    pub(super) fn string(&mut self, sc: &Scope, depth: u32) -> String {
        if depth == 0 || self.rng.chance(30) {
            let vars = sc.of(Ty::Str, 0.0);
            if !vars.is_empty() && self.rng.chance(50) {
                return self.rng.pick(&vars).name.clone();
            }
            return self.rng.pick(STRINGS).to_string();
        }
        let d = depth - 1;
        match self.rng.below(5) {
            0 => {
                let a = self.string(sc, d);
                let (b, _) = self.int(sc, d, MAX_BITS);
                format!("({a} + {b})")
            }
            1 => {
                let a = self.string(sc, d);
                let (b, _) = self.dbl(sc, d, MAX_MAG);
                format!("({a} + {b})")
            }
            2 => {
                let a = self.string(sc, d);
                let b = self.string(sc, d);
                format!("({a} concatenate: {b})")
            }
            3 => {
                let (a, _) = self.int(sc, d, MAX_BITS);
                format!("{a} asString")
            }
            _ => {
                let c = self.boolean(sc, d);
                let a = self.string(sc, d);
                format!("({a} + {c})")
            }
        }
    }

    /// An expression of type `ty` that fits a variable of bound `bound`.
    pub(super) fn value_for(&mut self, sc: &Scope, ty: Ty, bound: f64) -> String {
        match ty {
            Ty::Int => {
                let (e, b) = self.int(sc, 3, bound.max(MAX_BITS));
                if b <= bound {
                    e
                } else {
                    let (m, _) = self.modulus(bound);
                    format!("({e} rem: {m})")
                }
            }
            Ty::Dbl => {
                let (e, _) = self.dbl(sc, 3, bound);
                e
            }
            Ty::Bool => self.boolean(sc, 2),
            Ty::Str => {
                // Strings assigned are made of no string variable, so that
                // a loop cannot double one at every iteration.
                let mut sc = sc.clone();
                sc.vars.retain(|v| v.ty != Ty::Str);
                self.string(&sc, 2)
            }
            Ty::Obj => self.new_object(sc),
            Ty::Blk => self.int_block(sc, 40.0, bound),
        }
    }

    /// A positive modulus below `bits` bits.
    pub(super) fn modulus(&mut self, bits: f64) -> (String, f64) {
        let choices: Vec<&str> =
            ["1000000007", "4611686018427387903", "9223372036854775783", "1267650600228229401496703205376", "65521"]
                .into_iter()
                .filter(|m| bits_of(m) <= bits)
                .collect();
        if choices.is_empty() {
            return ("97".to_string(), 8.0);
        }
        let m = *self.rng.pick(&choices);
        (m.to_string(), bits_of(m))
    }

    pub(super) fn new_object(&mut self, sc: &Scope) -> String {
        let i = self.rng.below(self.classes.len() as u64) as usize;
        let class = self.classes[i].0.clone();
        let (a, _) = self.int(sc, 1, 64.0);
        format!("({class} new init: {a})")
    }

    /// A block from Integer to Integer whose answers have at most `bound` bits.
    pub(super) fn int_block(&mut self, sc: &Scope, arg_bits: f64, bound: f64) -> String {
        let x = self.fresh("x");
        let mut inner = sc.clone();
        // A block that values a block variable could value itself.
        inner.vars.retain(|v| v.ty != Ty::Blk);
        inner.add(&x, Ty::Int, arg_bits, false);
        inner.print = false;
        inner.ret = None;
        let (body, b) = self.int(&inner, 3, bound);
        debug_assert!(b <= bound);
        format!("[ :{x} | {body} ]")
    }
}
