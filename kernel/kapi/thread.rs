// SPDX-License-Identifier: GPL-2.0

//! Kernel threads (C: `kthread_create_on_node`, `kthread_stop`, `kthread_should_stop`).
//!
//! A [`Thread`] runs a closure; dropping it stops the thread and waits for it to end.
//! The closure polls [`should_stop`] and returns when it is true.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use super::sys;
use kernel::error::from_err_ptr;
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

/// A running kernel thread, stopped (and joined) on drop.
///
/// # Invariants
///
/// `task` is a kthread created by `kthread_create_on_node` and woken up, on which we
/// hold a task reference (`get_task_struct`), and `kthread_stop` has not been called.
/// `data` is the boxed closure handed to the thread; the thread function takes ownership
/// of it when (and only when) it starts running.
pub(crate) struct Thread {
    task: NonNull<sys::task_struct>,
    data: *mut c_void,
    drop_data: unsafe fn(*mut c_void),
}

// SAFETY: the task reference may be used (stopped, released) from any thread.
unsafe impl Send for Thread {}
// SAFETY: `Thread` has no `&self` methods that touch the task.
unsafe impl Sync for Thread {}

unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> i32 {
    // SAFETY: `run::<F>` takes `data` as this function does; the helper calls it once,
    // in this thread, with the root of userspace (where /mars is) for path lookups.
    unsafe { sys::mars_kthread_run_in_init_fs(Some(run::<F>), data) }
}

/// The thread's body: takes the closure out of `data` and runs it.
///
/// # Safety
///
/// `data` is the `KBox<F>` made by [`Thread::spawn`], not yet taken; called once.
unsafe extern "C" fn run<F: FnOnce() + Send + 'static>(data: *mut c_void) -> i32 {
    // SAFETY: `data` came from `KBox::into_raw` in `Thread::spawn` for this `F`, and the
    // thread function runs at most once, so ownership is taken exactly once.
    let f = unsafe { KBox::from_raw(data.cast::<F>()) };
    KBox::into_inner(f)();
    0
}

unsafe fn drop_boxed<F>(data: *mut c_void) {
    // SAFETY: the caller guarantees `data` is the unconsumed `KBox<F>` of a thread that
    // never ran its function.
    drop(unsafe { KBox::from_raw(data.cast::<F>()) });
}

impl Thread {
    /// Starts a kernel thread named `name` (shown by `ps`) running `f`.
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(name: &CStr, f: F) -> Result<Thread> {
        let data = KBox::into_raw(KBox::new(f, GFP_KERNEL)?).cast::<c_void>();
        // SAFETY: `trampoline::<F>` matches the thread function signature and `data` is
        // a valid boxed `F`; the format "%s" with `name` (NUL-terminated) is valid.
        let task = unsafe {
            sys::kthread_create_on_node(
                Some(trampoline::<F>),
                data,
                sys::NUMA_NO_NODE,
                c"%s".as_ptr().cast(),
                name.as_char_ptr(),
            )
        };
        let task = match from_err_ptr(task) {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: creation failed, so the thread never ran and `data` is ours.
                unsafe { drop_boxed::<F>(data) };
                return Err(e);
            }
        };
        // SAFETY: `task` is a valid new kthread; take a reference so that `kthread_stop`
        // is valid even if the thread function has returned already, then start it.
        unsafe {
            sys::get_task_struct(task);
            sys::wake_up_process(task);
        }
        // INVARIANT: created, referenced, woken; not stopped.
        Ok(Thread { task: NonNull::new(task).ok_or(EINVAL)?, data, drop_data: drop_boxed::<F> })
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the task is a referenced kthread not yet stopped.
        // `kthread_stop` returns -EINTR only if the thread function never ran, in which
        // case the closure was never taken and is freed here. Then drop our reference.
        unsafe {
            let ret = sys::kthread_stop(self.task.as_ptr());
            if ret == -(sys::EINTR as i32) {
                (self.drop_data)(self.data);
            }
            sys::put_task_struct(self.task.as_ptr());
        }
    }
}

/// Whether the current task is a kernel thread (else: a user process in a system call
/// or the block layer, which cannot be stopped).
fn in_kthread() -> bool {
    // SAFETY: `get_current` returns the running task, valid while it runs (now); its
    // `flags` are only changed by the task itself.
    unsafe { (*sys::get_current()).flags & sys::PF_KTHREAD != 0 }
}

/// The current task's id (its pid as the kernel counts threads).
pub(crate) fn current_id() -> u32 {
    // SAFETY: `get_current` returns the running task, valid while it runs (now); its
    // `pid` never changes.
    let pid = unsafe { (*sys::get_current()).pid };
    pid as u32
}

/// Whether the current kernel thread has been asked to stop (never, outside kernel
/// threads).
pub(crate) fn should_stop() -> bool {
    // SAFETY: `kthread_should_stop` may be called from any kernel thread.
    in_kthread() && unsafe { sys::kthread_should_stop() }
}

/// Sleeps about `ms` milliseconds; less when a signal is pending. In a kernel thread
/// that includes a `kthread_stop`: it sets `TIF_NOTIFY_SIGNAL` before waking the
/// thread, so the sleep ends at once (as do blocking socket calls).
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: sleeping has no preconditions in thread or process context.
    unsafe { sys::msleep_interruptible(ms) };
}
