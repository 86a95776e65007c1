//! Routes: templates (`GET /users/42/orders` becomes `GET /users/{id}/orders`,
//! so that reports group requests the way people think of them) and the
//! route patterns that hypotheses, guardrails and graceful rules select
//! routes with (`POST /checkout`, `GET /products/*`, `*`).

/// The methods a route may start with: HTTP's own. A typo such as `FETCH`
/// would otherwise match nothing and check nothing.
pub const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"];

/// Why `pattern` cannot name a route, if it cannot: it must be `*`, or
/// start with an HTTP method or a glob (`POST /checkout`, `* /health`).
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern == "*" {
        return None;
    }
    let method = pattern.split_whitespace().next().unwrap_or("");
    if method.contains(['*', '?']) || METHODS.contains(&method) {
        return None;
    }
    Some(format!("must start with an HTTP method or a glob, got {method:?} in {pattern:?}"))
}

/// True when `route` (`POST /checkout`) matches `pattern`: `*` matches every
/// route, and `*` and `?` inside a pattern are globs, as in a fault's `match.path`.
pub fn matches(pattern: &str, route: &str) -> bool {
    pattern == "*" || glob_matches(pattern, route)
}

/// True when `text` matches `pattern`, where `*` stands for any run of
/// characters and `?` for one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The template of a path: segments that look like identifiers (numbers,
/// UUIDs, long hex or mixed letter-digit tokens) become `{id}`.
pub fn template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    template_into(path, &mut out);
    out
}

/// [`template`], added to the end of `out`.
pub fn template_into(path: &str, out: &mut String) {
    let start = out.len();
    out.reserve(path.len());
    // Segment by segment, found by a plain scan: paths are short, and every
    // request line and span asks.
    let mut from = 0;
    loop {
        let end = path.as_bytes()[from..].iter().position(|&b| b == b'/').map_or(path.len(), |i| from + i);
        let segment = &path[from..end];
        out.push_str(if looks_like_id(segment) { "{id}" } else { segment });
        if end == path.len() {
            break;
        }
        out.push('/');
        from = end + 1;
    }
    if out.len() == start {
        out.push('/');
    }
}

fn looks_like_id(s: &str) -> bool {
    // Below ten characters only a number is one (the other forms are longer).
    if s.len() < 10 {
        return !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    }
    // One pass: digits, and whether the rest is hex (with dashes) or a token.
    let (mut digits, mut hexish, mut token) = (0, true, true);
    for b in s.bytes() {
        if b.is_ascii_digit() {
            digits += 1;
            continue;
        }
        hexish &= b.is_ascii_hexdigit() || b == b'-';
        token &= b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if !hexish && !token {
            return false;
        }
    }
    // All digits; long hex such as a UUID; tokens such as
    // `ch_3MtwBwLkdIwHu7ix28a3tqPa` or `a1b2c3d4e5`, mixing digits into letters.
    digits == s.len() || (hexish && s.len() >= 16 && digits > 0) || (digits >= 2 && token)
}

#[cfg(test)]
mod tests {
    use super::{looks_like_id, template};
    use rand::{Rng, SeedableRng};

    #[test]
    fn identifiers_become_placeholders_and_words_stay() {
        assert_eq!(template("/users/42/orders"), "/users/{id}/orders");
        assert_eq!(template("/v1/charges/ch_3MtwBwLkdIwHu7ix28a3tqPa"), "/v1/charges/{id}");
        assert_eq!(template("/items/550e8400-e29b-41d4-a716-446655440000"), "/items/{id}");
        assert_eq!(template("/checkout"), "/checkout");
        assert_eq!(template("/api/v2/search"), "/api/v2/search");
        assert_eq!(template("/"), "/");
        assert_eq!(template(""), "/");
        assert_eq!(template("//a//42/"), "//a//{id}/");
        assert_eq!(template("/ünï/42"), "/ünï/{id}");
    }

    /// The rules as first written, a pass each: the one-pass form must agree.
    fn reference(s: &str) -> bool {
        if s.is_empty() {
            return false;
        }
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        if digits == s.len() {
            return true;
        }
        let hexish = s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if hexish && s.len() >= 16 && digits > 0 {
            return true;
        }
        s.len() >= 10 && digits >= 2 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    #[test]
    fn one_pass_agrees_with_the_rules_on_random_segments() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"0123456789abcdefxyzABF-_.~%";
        let mut ids = 0;
        for _ in 0..200_000 {
            let len = rng.random_range(0..40);
            let s: String = (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect();
            assert_eq!(looks_like_id(&s), reference(&s), "{s:?}");
            ids += usize::from(reference(&s));
        }
        // Both answers came up often enough for the comparison to mean something.
        assert!(ids > 1_000 && ids < 199_000, "{ids}");
    }
}
