//! Heap accounting for tests and benchmarks (feature `alloc-stats`): a global allocator that
//! counts the live heap bytes of the current thread and their peak, so tests running in
//! parallel do not see each other's allocations.
//!
//! It lives here because implementing `GlobalAlloc` takes `unsafe`, and this crate is the only
//! one of the workspace allowed to hold it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// A global allocator that forwards to [`System`] and counts, per thread, the live heap bytes
/// and their peak. Install it with `#[global_allocator]` in a test binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: never panic inside the allocator (e.g. during thread teardown).
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping only touches const-initialized thread-locals and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Live heap bytes of this thread.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Resets this thread's peak to its current live bytes and returns that value.
pub fn reset_peak() -> isize {
    let now = live();
    PEAK.with(|p| p.set(now));
    now
}

/// This thread's peak live bytes since the last [`reset_peak`].
pub fn peak() -> isize {
    PEAK.with(Cell::get)
}
