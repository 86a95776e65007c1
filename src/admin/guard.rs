//! Who may use the admin API: a token compared in constant time when one is
//! configured, no browsers unless allowed, and bounded request bodies.

use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::{AdminState, Refused};

/// The largest request body the admin API reads.
pub const MAX_BODY: usize = 1024 * 1024;

pub fn check(req: &Request<Incoming>, state: &AdminState) -> Result<(), Refused> {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.0.as_bytes()) {
            return Err(Refused(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send Authorization: Bearer <token>".into(),
            ));
        }
    }
    let browser = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser && !state.allow_browsers {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            "requests from browsers are refused; set admin.allow_browsers = true to allow them".into(),
        ));
    }
    Ok(())
}

/// Reads the whole body, refusing one over [`MAX_BODY`] with 413.
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, Refused> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(Refused(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))),
    }
}

fn too_large() -> Refused {
    Refused(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {MAX_BODY} bytes"))
}

/// Compares in time that depends only on the lengths, not on where the
/// bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0 && !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_by_every_byte() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3creT", b"s3cret"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
        assert!(!constant_time_eq(b"", b""));
    }
}
