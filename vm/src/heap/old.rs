//! Old space: non-moving, made of 1 MiB chunks (one chunk per large
//! object). Allocation bumps through the current chunk, then reuses free
//! cells that the last sweep found: exact-size lists for small cells, first
//! fit with splitting for the rest.

use crate::object::{FLAG_MARK, Format, HEADER_WORDS, header_bits};
use crate::value::Value;

const CHUNK_WORDS: usize = 128 * 1024;
/// Cells up to this many words (header included) have exact-size lists.
const SMALL_LIMIT: usize = 64;

struct Chunk {
    memory: Box<[u64]>,
    /// Words in use from the start (the walkable part).
    top: usize,
    /// A chunk holding one large object.
    large: bool,
}

impl Chunk {
    fn start(&self) -> usize {
        self.memory.as_ptr() as usize
    }
}

pub(super) struct OldSpace {
    chunks: Vec<Chunk>,
    small: Vec<Vec<usize>>,
    large_free: Vec<(usize, usize)>,
    used_words: usize,
}

/// Writes a free-cell header of `words` words (header included) at `addr`.
fn make_free(addr: usize, words: usize) {
    let cell = Value::from_addr(addr);
    cell.set_class_word(Value::from_bits(0));
    cell.set_header_bits(header_bits(Format::Free, 0, words - HEADER_WORDS));
}

impl OldSpace {
    pub(super) fn new() -> OldSpace {
        OldSpace { chunks: Vec::new(), small: vec![Vec::new(); SMALL_LIMIT + 1], large_free: Vec::new(), used_words: 0 }
    }

    pub(super) fn used_bytes(&self) -> usize {
        self.used_words * 8
    }

    /// Whether `addr` lies in old space (for the verifier).
    pub(super) fn contains(&self, addr: usize) -> bool {
        self.chunks.iter().any(|c| addr >= c.start() && addr < c.start() + c.top * 8)
    }

    /// A cell of `words` words (header included), or `None` when memory is
    /// exhausted.
    pub(super) fn alloc(&mut self, words: usize) -> Option<usize> {
        let words = words.max(HEADER_WORDS);
        let addr = self.alloc_cell(words)?;
        self.used_words += words;
        Some(addr)
    }

    fn alloc_cell(&mut self, words: usize) -> Option<usize> {
        if words <= SMALL_LIMIT
            && let Some(addr) = self.small[words].pop()
        {
            return Some(addr);
        }
        if words > CHUNK_WORDS / 4 {
            return self.alloc_large_chunk(words);
        }
        if let Some(chunk) = self.chunks.iter_mut().rev().find(|c| !c.large)
            && chunk.top + words <= chunk.memory.len()
        {
            let addr = chunk.start() + chunk.top * 8;
            chunk.top += words;
            return Some(addr);
        }
        if let Some(i) = self.large_free.iter().position(|&(_, w)| w == words || w >= words + HEADER_WORDS) {
            let (addr, w) = self.large_free.swap_remove(i);
            if w > words {
                self.free_cell(addr + words * 8, w - words);
            }
            return Some(addr);
        }
        let mut memory = Vec::new();
        memory.try_reserve_exact(CHUNK_WORDS).ok()?;
        memory.resize(CHUNK_WORDS, 0u64);
        self.chunks.push(Chunk { memory: memory.into_boxed_slice(), top: words, large: false });
        self.chunks.last().map(Chunk::start)
    }

    fn alloc_large_chunk(&mut self, words: usize) -> Option<usize> {
        let mut memory = Vec::new();
        memory.try_reserve_exact(words).ok()?;
        memory.resize(words, 0u64);
        self.chunks.push(Chunk { memory: memory.into_boxed_slice(), top: words, large: true });
        self.chunks.last().map(Chunk::start)
    }

    fn free_cell(&mut self, addr: usize, words: usize) {
        make_free(addr, words);
        if words <= SMALL_LIMIT {
            self.small[words].push(addr);
        } else {
            self.large_free.push((addr, words));
        }
    }

    /// Frees every unmarked object, clears the marks, coalesces free
    /// neighbours and rebuilds the free lists.
    pub(super) fn sweep(&mut self) {
        for list in &mut self.small {
            list.clear();
        }
        self.large_free.clear();
        let mut used = 0;
        let mut runs: Vec<(usize, usize)> = Vec::new();
        self.chunks.retain(|chunk| {
            if chunk.large {
                let obj = Value::from_addr(chunk.start());
                if obj.flags() & FLAG_MARK != 0 {
                    obj.set_header_bits(obj.header_bits() & !FLAG_MARK);
                    used += chunk.top;
                    return true;
                }
                return false;
            }
            let mut addr = chunk.start();
            let end = chunk.start() + chunk.top * 8;
            let mut run: Option<(usize, usize)> = None;
            while addr < end {
                let obj = Value::from_addr(addr);
                let words = obj.total_words();
                let live = obj.format() != Format::Free && obj.flags() & FLAG_MARK != 0;
                if live {
                    obj.set_header_bits(obj.header_bits() & !FLAG_MARK);
                    used += words;
                    if let Some(r) = run.take() {
                        runs.push(r);
                    }
                } else {
                    run = Some(match run {
                        Some((start, w)) => (start, w + words),
                        None => (addr, words),
                    });
                }
                addr += words * 8;
            }
            if let Some(r) = run {
                runs.push(r);
            }
            true
        });
        for (addr, words) in runs {
            self.free_cell(addr, words);
        }
        self.used_words = used;
    }

    /// Calls `f` on every object (not free cells) of old space.
    pub(super) fn for_each_object(&self, mut f: impl FnMut(Value)) {
        for chunk in &self.chunks {
            let mut addr = chunk.start();
            let end = chunk.start() + chunk.top * 8;
            while addr < end {
                let obj = Value::from_addr(addr);
                let words = obj.total_words();
                if obj.format() != Format::Free {
                    f(obj);
                }
                addr += words * 8;
            }
        }
    }
}
