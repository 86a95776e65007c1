//! Pass-through for a direction no fault touches: bytes go from one socket
//! straight to the other, with no queue between. A small message (a first
//! read of at most 4 KiB) is copied through a per-thread scratch buffer,
//! one `recv` and one `send`; the rest of a larger one goes, on Linux,
//! through a pipe with splice(2), never copied into the proxy. A pipe is
//! borrowed from a shared spare list only while bytes move, so an idle
//! connection holds none (and no descriptors beyond its two sockets). A
//! read that empties the socket ends the pass without another read to
//! learn so.

use std::io::{self, Read};

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Where a direction stands after a pass.
pub enum Passed {
    /// The source has nothing more to read for now.
    More,
    /// The source reached its end.
    End,
}

/// The first read of a pass copies at most this much. Most messages of a
/// request-response protocol are smaller: one `recv` and one `send` move
/// them, cheaper than two splices through a pipe (and a third that only
/// says the socket is empty). A message that fills it is larger, and its
/// rest is spliced.
const SMALL: usize = 4096;
/// The most one copying read takes when no pipe can be had.
const CHUNK: usize = 16 * 1024;
/// Reads moved in one pass before the caller waits for readiness again,
/// so one busy direction cannot starve the other.
const CHUNKS_PER_PASS: usize = 16;

thread_local! {
    /// Where a small message is copied between the two sockets: it never
    /// outlives one synchronous read and write, so one per thread serves
    /// every connection, and a connection's task holds no buffer.
    static SCRATCH: std::cell::RefCell<[u8; SMALL]> = const { std::cell::RefCell::new([0; SMALL]) };
}

/// Moves what `from` has now to `to`, counting the bytes written in
/// `moved`, until `from` would block or ends: a first read copies a small
/// message, and what follows a large one is spliced (on Linux) or copied.
pub async fn pass(from: &TcpStream, to: &TcpStream, moved: &mut u64, kill: &CancellationToken) -> io::Result<Passed> {
    let (n, drained, unsent) = match copy_small(from, to)? {
        None => return Ok(Passed::More),
        Some((0, ..)) => return Ok(Passed::End),
        Some(copied) => copied,
    };
    if let Some(unsent) = unsent {
        write_all(to, &unsent, kill).await?;
    }
    *moved += n as u64;
    if drained {
        return Ok(Passed::More);
    }
    #[cfg(target_os = "linux")]
    if let Some(pipe) = splice::Pipe::take() {
        return splice::pass(from, to, pipe, moved, kill).await;
    }
    copy(from, to, moved, kill).await
}

/// A first read copied: how many bytes, whether it emptied the source, and
/// what the destination did not take at once.
type Copied = (usize, bool, Option<Vec<u8>>);

