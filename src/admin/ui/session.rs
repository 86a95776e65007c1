//! The control page's sessions: a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie, which a page of another site can neither read
//! nor have its browser send, and a random page token the page sends with
//! every change (`x-brownout-csrf`), which no other page can learn. With an
//! admin token configured, a session stands for the token once the page
//! has been given it (`POST /ui/login`): the token itself never goes back
//! to the browser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{header, HeaderMap, HeaderValue};
use rand::TryRngCore;

/// The session cookie's name.
pub const COOKIE: &str = "brownout_session";
/// The header a page's changes carry its page token in.
pub const CSRF_HEADER: &str = "x-brownout-csrf";
/// Sessions kept at most; the least recently used goes first.
const MOST: usize = 256;
/// A session unused this long is forgotten.
const IDLE: Duration = Duration::from_secs(12 * 3600);

/// One browser's session with the control page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// Sent back by the page with every change.
    pub csrf: String,
    /// Given the admin token (always true when none is configured).
    pub authenticated: bool,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, (Session, Instant)>>,
}

/// 128 random bits from the operating system, as hex; `None` if it has none to give.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// A new session, authenticated when no token is needed.
    pub fn open(&self, authenticated: bool) -> Option<Session> {
        let session = Session { id: random_id()?, csrf: random_id()?, authenticated };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, seen)| now.duration_since(*seen) < IDLE);
        if map.len() >= MOST {
            if let Some(oldest) = map.iter().min_by_key(|(_, (_, seen))| *seen).map(|(id, _)| id.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(session.id.clone(), (session.clone(), now));
        Some(session)
    }

    /// The session the request's cookie names, if it is one of ours and still fresh.
    pub fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (session, seen) = map.get_mut(id)?;
        if seen.elapsed() >= IDLE {
            map.remove(id);
            return None;
        }
        *seen = Instant::now();
        Some(session.clone())
    }

    /// Marks a session as given the admin token.
    pub fn authenticate(&self, id: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((session, _)) = map.get_mut(id) {
            session.authenticated = true;
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` that gives a browser its session: never readable by
/// scripts, never sent by another site's pages.
pub fn set_cookie(session: &Session) -> HeaderValue {
    let text = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", session.id);
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("brownout_session=; Path=/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_no_other() {
        let sessions = Sessions::default();
        let s = sessions.open(false).expect("randomness");
        assert_eq!((s.id.len(), s.csrf.len()), (32, 32));
        assert_ne!(s.id, s.csrf);
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("a=b; {COOKIE}={}", s.id).parse().expect("value"));
        assert_eq!(sessions.of(&headers), Some(s.clone()));
        sessions.authenticate(&s.id);
        assert!(sessions.of(&headers).is_some_and(|s| s.authenticated));
        let mut forged = HeaderMap::new();
        forged.insert(header::COOKIE, format!("{COOKIE}=0123456789abcdef0123456789abcdef").parse().expect("v"));
        assert_eq!(sessions.of(&forged), None);
        let cookie = set_cookie(&s);
        let cookie = cookie.to_str().expect("text");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    }
}
