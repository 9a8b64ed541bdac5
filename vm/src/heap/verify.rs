//! Heap verification for the GC stress mode and the tests.

use super::{Heap, Roots};
use crate::object::{FLAG_FORWARDED, Format};
use crate::value::Value;

fn check_pointer(heap: &Heap, v: Value, what: &dyn Fn() -> String) -> Result<(), String> {
    if !v.is_pointer() || heap.in_image(v) {
        return Ok(());
    }
    if heap.is_young(v) {
        let addr = v.addr();
        if addr >= heap.top {
            return Err(format!("{} points into the unused nursery at {addr:#x}", what()));
        }
    } else if !heap.old.contains(v.addr()) {
        return Err(format!("{} points outside the heap: {v:?}", what()));
    }
    let bits = v.header_bits();
    if bits & FLAG_FORWARDED != 0 {
        return Err(format!("{} points to a forwarded object {v:?}", what()));
    }
    if v.format() == Format::Free {
        return Err(format!("{} points to a free cell {v:?}", what()));
    }
    Ok(())
}

pub(super) fn verify(heap: &Heap, roots: &mut dyn Roots, whole_heap: bool) -> Result<(), String> {
    let mut problem = None;
    let mut index = 0;
    roots.visit_roots(&mut |slot| {
        if problem.is_none()
            && let Err(e) = check_pointer(heap, *slot, &|| format!("root {index}"))
        {
            problem = Some(e);
        }
        index += 1;
    });
    if let Some(p) = problem {
        return Err(p);
    }
    for (n, &obj) in heap.image_remembered.iter().enumerate() {
        if obj.format().has_pointers() {
            for i in 0..obj.size() {
                check_pointer(heap, obj.slot(i), &|| format!("slot {i} of written image object {n}"))?;
            }
        }
    }
    if !whole_heap {
        return Ok(());
    }
    let mut result = Ok(());
    heap.old.for_each_object(|obj| {
        if result.is_err() {
            return;
        }
        let class = obj.class_word();
        if !class.is_pointer() {
            result = Err(format!("object {obj:?} has no class"));
            return;
        }
        if let Err(e) = check_pointer(heap, class, &|| format!("class of {obj:?}")) {
            result = Err(e);
            return;
        }
        if obj.format().has_pointers() {
            for i in 0..obj.size() {
                let v = obj.slot(i);
                if let Err(e) = check_pointer(heap, v, &|| format!("slot {i} of {obj:?}")) {
                    result = Err(e);
                    return;
                }
            }
        }
    });
    result
}