/// One read of at most `SMALL` bytes from `from`, written to `to` at once;
/// `None` when `from` has nothing.
fn copy_small(from: &TcpStream, to: &TcpStream) -> io::Result<Option<Copied>> {
    SCRATCH.with_borrow_mut(|buf| {
        let Some((n, drained)) = read_once(from, SMALL, || (&*socket2::SockRef::from(from)).read(buf))? else {
            return Ok(None);
        };
        let written = match to.try_write(&buf[..n]) {
            Ok(w) => w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        let unsent = (written < n).then(|| buf[written..n].to_vec());
        Ok(Some((n, drained, unsent)))
    })
}

/// One read of at most `len` bytes by `read`. A read that brings fewer than
/// `len` has emptied the socket, and tokio is told so, as its own
/// `poll_read` does: the next pass then waits for readiness rather than
/// making a read that would only say `EAGAIN`. (A byte that arrives
/// meanwhile raises readiness anew, so nothing is missed.) `None` when the
/// socket has nothing now.
fn read_once(
    from: &TcpStream,
    len: usize,
    mut read: impl FnMut() -> io::Result<usize>,
) -> io::Result<Option<(usize, bool)>> {
    let mut got = None;
    let result = from.try_io(Interest::READABLE, || {
        let n = read()?;
        got = Some(n);
        if n > 0 && n < len {
            // Clears readiness; `got` keeps what was read.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    });
    match (result, got) {
        (Ok(()), Some(n)) => Ok(Some((n, false))),
        (Err(e), Some(n)) if e.kind() == io::ErrorKind::WouldBlock => Ok(Some((n, true))),
        (Err(e), _) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        (Err(e), _) => Err(e),
        (Ok(()), None) => Ok(None),
    }
}

/// The rest of a large message, copied through a buffer allocated for the
/// pass (when no pipe can be had, or off Linux).
async fn copy(from: &TcpStream, to: &TcpStream, moved: &mut u64, kill: &CancellationToken) -> io::Result<Passed> {
    let mut buf = vec![0u8; CHUNK];
    for _ in 0..CHUNKS_PER_PASS {
        let Some((n, drained)) = read_once(from, CHUNK, || (&*socket2::SockRef::from(from)).read(&mut buf))? else {
            return Ok(Passed::More);
        };
        if n == 0 {
            return Ok(Passed::End);
        }
        write_all(to, &buf[..n], kill).await?;
        *moved += n as u64;
        if drained {
            return Ok(Passed::More);
        }
    }
    Ok(Passed::More)
}

/// Writes all of `data`, waiting for the socket only when it is full.
pub async fn write_all(to: &TcpStream, mut data: &[u8], kill: &CancellationToken) -> io::Result<()> {
    while !data.is_empty() {
        match to.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::select! {
                    ready = to.writable() => ready?,
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod splice {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::sync::Mutex;

    use rustix::pipe::{fcntl_setpipe_size, pipe_with, splice, PipeFlags, SpliceFlags};
    use tokio::io::Interest;
    use tokio::net::TcpStream;
    use tokio_util::sync::CancellationToken;

    use super::{read_once, Passed, CHUNKS_PER_PASS};

    /// Pipes not in use, kept for the next pass.
    static SPARE: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());
    /// The most pipes kept spare: about the directions moving bytes at once
    /// under heavy load.
    const SPARE_MAX: usize = 256;

    pub struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
    }

    impl Pipe {
        /// A spare pipe, or a new one; `None` when none can be made (out of
        /// descriptors), and the caller copies instead.
        pub fn take() -> Option<Pipe> {
            let spare = SPARE.lock().unwrap_or_else(|p| p.into_inner()).pop();
            spare.or_else(|| {
                let (read, write) = pipe_with(PipeFlags::CLOEXEC).ok()?;
                let _ = fcntl_setpipe_size(&write, PIPE_SIZE);
                Some(Pipe { read, write })
            })
        }

        /// Keeps an empty pipe for the next pass. A pipe that still holds
        /// bytes is dropped instead (closing it discards them).
        fn give_back(self) {
            let mut spare = SPARE.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < SPARE_MAX {
                spare.push(self);
            }
        }
    }

    /// A pipe's capacity, and so the most one splice moves: four times
    /// Linux's default, so a 64 KiB response passes in one call.
    const PIPE_SIZE: usize = 256 * 1024;
    const FLAGS: SpliceFlags = SpliceFlags::NONBLOCK.union(SpliceFlags::MOVE);

    /// Splices what `from` has to `to` through `pipe`, each read ending the
    /// pass once it has emptied the socket (see `read_once`).
    pub async fn pass(
        from: &TcpStream,
        to: &TcpStream,
        pipe: Pipe,
        moved: &mut u64,
        kill: &CancellationToken,
    ) -> io::Result<Passed> {
        for _ in 0..CHUNKS_PER_PASS {
            let read = read_once(from, PIPE_SIZE, || Ok(splice(from, None, &pipe.write, None, PIPE_SIZE, FLAGS)?));
            let (mut left, drained) = match read {
                Ok(Some((0, _))) => {
                    pipe.give_back();
                    return Ok(Passed::End);
                }
                Ok(Some(read)) => read,
                Ok(None) => {
                    pipe.give_back();
                    return Ok(Passed::More);
                }
                Err(e) => return Err(e),
            };
            while left > 0 {
                match to.try_io(Interest::WRITABLE, || Ok(splice(&pipe.read, None, to, None, left, FLAGS)?)) {
                    Ok(n) => {
                        left -= n;
                        *moved += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => tokio::select! {
                        ready = to.writable() => ready?,
                        () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                    },
                    Err(e) => return Err(e),
                }
            }
            if drained {
                break;
            }
        }
        pipe.give_back();
        Ok(Passed::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Two connected sockets on 127.0.0.1.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let near = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (far, _) = listener.accept().await.expect("accept");
        (near, far)
    }

    /// Sends `data` into one pair, moves it (by `copy` alone, or by `pass`)
    /// until the end, and reads it out of the other pair.
    async fn moved(data: &[u8], copying: bool) -> (Vec<u8>, u64) {
        moved_in_pieces(data, &[data.len()], copying).await
    }

    /// The same, `data` written in pieces of the given sizes (in turn), the
    /// writer yielding between them so that reads meet every boundary.
    async fn moved_in_pieces(data: &[u8], pieces: &[usize], copying: bool) -> (Vec<u8>, u64) {
        let (mut client, from) = pair().await;
        let (to, mut server) = pair().await;
        let kill = CancellationToken::new();
        let sent = data.to_vec();
        let pieces = pieces.to_vec();
        let writer = tokio::spawn(async move {
            let mut rest = &sent[..];
            for size in pieces.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, after) = rest.split_at((*size).min(rest.len()));
                client.write_all(piece).await.expect("write");
                rest = after;
                tokio::task::yield_now().await;
            }
            client.shutdown().await.expect("half-close");
            client
        });
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.expect("read");
            got
        });
        let mut count = 0;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            assert!(tokio::time::Instant::now() < deadline, "moved {count} bytes, then stalled");
            from.readable().await.expect("readable");
            let step = if copying {
                copy(&from, &to, &mut count, &kill).await
            } else {
                pass(&from, &to, &mut count, &kill).await
            };
            match step.expect("pass") {
                Passed::More => {}
                Passed::End => break,
            }
        }
        socket2::SockRef::from(&to).shutdown(std::net::Shutdown::Write).expect("shutdown");
        drop(writer.await.expect("writer"));
        (reader.await.expect("reader"), count)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn the_copying_path_moves_every_byte_in_order() {
        let sent = data(3 << 20);
        let (got, moved) = moved(&sent, true).await;
        assert!(got == sent, "got {} bytes back, differing", got.len());
        assert_eq!(moved, sent.len() as u64);
    }

    #[tokio::test]
    async fn pass_moves_every_byte_in_order() {
        let sent = data(3 << 20);
        let (got, moved) = moved(&sent, false).await;
        assert!(got == sent, "got {} bytes back, differing", got.len());
        assert_eq!(moved, sent.len() as u64);
    }

    /// Small writes, some below the scratch buffer's size, some at it, some
    /// above: a read that empties the socket ends a pass, and the bytes that
    /// come after it are still seen and moved, in order.
    #[tokio::test]
    async fn small_and_large_writes_pass_whole_whatever_the_reads_meet() {
        let sent = data(2 << 20);
        let pieces = [16, 1, 4095, 4096, 4097, 300, 70_000, 5, 9000];
        let (got, moved) = moved_in_pieces(&sent, &pieces, false).await;
        assert!(got == sent, "got {} bytes back, differing", got.len());
        assert_eq!(moved, sent.len() as u64);
    }
}
