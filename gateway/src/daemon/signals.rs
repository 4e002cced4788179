//! Signal hygiene for the daemon.

/// Unblocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it before spawning any
/// thread, so every thread inherits the mask). A supervisor that started us with those signals
/// blocked would otherwise leave the daemon unstoppable: blocked masks survive `exec`, and
/// tokio's handlers only see signals that are delivered.
pub fn unblock_control_signals() {
    // SAFETY: sigemptyset/sigaddset initialise a local set; pthread_sigmask only changes the
    // calling thread's mask and reads the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}
