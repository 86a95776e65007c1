//! Following a response body's framing over the bytes as they pass: by
//! length, chunked (tracked byte by byte, never re-encoded on the plain
//! path; its content and trailer bytes told apart for a bridged response,
//! which hyper frames anew), or up to the close.

/// How a response body is framed.
#[derive(Clone, Copy)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Up to the upstream's close: the client connection closes after it.
    Close,
}

/// Follows a response body's framing over the bytes as they pass.
pub(super) struct Body {
    framing: Framing,
    state: Chunk,
    left: u64,
}

/// Bytes of a chunked body that are not its framing.
pub(super) enum Piece {
    /// Content: this range of the bytes fed.
    Data(std::ops::Range<usize>),
    /// A byte of the trailer section, from the first trailer field to the
    /// empty line that ends it.
    Trailer(u8),
}

/// Where a chunked body stands.
#[derive(Clone, Copy, PartialEq)]
enum Chunk {
    Size {
        digits: bool,
        ext: bool,
    },
    /// Whitespace after the size.
    Blank,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    LineStart,
    Line,
    LineLf,
    LastLf,
    Done,
}

impl Body {
    pub(super) fn new(framing: Framing) -> Self {
        let left = if let Framing::Length(n) = framing { n } else { 0 };
        Body { framing, state: Chunk::Size { digits: false, ext: false }, left }
    }

    /// What is left of a body framed by its length.
    pub(super) fn remaining(&self) -> Option<u64> {
        matches!(self.framing, Framing::Length(_)).then_some(self.left)
    }

    pub(super) fn framing(&self) -> Framing {
        self.framing
    }

    pub(super) fn done(&self) -> bool {
        match self.framing {
            Framing::None => true,
            Framing::Length(_) => self.left == 0,
            Framing::Chunked => self.state == Chunk::Done,
            Framing::Close => false,
        }
    }

