//! The allocator settings the kernels need to run at speed: freed memory
//! kept in the process for reuse (the workspace's one process-wide side
//! effect of running on the CPU, set up once by each binary and bench):
//! glibc's `mallopt` ([`keep_freed_memory`]), which reaches only the main
//! thread's heap, and [`KeepLarge`], the binaries' global allocator, which
//! keeps blocks of 2 MiB and more on every thread.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// Keep freed memory in the process for reuse (glibc's settings on glibc
/// Linux; [`KeepLarge`]'s keeping on any Linux). Training allocates the
/// same large activation and gradient buffers every step; glibc serves
/// blocks over 32 MiB with fresh `mmap`s and returns them on free, so every step page-faults them in again. This turns
/// `mmap` allocation and heap trimming off. Measured on this project's 2-core
/// machine: Caffe max-pool backward on a `[128, 64, 32, 32]` input 62 ms →
/// 2 ms; `caffenet` training 32 → 47 img/s, peak RSS 1.87 → 2.04 GB and
/// steady over steps; the pinned network 7% faster. (One arena for all
/// threads was tried too: 5–10% slower on the default sweep's small
/// network.) `TRANSFERABILITY_SYSTEM_MALLOC=1` keeps glibc's defaults (and
/// turns [`KeepLarge`]'s keeping off). Call it first thing in `main`:
/// where a block of [`LARGE`] bytes or more was allocated before, it
/// leaves [`KeepLarge`] off for good (that block is the system's and must
/// go back to it) and returns false.
pub fn keep_freed_memory() -> bool {
    if system_malloc() {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; valid for any values.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    turn_on(&KEEP)
}

/// Turns `state` on unless it is decided already; whether it is on.
fn turn_on(state: &AtomicU8) -> bool {
    matches!(state.compare_exchange(UNDECIDED, ON, Ordering::Relaxed, Ordering::Relaxed), Ok(_) | Err(ON))
}

/// Whether `state` is on, deciding it off where it was undecided.
fn on_or_off(state: &AtomicU8) -> bool {
    match state.compare_exchange(UNDECIDED, OFF, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => false,
        Err(now) => now == ON,
    }
}

fn system_malloc() -> bool {
    std::env::var_os("TRANSFERABILITY_SYSTEM_MALLOC").is_some()
}

/// Whether [`KeepLarge`] maps and keeps large blocks: [`UNDECIDED`] until
/// [`keep_freed_memory`] turns it [`ON`] or a large block goes to the system
/// first ([`OFF`]); never changed after that, so a block goes back to the
/// allocator it came from.
static KEEP: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

/// Blocks of at least this many bytes are [`KeepLarge`]'s.
pub const LARGE: usize = 2 << 20;
/// At most this many freed large blocks are kept ...
const SLOTS: usize = 256;
/// ... holding at most this many bytes; the oldest goes back to the system
/// to make room.
const KEPT_BYTES: usize = 4 << 30;

/// The system allocator for blocks under [`LARGE`] bytes; larger ones
/// mapped from the kernel directly and, when freed, kept and handed to the
/// next request of the same size in pages (zeroed again where the request
/// asks for zeros).
///
/// Why: [`keep_freed_memory`]'s `mallopt` reaches only glibc's main heap.
/// A thread other than the main one allocates from its own arena, made of
/// heaps of at most 64 MiB: glibc serves a larger block there with an
/// `mmap` whatever `M_MMAP_MAX` says and unmaps it on free, and it maps a
/// new heap for a block that does not fit the others and unmaps the heap
/// once it is empty. A training job runs on a thread of its own pool, so
/// `caffenet`'s activations and gradients (2–150 MB) were mapped,
/// page-faulted in and unmapped on every step: 140 `munmap` calls of ~4 ms
/// in a 4-step run, ~10% of its time in page faults and the TLB shootdowns
/// of the unmaps (`perf`, Zen 3).
///
/// Training requests the same sizes every step, so a kept block of the
/// same size is the common case; at most [`SLOTS`] blocks and
/// [`KEPT_BYTES`] bytes are kept (the oldest is unmapped to make room).
/// Measured (throughput bench, `caffenet` at batch 128 on two threads, the
/// 2-core Zen 3): 21.1–24.1 → 28.1–31.6 img/s in training over three
/// alternating runs; peak RSS 1.98 → 2.40 GB over 7 steps.
/// Until [`keep_freed_memory`] has run (or with
/// `TRANSFERABILITY_SYSTEM_MALLOC`), off Linux and for alignments above a
/// page, every block is the system allocator's.
pub struct KeepLarge;

/// The page size blocks are mapped in.
const PAGE: usize = 4096;

/// Freed large blocks: `(address, bytes mapped)`, oldest first, and their bytes.
struct Kept {
    blocks: [(usize, usize); SLOTS],
    len: usize,
    bytes: usize,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { blocks: [(0, 0); SLOTS], len: 0, bytes: 0 });

impl Kept {
    /// Takes the newest kept block of `mapped` bytes.
    fn take(&mut self, mapped: usize) -> Option<*mut u8> {
        let i = self.blocks[..self.len].iter().rposition(|&(_, size)| size == mapped)?;
        let (at, size) = self.blocks[i];
        self.blocks.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.bytes -= size;
        Some(at as *mut u8)
    }

    /// Keeps block `at` of `mapped` bytes; writes the blocks to unmap to
    /// make room (the oldest, or this one where it alone is too large)
    /// into `out` and returns how many.
    fn keep(&mut self, at: usize, mapped: usize, out: &mut [(usize, usize); SLOTS]) -> usize {
        if mapped > KEPT_BYTES {
            out[0] = (at, mapped);
            return 1;
        }
        let mut n = 0;
        while self.len == SLOTS || self.bytes + mapped > KEPT_BYTES {
            out[n] = self.blocks[0];
            n += 1;
            self.bytes -= self.blocks[0].1;
            self.blocks.copy_within(1..self.len, 0);
            self.len -= 1;
        }
        self.blocks[self.len] = (at, mapped);
        self.len += 1;
        self.bytes += mapped;
        n
    }
}

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    // the data is a plain list, consistent at every unlock: a panic elsewhere cannot break it
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bytes a block of `layout` is mapped with, where it is one of ours.
/// The first large layout asked about before [`keep_freed_memory`] turns
/// the keeping off for good.
fn mapped(layout: Layout) -> Option<usize> {
    if !(cfg!(target_os = "linux") && layout.size() >= LARGE && layout.align() <= PAGE) {
        return None;
    }
    on_or_off(&KEEP).then(|| layout.size().next_multiple_of(PAGE))
}

/// A fresh mapping of `bytes` (zeros), or null.
fn map(bytes: usize) -> *mut u8 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: an anonymous private mapping touches no existing memory.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p.cast() }
    }
    #[cfg(not(target_os = "linux"))]
    unreachable!("`mapped` is none off Linux ({bytes} bytes)")
}

