//! The memory limit of a run: the sandbox process's global allocator counts what is
//! allocated and refuses an allocation past the limit, so that a script gets the
//! memory `script.memory_mb` names (the address-space limit of [`super::harden`] is
//! only a backstop: address space is reserved far beyond what is used, by thread
//! stacks and by the allocator itself). Off in every other process: there it costs
//! one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering::Relaxed};

/// The allocator `main.rs` installs: the system's, with a budget once
/// [`limit_from_now`] is called.
pub struct Budgeted;

/// Whether allocations are counted (set once, in the sandbox process).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated and not freed since counting began (freeing what was allocated
/// before may take it below zero).
static IN_USE: AtomicIsize = AtomicIsize::new(0);
/// The most `IN_USE` may reach.
static LIMIT: AtomicIsize = AtomicIsize::new(isize::MAX);
/// Allocations refused so far.
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// Counts allocations from now on, and refuses those that would take more than
/// `bytes` beyond what is in use now.
pub fn limit_from_now(bytes: u64) {
    COUNTING.store(true, Relaxed);
    let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
    LIMIT.store(IN_USE.load(Relaxed).saturating_add(bytes), Relaxed);
}

/// How many allocations were refused so far.
pub fn refusals() -> u64 {
    REFUSED.load(Relaxed)
}

/// A run's error when it needed more than `limit_bytes`.
pub fn out_of_memory(limit_bytes: u64) -> String {
    format!(
        "the script ran out of memory: it needed more than the {} MiB a run may allocate \
         (script.memory_mb) and was stopped",
        limit_bytes / (1024 * 1024)
    )
}

fn take(bytes: usize) -> bool {
    let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
    let after = IN_USE.fetch_add(bytes, Relaxed).saturating_add(bytes);
    if after > LIMIT.load(Relaxed) {
        IN_USE.fetch_sub(bytes, Relaxed);
        REFUSED.fetch_add(1, Relaxed);
        return false;
    }
    true
}

fn give(bytes: usize) {
    IN_USE.fetch_sub(isize::try_from(bytes).unwrap_or(isize::MAX), Relaxed);
}

/// What `allocate` returns, if `layout` fits the budget.
fn within_budget(layout: Layout, allocate: impl FnOnce() -> *mut u8) -> *mut u8 {
    let counted = COUNTING.load(Relaxed);
    if counted && !take(layout.size()) {
        return std::ptr::null_mut();
    }
    let ptr = allocate();
    if counted && ptr.is_null() {
        give(layout.size());
    }
    ptr
}

// SAFETY: every call is passed to `System` unchanged, or refused with a null pointer
// (which `GlobalAlloc` allows for any allocation that cannot be satisfied); the
// counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for Budgeted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        within_budget(layout, || unsafe { System.alloc(layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        within_budget(layout, || unsafe { System.alloc_zeroed(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Relaxed) {
            give(layout.size());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let counted = COUNTING.load(Relaxed);
        let old_size = layout.size();
        let grows = new_size.saturating_sub(old_size);
        if counted && grows > 0 && !take(grows) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's pointer, layout and size, as `GlobalAlloc::realloc`
        // requires; `ptr` came from `System`.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if counted {
            if moved.is_null() {
                give(grows);
            } else {
                give(old_size.saturating_sub(new_size));
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_past_the_limit_and_counts_what_is_freed() {
        // The test binary's allocator is the system's: drive `Budgeted` directly.
        let a = Budgeted;
        limit_from_now(1024 * 1024);
        let layout = |n| Layout::from_size_align(n, 8).unwrap();
        let before = refusals();
        // SAFETY: each pointer is freed once with the layout it was allocated with.
        unsafe {
            let first = a.alloc(layout(600 * 1024));
            assert!(!first.is_null());
            assert!(a.alloc(layout(600 * 1024)).is_null(), "past the limit");
            assert_eq!(refusals(), before + 1);
            let grown = a.realloc(first, layout(600 * 1024), 900 * 1024);
            assert!(!grown.is_null(), "growing within the limit");
            assert!(
                a.realloc(grown, layout(900 * 1024), 2 * 1024 * 1024)
                    .is_null()
            );
            a.dealloc(grown, layout(900 * 1024));
            let again = a.alloc_zeroed(layout(1000 * 1024));
            assert!(!again.is_null(), "what was freed is available again");
            a.dealloc(again, layout(1000 * 1024));
        }
    }
}