    /// How many of `bytes` belong to the body, and how many of those are
    /// content (not chunk framing). `Err` when the chunked framing is broken.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<(usize, u64), ()> {
        match self.framing {
            Framing::None => Ok((0, 0)),
            Framing::Close => Ok((bytes.len(), bytes.len() as u64)),
            Framing::Length(_) => {
                let take = (bytes.len() as u64).min(self.left);
                self.left -= take;
                Ok((take as usize, take))
            }
            Framing::Chunked => self.feed_chunked(bytes, |_| {}),
        }
    }

    /// Feeds a chunked body's `bytes`, handing `each` its content and
    /// trailer bytes as they are found: how many of `bytes` belong to the
    /// body, and how many of those are content.
    pub(super) fn feed_chunked(&mut self, bytes: &[u8], mut each: impl FnMut(Piece)) -> Result<(usize, u64), ()> {
        let mut i = 0;
        let mut data = 0;
        while i < bytes.len() && self.state != Chunk::Done {
            if self.state == Chunk::Data {
                let take = ((bytes.len() - i) as u64).min(self.left);
                each(Piece::Data(i..i + take as usize));
                self.left -= take;
                data += take;
                i += take as usize;
                if self.left == 0 {
                    self.state = Chunk::DataCr;
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            if matches!(self.state, Chunk::LineStart | Chunk::Line | Chunk::LineLf | Chunk::LastLf) {
                each(Piece::Trailer(b));
            }
            self.state = match (self.state, b) {
                (Chunk::Size { digits: true, .. }, b'\r') => Chunk::SizeLf,
                (Chunk::Size { .. }, b'\n') => return Err(()),
                (Chunk::Size { ext: true, .. }, _) => Chunk::Size { digits: true, ext: true },
                // Whitespace may only stand before an extension.
                (Chunk::Size { digits: true, .. }, b';') => Chunk::Size { digits: true, ext: true },
                (Chunk::Size { digits: true, ext: false }, b' ' | b'\t') => Chunk::Blank,
                (Chunk::Blank, b' ' | b'\t') => Chunk::Blank,
                (Chunk::Blank, b';') => Chunk::Size { digits: true, ext: true },
                (Chunk::Blank, b'\r') => Chunk::SizeLf,
                (Chunk::Size { .. }, _) => {
                    let digit = (b as char).to_digit(16).ok_or(())?;
                    self.left = self.left.checked_mul(16).ok_or(())? + u64::from(digit);
                    Chunk::Size { digits: true, ext: false }
                }
                (Chunk::SizeLf, b'\n') if self.left == 0 => Chunk::LineStart,
                (Chunk::SizeLf, b'\n') => Chunk::Data,
                (Chunk::DataCr, b'\r') => Chunk::DataLf,
                (Chunk::DataLf, b'\n') => Chunk::Size { digits: false, ext: false },
                (Chunk::LineStart, b'\r') => Chunk::LastLf,
                (Chunk::Line, b'\r') => Chunk::LineLf,
                (Chunk::LineStart | Chunk::Line, b'\n') => return Err(()),
                (Chunk::LineStart | Chunk::Line, _) => Chunk::Line,
                (Chunk::LineLf, b'\n') => Chunk::LineStart,
                (Chunk::LastLf, b'\n') => Chunk::Done,
                _ => return Err(()),
            };
        }
        Ok((i, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNKED: &[u8] = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";

    /// Feeds `bytes` in pieces cut at `cuts`; returns (consumed, content, done).
    fn feed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(usize, u64, bool), ()> {
        let mut body = Body::new(Framing::Chunked);
        let (mut consumed, mut content) = (0, 0);
        let mut from = 0;
        for &to in cuts.iter().chain([bytes.len()].iter()) {
            let (took, data) = body.feed(&bytes[from..to])?;
            consumed += took;
            content += data;
            if body.done() {
                break;
            }
            assert_eq!(took, to - from, "bytes before the end are all the body's");
            from = to;
        }
        Ok((consumed, content, body.done()))
    }

    #[test]
    fn a_chunked_body_ends_where_it_ends_however_it_is_cut() {
        let mut with_more = CHUNKED.to_vec();
        with_more.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        for cut in 0..=CHUNKED.len() {
            assert_eq!(feed_in_pieces(&with_more, &[cut]), Ok((CHUNKED.len(), 11, true)), "cut at {cut}");
        }
        let every_byte: Vec<usize> = (1..CHUNKED.len()).collect();
        assert_eq!(feed_in_pieces(CHUNKED, &every_byte), Ok((CHUNKED.len(), 11, true)));
        assert_eq!(feed_in_pieces(b"0\r\n\r\n", &[]), Ok((5, 0, true)));
        assert_eq!(feed_in_pieces(b"A\r\n0123456789\r\n0\r\n\r\n", &[]), Ok((20, 10, true)));
        let spaced = b"5 \t;e=\"a b\"\r\nhello\r\n0 \r\n\r\n";
        assert_eq!(feed_in_pieces(spaced, &[]), Ok((spaced.len(), 5, true)));
    }

    #[test]
    fn a_chunked_body_gives_its_content_and_trailer_section_however_it_is_cut() {
        for cut in 0..=CHUNKED.len() {
            let mut body = Body::new(Framing::Chunked);
            let (mut content, mut trailers) = (Vec::new(), Vec::new());
            for piece in [&CHUNKED[..cut], &CHUNKED[cut..]] {
                let (took, _) = body
                    .feed_chunked(piece, |p| match p {
                        Piece::Data(range) => content.extend_from_slice(&piece[range]),
                        Piece::Trailer(b) => trailers.push(b),
                    })
                    .expect("well framed");
                assert_eq!(took, piece.len(), "cut at {cut}");
            }
            assert!(body.done());
            assert_eq!(
                (&content[..], &trailers[..]),
                (&b"hello world"[..], &b"X-Trailer: t\r\n\r\n"[..]),
                "cut at {cut}"
            );
        }
        let mut body = Body::new(Framing::Chunked);
        let mut trailers = Vec::new();
        body.feed_chunked(b"0\r\n\r\n", |p| {
            if let Piece::Trailer(b) = p {
                trailers.push(b)
            }
        })
        .expect("framed");
        assert_eq!(trailers, b"\r\n", "no fields: only the empty line");
    }

    #[test]
    fn broken_chunked_framing_is_an_error_and_an_unfinished_body_is_not_done() {
        for broken in [
            &b"x\r\n"[..],
            b"5\r\nhelloX\r\n",
            b"\r\n",
            b"5\nhello",
            b"fffffffffffffffff\r\n",
            b"5;x\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello",
            b"0\r\n\n",
            b"0\r\nX: y\n\r\n",
        ] {
            assert_eq!(feed_in_pieces(broken, &[]), Err(()), "{:?}", String::from_utf8_lossy(broken));
        }
        assert_eq!(feed_in_pieces(b"5\r\nhel", &[]), Ok((6, 3, false)));
    }
}
