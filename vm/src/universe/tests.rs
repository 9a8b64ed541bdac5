//! Tests of the object model, the collector, inline caches and their
//! invalidation.

use super::*;
use crate::compiler::{ClassPath, compile_class_source};
use crate::object::Format;
use crate::runtime::{IcState, InlineCache};

fn universe(stress: bool) -> Universe {
    let mut config = UniverseConfig::default();
    config.heap.nursery_bytes = 64 << 10;
    config.heap.stress = stress;
    config.stack_words = 1 << 16;
    Universe::new(config).expect("kernel installs")
}

/// A linked list of `n` young Arrays `(value next)`, rooted by a handle.
fn list(u: &mut Universe, n: i64) -> Handle {
    let head = u.handle(u.nil());
    for i in 0..n {
        let cell = u.new_array(2).expect("allocates");
        cell.set_slot_raw(0, Value::small(i));
        cell.set_slot_raw(1, u.get(head));
        u.set(head, cell);
    }
    head
}

fn list_sum(u: &Universe, head: Handle) -> i64 {
    let mut sum = 0;
    let mut cell = u.get(head);
    while cell != u.nil() {
        sum += cell.slot(0).int_value();
        cell = cell.slot(1);
    }
    sum
}

#[test]
fn metaclass_structure_is_as_in_som() {
    let u = universe(false);
    let k = &u.known;
    let object_meta = k.object.class_word();
    assert_eq!(object_meta.class_word(), k.metaclass, "Object class class == Metaclass");
    assert_eq!(k.metaclass.class_word().class_word(), k.metaclass, "Metaclass class class == Metaclass");
    assert_eq!(object_meta.slot(CLASS_SUPERCLASS), k.class, "Object class superclass == Class");
    assert_eq!(k.object.slot(CLASS_SUPERCLASS), u.nil());
    assert_eq!(u.class_name(object_meta), "Object class");
    assert_eq!(u.class_of(Value::small(3)), k.integer);
    assert_eq!(u.class_of(Value::char('a')), k.character);
    assert_eq!(u.class_of(Value::small_float(1.5).expect("immediate")), k.double);
}

#[test]
fn young_collections_keep_what_is_reachable_and_update_pointers() {
    let mut u = universe(false);
    let head = list(&mut u, 10_000);
    assert!(u.gc_stats().young_collections > 0, "a 64 KiB nursery fills");
    assert_eq!(list_sum(&u, head), (0..10_000).sum::<i64>());
    u.collect_young().expect("collects");
    assert_eq!(list_sum(&u, head), (0..10_000).sum::<i64>());
    u.verify_heap().expect("heap is consistent");
}

#[test]
fn the_write_barrier_remembers_old_objects_pointing_to_young_ones() {
    let mut u = universe(false);
    let old = u.alloc_old(u.known.array, Format::Array, 1).expect("allocates");
    let h = u.handle(old);
    let young = u.new_string("young").expect("allocates");
    assert!(u.heap.is_young(young));
    u.heap.store(old, 0, young);
    u.collect_young().expect("collects");
    let old = u.get(h);
    let moved = old.slot(0);
    assert!(!u.heap.is_young(moved));
    assert_eq!(u.string_value(moved).as_deref(), Some("young"));
    u.verify_heap().expect("heap is consistent");
}

#[test]
fn full_collections_free_old_garbage() {
    let mut u = universe(false);
    for _ in 0..2_000 {
        u.alloc_old(u.known.array, Format::Array, 100).expect("allocates");
    }
    let before = u.heap.old_bytes();
    u.collect_full().expect("collects");
    let after = u.heap.old_bytes();
    assert!(after + 1_500_000 < before, "{before} -> {after}");
    u.verify_heap().expect("heap is consistent");
    // Freed cells are reused.
    let head = list(&mut u, 1_000);
    u.collect_full().expect("collects");
    assert_eq!(list_sum(&u, head), (0..1_000).sum::<i64>());
}

#[test]
fn stress_mode_collects_at_every_allocation_and_verifies() {
    let mut u = universe(true);
    let before = u.gc_stats().young_collections;
    let head = list(&mut u, 300);
    assert!(u.gc_stats().young_collections >= before + 300);
    assert_eq!(list_sum(&u, head), (0..300).sum::<i64>());
}

#[test]
fn large_integers_and_doubles_round_trip() {
    let mut u = universe(false);
    let big: num_bigint::BigInt = "-123456789012345678901234567890".parse().expect("parses");
    let v = u.new_integer(&big).expect("allocates");
    assert!(u.is_large_int(v));
    assert_eq!(u.integer_value(v), Some(big));
    let small = u.new_integer(&num_bigint::BigInt::from(42)).expect("allocates");
    assert_eq!(small, Value::small(42));
    let boxed = u.new_double(1e300).expect("allocates");
    assert!(boxed.is_pointer());
    assert_eq!(u.double_value(boxed), Some(1e300));
}

