//! System primitives: globals, output, time, the collector.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

use super::{Prim, arg};
use crate::image::graph::Sharing;
use crate::universe::{NamespaceId, Universe};
use crate::value::Value;

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The error for a name that is not a Symbol.
pub fn expected_symbol(u: &Universe, v: Value) -> Prim {
    let class = u.class_name(u.class_of(v));
    Prim::Error(format!("Expected instance of 'Symbol' but got instance of '{class}'."))
}

/// `global: #name` (nil when undefined)
pub fn global(u: &mut Universe, argc: usize) -> Prim {
    let name = arg(u, argc, 0);
    if !u.is_symbol(name) {
        return expected_symbol(u, name);
    }
    Prim::Ok(u.global(name).unwrap_or(u.nil()))
}

/// `global: #name put: value`
pub fn global_put(u: &mut Universe, argc: usize) -> Prim {
    let name = arg(u, argc, 0);
    let value = arg(u, argc, 1);
    if !u.is_symbol(name) {
        return expected_symbol(u, name);
    }
    match u.set_global(NamespaceId::PROGRAM, name, value) {
        Ok(()) => Prim::Ok(super::receiver(u, argc)),
        Err(e) => e.into(),
    }
}

/// `hasGlobal: #name`
pub fn has_global(u: &mut Universe, argc: usize) -> Prim {
    if !u.is_symbol(arg(u, argc, 0)) {
        return expected_symbol(u, arg(u, argc, 0));
    }
    let found = u.global(arg(u, argc, 0)).is_some();
    Prim::Ok(u.boolean(found))
}

/// `printString: aString`
pub fn print_string(u: &mut Universe, argc: usize) -> Prim {
    let s = arg(u, argc, 0);
    if !u.is_string(s) {
        return Prim::Fail;
    }
    u.output.write_out(s.bytes());
    Prim::Ok(super::receiver(u, argc))
}

/// `printNewline`
pub fn print_newline(u: &mut Universe, argc: usize) -> Prim {
    u.output.write_out(b"\n");
    Prim::Ok(super::receiver(u, argc))
}

/// `errorPrint: aString`
pub fn error_print(u: &mut Universe, argc: usize) -> Prim {
    let s = arg(u, argc, 0);
    if !u.is_string(s) {
        return Prim::Fail;
    }
    u.output.write_err(s.bytes());
    Prim::Ok(super::receiver(u, argc))
}

/// `errorPrintln: aString`
pub fn error_println(u: &mut Universe, argc: usize) -> Prim {
    let s = arg(u, argc, 0);
    if !u.is_string(s) {
        return Prim::Fail;
    }
    let mut bytes = s.bytes().to_vec();
    bytes.push(b'\n');
    u.output.write_err(&bytes);
    Prim::Ok(super::receiver(u, argc))
}

/// `time`: milliseconds since start.
pub fn time(_u: &mut Universe, _argc: usize) -> Prim {
    Prim::Ok(Value::small(start().elapsed().as_millis() as i64))
}

/// `ticks`: microseconds since start (never 0).
pub fn ticks(_u: &mut Universe, _argc: usize) -> Prim {
    Prim::Ok(Value::small(start().elapsed().as_micros() as i64 + 1))
}

/// `fullGC`: collects everything; answers true.
pub fn full_gc(u: &mut Universe, _argc: usize) -> Prim {
    match u.collect_full() {
        Ok(()) => Prim::Ok(u.boolean(true)),
        Err(e) => e.into(),
    }
}

/// `gcStats`: an Array of collections (young + full), collection time in
/// milliseconds, and bytes allocated.
pub fn gc_stats(u: &mut Universe, _argc: usize) -> Prim {
    let stats = u.gc_stats();
    let values = [
        (stats.young_collections + stats.full_collections) as i64,
        stats.gc_time.as_millis() as i64,
        stats.bytes_allocated as i64,
    ];
    small_int_array(u, &values)
}

/// Where program output goes: standard output and error (buffered), or
/// in-memory buffers for tests.
pub enum Output {
    /// The process's standard streams. Output waits in the buffer at most
    /// [`crate::interrupts::FLUSH_DELAY`]: the first write after a flush
    /// arms the timer, which raises FLUSH for the next safepoint.
    Std(StdOutput),
    /// Captured: standard output, then standard error.
    Captured(Vec<u8>, Vec<u8>),
}

/// Buffered standard output that is flushed in time.
pub struct StdOutput {
    writer: std::io::BufWriter<std::io::Stdout>,
    /// Whether a flush is due (the timer was armed since the last one).
    armed: bool,
    interrupts: std::sync::Arc<crate::interrupts::Interrupts>,
}

impl StdOutput {
    /// Standard output, flushed through `interrupts`' timer.
    pub fn new(interrupts: std::sync::Arc<crate::interrupts::Interrupts>) -> StdOutput {
        StdOutput { writer: std::io::BufWriter::new(std::io::stdout()), armed: false, interrupts }
    }
}

impl Output {
    /// Writes to the program's standard output.
    pub fn write_out(&mut self, bytes: &[u8]) {
        match self {
            Output::Std(w) => {
                let _ = w.writer.write_all(bytes);
                if !w.armed {
                    w.armed = true;
                    w.interrupts.arm_flush();
                }
            }
            Output::Captured(out, _) => out.extend_from_slice(bytes),
        }
    }

