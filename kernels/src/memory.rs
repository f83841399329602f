//! The allocator settings the kernels need to run at speed: freed memory
//! kept in the process for reuse (the workspace's one process-wide side
//! effect of running on the CPU, set up once by each binary and bench):
//! glibc's `mallopt` ([`keep_freed_memory`]) and, for blocks too large for
//! that, [`KeepLarge`], the binaries' global allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Keep freed memory in the process for reuse (glibc on Linux; elsewhere
/// nothing). Training allocates the same large activation and gradient
/// buffers every step; glibc serves blocks over 32 MiB with fresh `mmap`s and
/// returns them on free, so every step page-faults them in again. This turns
/// `mmap` allocation and heap trimming off. Measured on this project's 2-core
/// machine: Caffe max-pool backward on a `[128, 64, 32, 32]` input 62 ms →
/// 2 ms; `caffenet` training 32 → 47 img/s, peak RSS 1.87 → 2.04 GB and
/// steady over steps; the pinned network 7% faster. (One arena for all
/// threads was tried too: 5–10% slower on the default sweep's small
/// network.) `TRANSFERABILITY_SYSTEM_MALLOC=1` keeps glibc's defaults (and
/// turns [`KeepLarge`]'s cache off). Call it once at program start, before
/// threads allocate.
pub fn keep_freed_memory() {
    if system_malloc() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; valid for any values.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    KEEP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn system_malloc() -> bool {
    std::env::var_os("TRANSFERABILITY_SYSTEM_MALLOC").is_some()
}

/// Whether [`KeepLarge`] keeps blocks ([`keep_freed_memory`] turns it on).
static KEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
fn mapped(layout: Layout) -> Option<usize> {
    let ours = cfg!(target_os = "linux") && layout.size() >= LARGE && layout.align() <= PAGE && KEEP.load(std::sync::atomic::Ordering::Relaxed);
    ours.then(|| layout.size().next_multiple_of(PAGE))
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
// allocation and at free: `KEEP` is set once, before the binary allocates
// large blocks, and never cleared).
unsafe impl GlobalAlloc for KeepLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match mapped(layout) {
            Some(bytes) => kept().take(bytes).unwrap_or_else(|| map(bytes)),
            // SAFETY: the caller's contract (non-zero size).
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match mapped(layout) {
            Some(bytes) => match kept().take(bytes) {
                Some(p) => {
                    // SAFETY: the block holds `bytes` bytes.
                    unsafe { p.write_bytes(0, layout.size()) };
                    p
                }
                None => map(bytes),
            },
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
        if mapped(layout).is_none() && mapped(new).is_none() {
            // SAFETY: as above.
            return unsafe { System.realloc(ptr, layout, new_size) };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, because the list of kept blocks is process-wide.
    #[test]
    fn large_blocks_are_reused_zeroed_where_asked_and_bounded() {
        KEEP.store(true, std::sync::atomic::Ordering::Relaxed);
        let a = KeepLarge;
        let big = Layout::from_size_align(LARGE + 100, 64).unwrap();
        let other = Layout::from_size_align(LARGE + 3 * PAGE, 64).unwrap();
        // SAFETY: non-zero layouts, each block freed once with its layout.
        unsafe {
            let p = a.alloc(big);
            assert_eq!(p as usize % PAGE, 0);
            p.write_bytes(7, big.size());
            a.dealloc(p, big);
            // another size does not get it; the same size in pages does, zeroed where asked
            let q = a.alloc(other);
            assert_ne!(q, p);
            let same_pages = Layout::from_size_align(LARGE + 200, 8).unwrap();
            let r = a.alloc_zeroed(same_pages);
            assert_eq!(r, p, "the freed block of that many pages is handed out again");
            assert!(std::slice::from_raw_parts(r, same_pages.size()).iter().all(|b| *b == 0), "alloc_zeroed zeroes a kept block");
            r.write_bytes(9, same_pages.size());
            // realloc keeps the contents
            let s = a.realloc(r, same_pages, other.size());
            assert!(std::slice::from_raw_parts(s, same_pages.size()).iter().all(|b| *b == 9));
            a.dealloc(s, other);
            a.dealloc(q, other);
            // a smaller block is the system's, never kept
            let small = Layout::from_size_align(LARGE - 1, 8).unwrap();
            let t = a.alloc(small);
            t.write_bytes(1, small.size());
            a.dealloc(t, small);
            let k = kept();
            assert!(k.blocks[..k.len].iter().all(|b| b.1 >= LARGE && b.0 != t as usize));
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
}