/// Unmaps the blocks `(address, bytes)`.
fn unmap(blocks: &[(usize, usize)]) {
    for &(at, bytes) in blocks {
        #[cfg(target_os = "linux")]
        // SAFETY: each block is a whole mapping of ours that nothing uses any more.
        unsafe {
            libc::munmap(at as *mut libc::c_void, bytes);
        }
        #[cfg(not(target_os = "linux"))]
        unreachable!("`mapped` is none off Linux ({at:#x}, {bytes} bytes)");
    }
}

// SAFETY: a block of a layout that `mapped` calls ours is a whole mapping of
// at least its size, page-aligned (so aligned for the layout), and is handed
// out once: a kept block leaves the list before it is returned and joins it
// only when its owner frees it. Every other block is `System`'s, and goes
// back to `System` (`mapped` gives the same answer for a layout at
// allocation and at free: `KEEP` leaves `UNDECIDED` once, before the first
// large block is allocated, and never changes again).
unsafe impl GlobalAlloc for KeepLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match mapped(layout) {
            Some(bytes) => {
                let kept = kept().take(bytes);
                kept.unwrap_or_else(|| map(bytes))
            }
            // SAFETY: the caller's contract (non-zero size).
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match mapped(layout) {
            Some(bytes) => {
                // (the lock is released before the zeroing)
                let kept = kept().take(bytes);
                match kept {
                    Some(p) => {
                        // SAFETY: the block holds `bytes` bytes.
                        unsafe { p.write_bytes(0, layout.size()) };
                        p
                    }
                    None => map(bytes),
                }
            }
            // SAFETY: the caller's contract.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match mapped(layout) {
            Some(bytes) => {
                let mut out = [(0, 0); SLOTS];
                let n = kept().keep(ptr as usize, bytes, &mut out);
                unmap(&out[..n]);
            }
            // SAFETY: the caller's contract: `ptr` came from `System` with `layout`.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract: the new layout is valid.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (mapped(layout), mapped(new)) {
            // SAFETY: as above.
            (None, None) => return unsafe { System.realloc(ptr, layout, new_size) },
            (Some(a), Some(b)) if a == b => return ptr,
            _ => {}
        }
        // SAFETY: as above; the copy is within both blocks.
        unsafe {
            let p = self.alloc(new);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn is_kept(p: *mut u8, bytes: usize) -> bool {
        let k = kept();
        k.blocks[..k.len].contains(&(p as usize, bytes))
    }

    /// One test, because the list of kept blocks is process-wide.
    #[test]
    fn large_blocks_are_kept_reused_zeroed_where_asked_and_bounded() {
        assert!(keep_freed_memory() || system_malloc(), "nothing large was allocated through it before");
        if system_malloc() {
            return;
        }
        let a = KeepLarge;
        let big = Layout::from_size_align(LARGE + 100, 64).unwrap();
        let pages = (LARGE + 100).next_multiple_of(PAGE);
        let other = Layout::from_size_align(LARGE + 3 * PAGE, 64).unwrap();
        // SAFETY: non-zero layouts, each block freed once with its layout.
        unsafe {
            let p = a.alloc(big);
            assert_eq!(p as usize % PAGE, 0);
            p.write_bytes(7, big.size());
            a.dealloc(p, big);
            assert!(is_kept(p, pages), "a freed large block is kept, not unmapped");
            // another size does not get it; the same size in pages does, contents and all
            let q = a.alloc(other);
            assert_ne!(q, p);
            let same_pages = Layout::from_size_align(LARGE + 200, 8).unwrap();
            let r = a.alloc(same_pages);
            assert_eq!(r, p, "the kept block of that many pages is handed out again");
            assert!(!is_kept(p, pages), "and leaves the list");
            assert!(std::slice::from_raw_parts(r, big.size()).iter().all(|b| *b == 7), "the same memory, not a fresh mapping");
            a.dealloc(r, same_pages);
            // zeroed where asked
            let r = a.alloc_zeroed(big);
            assert_eq!(r, p);
            assert!(std::slice::from_raw_parts(r, big.size()).iter().all(|b| *b == 0), "alloc_zeroed zeroes a kept block");
            r.write_bytes(9, big.size());
            // realloc within the same pages keeps the block; across sizes and the threshold, the contents
            assert_eq!(a.realloc(r, big, LARGE + 300), r);
            let s = a.realloc(r, Layout::from_size_align(LARGE + 300, 64).unwrap(), other.size());
            assert!(std::slice::from_raw_parts(s, big.size()).iter().all(|b| *b == 9));
            let small = Layout::from_size_align(LARGE / 2, 64).unwrap();
            let t = a.realloc(s, other, small.size());
            assert!(std::slice::from_raw_parts(t, small.size()).iter().all(|b| *b == 9));
            assert!(is_kept(s, other.size()), "the large block went back to the list");
            let u = a.realloc(t, small, big.size());
            assert!(std::slice::from_raw_parts(u, small.size()).iter().all(|b| *b == 9));
            a.dealloc(u, big);
            a.dealloc(q, other);
            // a smaller block is the system's, never kept
            let v = a.alloc(small);
            v.write_bytes(1, small.size());
            a.dealloc(v, small);
            let k = kept();
            assert!(k.blocks[..k.len].iter().all(|b| b.1 >= LARGE && b.0 != v as usize));
        }
        // bounded: never more than SLOTS blocks or KEPT_BYTES bytes (addresses here are labels, nothing is mapped)
        let mut k = Kept { blocks: [(0, 0); SLOTS], len: 0, bytes: 0 };
        let mut out = [(0, 0); SLOTS];
        let gib = 1 << 30;
        let mut unmapped = Vec::new();
        for i in 1..=6 {
            let n = k.keep(i, gib, &mut out);
            unmapped.extend_from_slice(&out[..n]);
            assert!(k.bytes <= KEPT_BYTES && k.len <= SLOTS);
        }
        assert_eq!((k.len, unmapped), (4, vec![(1, gib), (2, gib)]), "4 GiB kept, the two oldest unmapped");
        assert_eq!(k.keep(99, KEPT_BYTES + PAGE, &mut out), 1, "a block over the bound alone is unmapped at once");
        assert_eq!((out[0], k.len), ((99, KEPT_BYTES + PAGE), 4));
        for i in 0..2 * SLOTS {
            k.keep(100 + i, LARGE, &mut out);
            assert!(k.len <= SLOTS);
        }
        assert_eq!(k.take(gib), None, "the 1 GiB blocks were unmapped to make room");
        assert_eq!(k.take(LARGE), Some((100 + 2 * SLOTS - 1) as *mut u8), "the newest of a size first");
    }

    /// Once a large block has gone to the system, keeping never turns on
    /// (that block must go back to the system); once on, it stays on.
    #[test]
    fn the_first_large_block_or_the_switch_decides() {
        let state = AtomicU8::new(UNDECIDED);
        assert!(!on_or_off(&state), "a large block before the switch: the system's");
        assert!(!turn_on(&state), "the switch comes too late");
        assert!(!on_or_off(&state));
        let state = AtomicU8::new(UNDECIDED);
        assert!(turn_on(&state) && turn_on(&state));
        assert!(on_or_off(&state) && on_or_off(&state));
    }
}
