//! Removing secrets from what the journal keeps as evidence.

use http::HeaderName;

const SECRET_HEADERS: [&str; 7] =
    ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token", "x-csrf-token"];

pub fn is_secret_header(name: &HeaderName) -> bool {
    SECRET_HEADERS.contains(&name.as_str())
}

/// The body with bearer tokens and `password`/`token`/`secret`/`api_key`
/// values blanked out.
pub fn body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_secret(rest) {
        let (start, value_start) = found;
        out.push_str(&rest[..value_start]);
        out.push_str("[redacted]");
        let value = &rest[value_start..];
        let end = value
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '&' | ',' | '}' | ';'))
            .unwrap_or(value.len());
        rest = &value[end..];
        let _ = start;
    }
    out.push_str(rest);
    out
}

/// The next secret in `text`: where its key starts and where its value starts.
fn find_secret(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let keys = ["bearer ", "password", "passwd", "token", "secret", "api_key", "apikey"];
    keys.iter()
        .filter_map(|k| lower.find(k).map(|i| (i, k)))
        .filter_map(|(i, k)| {
            let after = i + k.len();
            if *k == "bearer " {
                return Some((i, after));
            }
            // Skip to the value: `"password": "x"`, `password=x`, `token: x`.
            let tail = &text[after..];
            let skip = tail.find(|c: char| !matches!(c, '"' | '\'' | ' ' | ':' | '='))?;
            let sep = &tail[..skip];
            (sep.contains(':') || sep.contains('=')).then_some((i, after + skip))
        })
        .min_by_key(|(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_blanked_and_the_rest_kept() {
        assert_eq!(body("Authorization failed: Bearer abc.def.ghi"), "Authorization failed: Bearer [redacted]");
        assert_eq!(body(r#"{"user": "ann", "password": "hunter2"}"#), r#"{"user": "ann", "password": "[redacted]"}"#);
        assert_eq!(body("token=xyz&next=/home"), "token=[redacted]&next=/home");
        assert_eq!(body("please try again"), "please try again");
        assert!(is_secret_header(&HeaderName::from_static("set-cookie")));
        assert!(!is_secret_header(&HeaderName::from_static("retry-after")));
    }
}
