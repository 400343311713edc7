//! Small helpers for optional deadlines in `select!` loops.

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever when there is none (a disabled branch).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
