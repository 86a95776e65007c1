//! Pass-through for a direction no fault touches: bytes go from one socket
//! straight to the other, with no queue between. On Linux they go through a
//! pipe with splice(2), so they are never copied into the proxy; a pipe is
//! borrowed from a shared spare list only while bytes move, so an idle
//! connection holds none (and no descriptors beyond its two sockets).

use std::io;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Where a direction stands after a pass.
pub enum Passed {
    /// The source has nothing more to read for now.
    More,
    /// The source reached its end.
    End,
}

/// The most one copying read takes.
const CHUNK: usize = 16 * 1024;
/// Chunks moved in one pass before the caller waits for readiness again,
/// so one busy direction cannot starve the other.
const CHUNKS_PER_PASS: usize = 16;

/// Moves what `from` has now to `to`, counting the bytes written in
/// `moved`, until `from` would block or ends.
pub async fn pass(from: &TcpStream, to: &TcpStream, moved: &mut u64, kill: &CancellationToken) -> io::Result<Passed> {
    #[cfg(target_os = "linux")]
    if let Some(pipe) = splice::Pipe::take() {
        return splice::pass(from, to, pipe, moved, kill).await;
    }
    copy(from, to, moved, kill).await
}

/// The same, copying through a buffer allocated for the pass.
async fn copy(from: &TcpStream, to: &TcpStream, moved: &mut u64, kill: &CancellationToken) -> io::Result<Passed> {
    let mut buf = bytes::BytesMut::with_capacity(CHUNK);
    for _ in 0..CHUNKS_PER_PASS {
        buf.clear();
        match from.try_read_buf(&mut buf) {
            Ok(0) => return Ok(Passed::End),
            Ok(n) => {
                write_all(to, &buf, kill).await?;
                *moved += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Passed::More),
            Err(e) => return Err(e),
        }
    }
    Ok(Passed::More)
}

/// Writes all of `data`, waiting for the socket as needed.
pub async fn write_all(to: &TcpStream, mut data: &[u8], kill: &CancellationToken) -> io::Result<()> {
    while !data.is_empty() {
        tokio::select! {
            ready = to.writable() => ready?,
            () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
        }
        match to.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
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

    use super::{Passed, CHUNKS_PER_PASS};

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

    pub async fn pass(
        from: &TcpStream,
        to: &TcpStream,
        pipe: Pipe,
        moved: &mut u64,
        kill: &CancellationToken,
    ) -> io::Result<Passed> {
        for _ in 0..CHUNKS_PER_PASS {
            let read = from.try_io(Interest::READABLE, || Ok(splice(from, None, &pipe.write, None, PIPE_SIZE, FLAGS)?));
            let mut left = match read {
                Ok(0) => {
                    pipe.give_back();
                    return Ok(Passed::End);
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    pipe.give_back();
                    return Ok(Passed::More);
                }
                Err(e) => return Err(e),
            };
            while left > 0 {
                tokio::select! {
                    ready = to.writable() => ready?,
                    () = kill.cancelled() => return Err(io::ErrorKind::ConnectionAborted.into()),
                }
                match to.try_io(Interest::WRITABLE, || Ok(splice(&pipe.read, None, to, None, left, FLAGS)?)) {
                    Ok(n) => {
                        left -= n;
                        *moved += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
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
        let (mut client, from) = pair().await;
        let (to, mut server) = pair().await;
        let kill = CancellationToken::new();
        let sent = data.to_vec();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.expect("write");
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
}
