//! Shutdown signals: SIGINT (Ctrl-C) and SIGTERM, as a future to await and
//! as a token to cancel.

use tokio_util::sync::CancellationToken;

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A token cancelled by SIGINT or SIGTERM (call inside the runtime).
pub fn interrupt() -> CancellationToken {
    let interrupt = CancellationToken::new();
    let on_signal = interrupt.clone();
    tokio::spawn(async move {
        shutdown().await;
        on_signal.cancel();
    });
    interrupt
}