#[test]
fn inline_cache_states() {
    let u = universe(false);
    let k = &u.known;
    let mut ic = InlineCache::new_for_tests(u.nil());
    assert_eq!(ic.state(), IcState::Empty);
    ic.record(k.integer, k.object, 0, 7);
    assert_eq!(ic.state(), IcState::Monomorphic);
    assert_eq!(ic.find(k.integer), Some((k.object, 7)), "the method with its runtime record");
    assert_eq!(ic.find(k.double), None);
    for class in [k.double, k.string, k.array] {
        ic.record(class, k.object, 0, 0);
    }
    assert_eq!(ic.state(), IcState::Polymorphic);
    ic.record(k.symbol, k.object, 0, 0);
    assert_eq!(ic.state(), IcState::Megamorphic);
    assert_eq!(ic.find(k.integer), None, "megamorphic sites use the global cache");
    ic.clear();
    assert_eq!(ic.state(), IcState::Empty);
}

#[test]
fn method_changes_invalidate_lookups_and_caches() {
    let mut u = universe(false);
    let cp = ClassPath::new(vec![]);
    let compiled = compile_class_source("A.som", "A = ( m = ( ^1 ) )", None, &cp).expect("compiles");
    let class = u.install_class(&compiled, NamespaceId::PROGRAM).expect("installs");
    let m = u.intern("m").expect("interns");
    let first = u.lookup(class, m);
    assert_ne!(first, u.nil());
    let rt = u.runtime_index(first);
    u.runtimes[rt].ics = vec![InlineCache::new_for_tests(u.nil())].into_boxed_slice();
    u.runtimes[rt].ics[0].record(class, first, 0, 0);
    let recompiled = compile_class_source("A.som", "A = ( m = ( ^2 ) n = ( ^3 ) )", None, &cp).expect("compiles");
    u.install_class(&recompiled, NamespaceId::PROGRAM).expect("installs");
    let second = u.lookup(class, m);
    assert_ne!(second, first, "the lookup cache was flushed");
    assert_eq!(u.runtimes[rt].ics[0].state(), IcState::Empty, "inline caches were cleared");
    assert!(u.remove_method(class, m).expect("removes"));
    assert_eq!(u.lookup(class, m), u.nil());
}

#[test]
fn symbols_with_equal_bytes_are_identical() {
    let mut u = universe(false);
    let cp = ClassPath::new(vec![]);
    let compiled = compile_class_source("A.som", "A = ( foo: x = ( ^x ) )", None, &cp).expect("compiles");
    let class = u.install_class(&compiled, NamespaceId::PROGRAM).expect("installs");
    let interned = u.intern("foo:").expect("interns");
    // A second symbol object with the same bytes, as a mapped image holds.
    let other = u.alloc_old(u.known.symbol, Format::Symbol, 4).expect("allocates");
    other.bytes_mut().copy_from_slice(b"foo:");
    other.set_identity_hash(crate::object::symbol_hash(b"foo:"));
    assert_ne!(other, interned);
    assert!(other.same_symbol(interned));
    assert!(crate::primitives::same(&u, other, interned), "== answers true");
    assert_eq!(other.identity_hash(), interned.identity_hash(), "identityHash agrees with ==");
    assert_ne!(u.lookup(class, other), u.nil(), "lookup finds the method by either symbol");
    let bar = u.intern("bar:").expect("interns");
    assert!(!bar.same_symbol(interned));
    let string = u.new_old_string("foo:").expect("allocates");
    assert!(!crate::primitives::same(&u, string, interned), "a String is not its Symbol");
}

#[test]
fn the_kernel_image_maps_back_into_a_working_universe() {
    let bytes: &'static [u8] = Box::leak(crate::image::build_kernel_image().expect("builds").into_boxed_slice());
    let report = crate::image::verify::verify_image(bytes, "kernel").expect("verifies");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.methods > 100, "{report:?}");
    let source = crate::image::loader::Source::Bytes(bytes);
    let kernel = crate::image::loader::Prepared::from_source("kernel".into(), source).expect("reads");
    let mut u = Universe::from_kernel_image(UniverseConfig::default(), kernel).expect("maps");
    let k = u.known.clone();
    assert!(u.heap.in_image(k.nil) && u.heap.in_image(k.object) && u.heap.in_image(k.array));
    assert_eq!(k.object.class_word().class_word(), k.metaclass, "Object class class == Metaclass");
    assert_eq!(u.class_name(k.integer), "Integer");
    // The kernel's symbols are found, not made again.
    let before = u.heap.old_bytes();
    let sym = u.intern("println").expect("interns");
    assert!(u.heap.in_image(sym));
    assert_eq!(u.heap.old_bytes(), before);
    let m = u.lookup(k.string, sym);
    assert_ne!(m, u.nil(), "String understands println");
    // Classes compiled against the mapped kernel work as before.
    let cp = ClassPath::new(vec![]);
    let compiled = compile_class_source("A.som", "A = Array ( m = ( ^self size ) )", None, &cp).expect("compiles");
    let class = u.install_class(&compiled, NamespaceId::PROGRAM).expect("installs");
    assert_eq!(class.slot(CLASS_SUPERCLASS), k.array);
    u.collect_full().expect("collects");
    assert_eq!(crate::image::memory(&u).written_objects, 0, "installing wrote no image object");
}
