//! Object, Class, Array, Block and Method primitives.

use super::{ErrorKind, Prim, arg, receiver};
use crate::layout::*;
use crate::object::Format;
use crate::universe::Universe;
use crate::value::Value;

fn ok_or(r: crate::universe::Result<Value>) -> Prim {
    match r {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// `class`
pub fn class(u: &mut Universe, argc: usize) -> Prim {
    Prim::Ok(u.class_of(receiver(u, argc)))
}

/// `objectSize`: bytes the object occupies (8 for immediates).
pub fn object_size(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    Prim::Ok(Value::small(if r.is_pointer() { (r.total_words() * 8) as i64 } else { 8 }))
}

fn is_number_object(v: Value) -> bool {
    v.is_pointer() && matches!(v.format(), Format::LargeInt | Format::Double)
}

/// Identity as `==` sees it: the same object, two symbols with the same
/// bytes (symbols are values; see `Value::same_symbol`), or two numbers of
/// the same value (numbers are identical by value, whatever their size or
/// boxing, and `1 == 1.0`, as in SOM).
#[inline]
pub fn same(u: &Universe, a: Value, b: Value) -> bool {
    if a == b {
        return true;
    }
    if a.same_symbol(b) {
        return true;
    }
    let numeric = |v: Value| v.is_int() || v.is_small_float() || is_number_object(v);
    if !(numeric(a) && numeric(b)) || (a.is_int() && b.is_int()) {
        return false;
    }
    if let (Some(x), Some(y)) = (u.double_value(a), u.double_value(b)) {
        return x == y;
    }
    match (u.integer_value(a), u.integer_value(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(i), None) => u.double_value(b).is_some_and(|d| num_traits::ToPrimitive::to_f64(&i) == Some(d)),
        (None, Some(i)) => u.double_value(a).is_some_and(|d| num_traits::ToPrimitive::to_f64(&i) == Some(d)),
        (None, None) => false,
    }
}

/// `==`
pub fn identical(u: &mut Universe, argc: usize) -> Prim {
    let same = same(u, receiver(u, argc), arg(u, argc, 0));
    Prim::Ok(u.boolean(same))
}

/// The identity hash of any value.
pub fn identity_hash(v: Value) -> i64 {
    if v.is_pointer() { i64::from(v.identity_hash()) } else { (v.bits() >> 1) as i64 & 0x3fff_ffff }
}

/// `hashcode` (identity)
pub fn hashcode(u: &mut Universe, argc: usize) -> Prim {
    Prim::Ok(Value::small(identity_hash(receiver(u, argc))))
}

/// `inspect`: prints the receiver's class and fields.
pub fn inspect(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let class = u.class_of(r);
    let mut text = format!("a {}", u.class_name(class));
    if r.is_pointer() && r.format() == Format::Fields {
        for (i, name) in u.field_names(class).iter().enumerate() {
            text.push_str(&format!("\n  {name}: {:?}", r.slot(i)));
        }
    }
    eprintln!("{text}");
    Prim::Ok(r)
}

fn field_index(u: &Universe, obj: Value, index: Value) -> Result<usize, Prim> {
    let Some(i) = index.as_int() else { return Err(Prim::Fail) };
    let size = if obj.is_pointer() && obj.format().has_pointers() { obj.size() } else { 0 };
    if i < 1 || i as usize > size {
        let class = u.class_name(u.class_of(obj));
        return Err(Prim::Raise(ErrorKind::Index, format!("Index {i} not valid for {class} with {size} fields.")));
    }
    Ok(i as usize - 1)
}

/// `instVarAt:`
pub fn inst_var_at(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    match field_index(u, r, arg(u, argc, 0)) {
        Ok(i) => Prim::Ok(r.slot(i)),
        Err(p) => p,
    }
}

/// `instVarAt:put:`
pub fn inst_var_at_put(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let v = arg(u, argc, 1);
    match field_index(u, r, arg(u, argc, 0)) {
        Ok(i) => {
            u.heap.store(r, i, v);
            Prim::Ok(r)
        }
        Err(p) => p,
    }
}

fn named_index(u: &Universe, obj: Value, name: Value) -> Result<usize, Prim> {
    let Some(text) = u.string_value(name) else { return Err(Prim::Fail) };
    match u.field_names(u.class_of(obj)).iter().position(|f| *f == text) {
        Some(i) => Ok(i),
        None => Err(Prim::Error(format!("{} has no field named {text}.", u.class_name(u.class_of(obj))))),
    }
}

/// `instVarNamed:`
pub fn inst_var_named(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    match named_index(u, r, arg(u, argc, 0)) {
        Ok(i) => Prim::Ok(r.slot(i)),
        Err(p) => p,
    }
}

/// `instVarNamed:put:`
pub fn inst_var_named_put(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let v = arg(u, argc, 1);
    match named_index(u, r, arg(u, argc, 0)) {
        Ok(i) => {
            u.heap.store(r, i, v);
            Prim::Ok(v)
        }
        Err(p) => p,
    }
}

/// `Class>>name`
pub fn class_name(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    Prim::Ok(r.slot(CLASS_NAME))
}

/// `Class>>new`
pub fn class_new(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    let spec = u.spec(r);
    match spec.format {
        Format::Fields | Format::Array | Format::Bytes | Format::Class if spec.format != Format::Class => {
            let size = if spec.format == Format::Fields { spec.fields } else { 0 };
            ok_or(u.alloc(r, spec.format, size))
        }
        _ => Prim::Error(format!("{} instances cannot be made with new.", u.class_name(r))),
    }
}

/// `Class>>new:` (Array, String and their subclasses)
pub fn class_new_indexed(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let Some(n) = arg(u, argc, 0).as_int() else { return Prim::Fail };
    if !u.is_class(r) {
        return Prim::Fail;
    }
    if n < 0 || n > u32::MAX as i64 {
        return Prim::Error(format!("Cannot make an instance of size {n}."));
    }
    let spec = u.spec(r);
    match spec.format {
        Format::Array => ok_or(u.alloc(r, spec.format, n as usize)),
        // Zero bytes: ASCII.
        Format::Bytes => ok_or(u.alloc(r, Format::Ascii, n as usize)),
        _ => Prim::Error(format!("{} instances are not indexable.", u.class_name(r))),
    }
}

/// `Class>>superclass`
pub fn class_superclass(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    Prim::Ok(r.slot(CLASS_SUPERCLASS))
}

fn array_of(u: &mut Universe, items: &[Value]) -> Prim {
    match u.new_array(items.len()) {
        Ok(a) => {
            for (i, &v) in items.iter().enumerate() {
                a.set_slot_raw(i, v);
            }
            Prim::Ok(a)
        }
        Err(e) => e.into(),
    }
}

/// `Class>>fields`: the names of the instance fields (Symbols).
pub fn class_fields(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    let names = r.slot(CLASS_INSTANCE_FIELDS);
    let items: Vec<Value> = (0..names.size()).map(|i| names.slot(i)).collect();
    array_of(u, &items)
}

/// `Class>>methods`: the methods in definition order.
pub fn class_methods(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    let items = u.methods_of(r);
    array_of(u, &items)
}

/// `Class>>selectors`
pub fn class_selectors(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    let items: Vec<Value> = u.methods_of(r).iter().map(|m| m.slot(METHOD_SELECTOR)).collect();
    array_of(u, &items)
}

/// `Class>>hasMethod:`
pub fn class_has_method(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_class(r) {
        return Prim::Fail;
    }
    let has = u.local_method(r, arg(u, argc, 0)) != u.nil();
    Prim::Ok(u.boolean(has))
}

/// `Class>>removeSelector:`: answers whether there was such a method.
pub fn class_remove_selector(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    let sel = arg(u, argc, 0);
    if !u.is_class(r) || !u.is_symbol(sel) {
        return Prim::Fail;
    }
    match u.remove_method(r, sel) {
        Ok(found) => Prim::Ok(u.boolean(found)),
        Err(e) => e.into(),
    }
}

fn array_index(u: &Universe, argc: usize) -> Result<(Value, usize), Prim> {
    let r = receiver(u, argc);
    let Some(i) = arg(u, argc, 0).as_int() else { return Err(Prim::Fail) };
    if !u.is_array(r) {
        return Err(Prim::Fail);
    }
    if i < 1 || i as usize > r.size() {
        return Err(Prim::Raise(ErrorKind::Index, format!("Index {i} not valid for array of length {}.", r.size())));
    }
    Ok((r, i as usize - 1))
}

/// `Array>>at:`
pub fn array_at(u: &mut Universe, argc: usize) -> Prim {
    match array_index(u, argc) {
        Ok((r, i)) => Prim::Ok(r.slot(i)),
        Err(p) => p,
    }
}

/// `Array>>at:put:`: answers the receiver, as in SOM.
pub fn array_at_put(u: &mut Universe, argc: usize) -> Prim {
    let v = arg(u, argc, 1);
    match array_index(u, argc) {
        Ok((r, i)) => {
            u.heap.store(r, i, v);
            Prim::Ok(r)
        }
        Err(p) => p,
    }
}

/// `Array>>length`
pub fn array_length(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_array(r) {
        return Prim::Fail;
    }
    Prim::Ok(Value::small(r.size() as i64))
}

/// `Block>>numArgs`
pub fn block_num_args(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !(r.is_pointer() && r.format() == Format::Closure) {
        return Prim::Fail;
    }
    let info = r.slot(CLOSURE_CODE).slot(METHOD_INFO).int_value();
    Prim::Ok(Value::small(method_info_counts(info).0 as i64))
}

fn is_method(v: Value) -> bool {
    v.is_pointer() && v.format() == Format::Method
}

/// `signature`: the selector.
pub fn method_signature(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !is_method(r) {
        return Prim::Fail;
    }
    Prim::Ok(r.slot(METHOD_SELECTOR))
}

/// `holder`: the class.
pub fn method_holder(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !is_method(r) {
        return Prim::Fail;
    }
    Prim::Ok(r.slot(METHOD_HOLDER))
}

/// `Exception class>>handles:` (and any class's kind test): whether the
/// argument is an instance of the receiver or of one of its subclasses.
pub fn is_kind_of(u: &mut Universe, argc: usize) -> Prim {
    let class = receiver(u, argc);
    if !u.is_class(class) {
        return Prim::Fail;
    }
    let nil = u.nil();
    let mut c = u.class_of(arg(u, argc, 0));
    while c != nil {
        if c == class {
            return Prim::Ok(u.known.true_);
        }
        c = c.slot(CLASS_SUPERCLASS);
    }
    Prim::Ok(u.known.false_)
}
