//! Writing a chunk at the pace its plan sets: slices for a slicer, about
//! 20 ms of data at a time under a bandwidth cap, else whole.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::plan::ChunkPlan;
use super::queue::CHUNK;
use crate::fault::rng::Rng;
use crate::proxy::tcp::pass::write_all;

/// Writes `data` in pieces: slices for a slicer, about 20 ms of data for a
/// bandwidth cap, else whole.
pub(super) async fn write_paced(
    to: &TcpStream,
    mut data: Bytes,
    plan: &ChunkPlan,
    next_free: &mut Option<Instant>,
    rng: &mut Rng,
    kill: &CancellationToken,
) -> io::Result<()> {
    if plan.rate.is_none() && plan.slicer.is_none() {
        return write_all(to, &data, kill).await;
    }
    let mut first = true;
    while !data.is_empty() {
        let mut size = data.len();
        if let Some((average, variation, delay)) = plan.slicer {
            if !first && !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
            }
            let spread = variation.min(average.saturating_sub(1));
            let offset = (rng.f64() * (2 * spread + 1) as f64) as usize;
            size = size.min((average - spread + offset).max(1));
        }
        if let Some(rate) = plan.rate {
            size = size.min(usize::try_from(rate / 50).unwrap_or(usize::MAX).clamp(1, CHUNK));
            let now = Instant::now();
            let free = next_free.map_or(now, |f| f.max(now));
            if free > now {
                tokio::select! {
                    () = tokio::time::sleep_until(free) => {}
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
            }
            *next_free = Some(free + Duration::from_secs_f64(size as f64 / rate as f64));
        }
        let piece = data.split_to(size);
        write_all(to, &piece, kill).await?;
        first = false;
    }
    Ok(())
}