    /// Writes to the program's standard error (flushing standard output
    /// first, so the two interleave as written).
    pub fn write_err(&mut self, bytes: &[u8]) {
        match self {
            Output::Std(w) => {
                let _ = w.writer.flush();
                w.armed = false;
                let _ = std::io::stderr().write_all(bytes);
            }
            Output::Captured(_, err) => err.extend_from_slice(bytes),
        }
    }

    /// Flushes standard output.
    pub fn flush(&mut self) {
        if let Output::Std(w) = self {
            let _ = w.writer.flush();
            w.armed = false;
        }
    }
}

fn path_arg(u: &Universe, v: Value) -> Result<std::path::PathBuf, Prim> {
    match u.string_value(v) {
        Some(s) if !s.is_empty() => Ok(std::path::PathBuf::from(s)),
        _ => Err(Prim::Error("Expected a file name (a non-empty String).".into())),
    }
}

/// `saveGraph: anObject to: aPath`: the objects reachable only through
/// the root go in; answers the Array of objects it shares with the rest of
/// the program.
pub fn save_graph(u: &mut Universe, argc: usize) -> Prim {
    save_graph_with(u, argc, false, Sharing::Exclude)
}

/// `saveGraphRoots: anArray to: aPath`: as `saveGraph:to:`, with every
/// element of the Array a root.
pub fn save_graph_roots(u: &mut Universe, argc: usize) -> Prim {
    if !u.is_array(arg(u, argc, 0)) {
        return Prim::Error("saveGraphRoots:to: expects an Array of roots.".into());
    }
    save_graph_with(u, argc, true, Sharing::Exclude)
}

/// `saveGraphCopy: anObject to: aPath`: everything the root reaches goes
/// in (shared objects as copies); answers self.
pub fn save_graph_copy(u: &mut Universe, argc: usize) -> Prim {
    save_graph_with(u, argc, false, Sharing::Copy)
}

fn save_graph_with(u: &mut Universe, argc: usize, several_roots: bool, sharing: Sharing) -> Prim {
    let path = match path_arg(u, arg(u, argc, 1)) {
        Ok(p) => p,
        Err(p) => return p,
    };
    let root = arg(u, argc, 0);
    let shared = match crate::image::graph::save(u, root, several_roots, &path, sharing) {
        Ok(shared) => shared,
        Err(e) => return Prim::Error(format!("Cannot save the object graph: {e}")),
    };
    if sharing == Sharing::Copy {
        return Prim::Ok(super::receiver(u, argc));
    }
    // The shared objects are held by handles across the allocation.
    let mark = u.handle_mark();
    let handles: Vec<_> = shared.iter().map(|&v| u.handle(v)).collect();
    let result = match u.new_array(handles.len()) {
        Ok(array) => {
            for (i, &h) in handles.iter().enumerate() {
                let v = u.get(h);
                u.heap.store(array, i, v);
            }
            Prim::Ok(array)
        }
        Err(e) => e.into(),
    };
    u.release_handles(mark);
    result
}

/// `loadGraph: aPath`
pub fn load_graph(u: &mut Universe, argc: usize) -> Prim {
    let path = match path_arg(u, arg(u, argc, 0)) {
        Ok(p) => p,
        Err(p) => return p,
    };
    match crate::image::graph::load(u, &path, &[]) {
        Ok(root) => Prim::Ok(root),
        Err(e) => Prim::Error(format!("Cannot load the object graph: {e}")),
    }
}

/// `loadGraph: aPath with: sharedObjects`: binds the graph's shared
/// objects to the elements of the Array, by position.
pub fn load_graph_with(u: &mut Universe, argc: usize) -> Prim {
    let path = match path_arg(u, arg(u, argc, 0)) {
        Ok(p) => p,
        Err(p) => return p,
    };
    let array = arg(u, argc, 1);
    if !u.is_array(array) {
        return Prim::Error("loadGraph:with: expects an Array of the shared objects.".into());
    }
    // Read just before loading, which allocates nothing before it binds them.
    let shared: Vec<Value> = (0..array.size()).map(|i| array.slot(i)).collect();
    match crate::image::graph::load(u, &path, &shared) {
        Ok(root) => Prim::Ok(root),
        Err(e) => Prim::Error(format!("Cannot load the object graph: {e}")),
    }
}

/// `imageStats`: images, mapped bytes, resident bytes, written bytes,
/// written image objects, and the process's resident bytes.
pub fn image_stats(u: &mut Universe, _argc: usize) -> Prim {
    let m = crate::image::memory(u);
    let values = [
        m.images as i64,
        m.mapped as i64,
        m.resident as i64,
        m.dirty as i64,
        m.written_objects as i64,
        crate::image::process_resident() as i64,
    ];
    small_int_array(u, &values)
}

/// A new Array of the SmallIntegers `values`.
fn small_int_array(u: &mut Universe, values: &[i64]) -> Prim {
    match u.new_array(values.len()) {
        Ok(a) => {
            for (i, &v) in values.iter().enumerate() {
                a.set_slot_raw(i, Value::small(v));
            }
            Prim::Ok(a)
        }
        Err(e) => e.into(),
    }
}
