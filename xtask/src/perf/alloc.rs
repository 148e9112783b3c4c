//! A counting global allocator: live and peak heap bytes, for the resources
//! suite, and allocation calls and bytes, for the allocs suite. Counting is
//! off (one relaxed load per call) unless a resources child process or the
//! allocs suite turns it on, so the timed suites are not slowed by it.
//!
//! `unsafe` is allowed here only: implementing `GlobalAlloc` is an unsafe
//! trait by definition, and each method just forwards to the system
//! allocator with the caller's own arguments.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Calls of `alloc`, `alloc_zeroed` and `realloc`: each may reach malloc.
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// Bytes asked for by those calls (a realloc counts its new size).
static REQUESTED: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting bytes when enabled.
pub struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn added(size: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        CALLS.fetch_add(1, Ordering::Relaxed);
        REQUESTED.fetch_add(size, Ordering::Relaxed);
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn removed(size: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        // Saturating: blocks allocated before counting began may be freed.
        let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
            Some(live.saturating_sub(size))
        });
    }
}

// SAFETY: every method forwards to `System` with the arguments it was given,
// so `System`'s guarantees hold; the counters never touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        added(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        added(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        removed(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        removed(layout.size());
        added(new_size);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting (live bytes count from here on).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Stops counting (the allocs suite's measurement is over).
pub fn disable() {
    ENABLED.store(false, Ordering::SeqCst);
}

/// Allocation calls and bytes requested since counting began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Allocations {
    pub calls: u64,
    pub bytes: u64,
}

impl std::ops::Sub for Allocations {
    type Output = Self;

    fn sub(self, before: Self) -> Self {
        Self {
            calls: self.calls - before.calls,
            bytes: self.bytes - before.bytes,
        }
    }
}

/// The allocation counters now.
pub fn allocations() -> Allocations {
    Allocations {
        calls: CALLS.load(Ordering::Relaxed) as u64,
        bytes: REQUESTED.load(Ordering::Relaxed) as u64,
    }
}

/// Live heap bytes allocated since counting began.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The highest `live` value since the last reset.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Sets the peak to the current live bytes.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}
