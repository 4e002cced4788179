//! Cleanup on SIGINT/SIGTERM/SIGHUP without blocking signals.
//!
//! `interop_tests::cleanup::install_signal_cleanup` blocks the signals in every thread, and a
//! blocked mask is inherited by every child process across exec: daemons that rely on a
//! handler (ipsecgw's tokio signal handling) would then ignore SIGTERM and be SIGKILLed after a
//! grace period. Here a plain handler writes the signal number to a pipe (async-signal-safe);
//! a thread reads it, runs [`interop_tests::cleanup::cleanup_all`] and exits. Handlers are reset
//! to the default on exec, so children are unaffected.

use std::sync::atomic::{AtomicI32, Ordering};

static PIPE_WR: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WR.load(Ordering::Relaxed);
    let b = sig as u8;
    // SAFETY: write(2) is async-signal-safe; `b` lives for the call.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Installs the handlers and starts the cleanup thread. Call first thing in `main`.
pub fn install_cleanup_on_signal() {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        eprintln!("bench: pipe2 failed; no cleanup on signals");
        return;
    }
    PIPE_WR.store(fds[1], Ordering::Relaxed);
    let rd = fds[0];
    std::thread::Builder::new()
        .name("signal-cleanup".into())
        .spawn(move || {
            let mut b = 0u8;
            // SAFETY: reads one byte into `b` from our own pipe.
            let n = unsafe { libc::read(rd, (&mut b as *mut u8).cast(), 1) };
            if n != 1 {
                return;
            }
            eprintln!("bench: caught signal {b}, cleaning up");
            interop_tests::cleanup::cleanup_all();
            crate::allowed_cc::restore_now();
            std::process::exit(128 + b as i32);
        })
        .expect("spawning the signal-cleanup thread");
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
