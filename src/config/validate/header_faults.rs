//! A target's `header_faults`: on an http target only, with its caps read
//! by `config::header_faults`.

use toml::Spanned;

use super::super::header_faults::{self, RawHeaderFaults};
use super::super::HeaderFaults;
use super::Validator;

impl Validator<'_> {
    pub(super) fn header_faults(
        &mut self,
        key: &str,
        raw: Option<&Spanned<RawHeaderFaults>>,
        http: bool,
    ) -> Option<HeaderFaults> {
        let raw = raw?;
        if !http {
            self.problem(raw.span().start, format!("{key}.header_faults"), "applies only to http targets".into())
                .hint = Some("remove it, or set protocol = \"http\"".into());
            return None;
        }
        match header_faults::validate(raw.get_ref()) {
            Ok(policy) => policy,
            Err((offset, field, message, hint)) => {
                let path = if field.is_empty() {
                    format!("{key}.header_faults")
                } else {
                    format!("{key}.header_faults.{field}")
                };
                self.problem(offset, path, message).hint = hint;
                None
            }
        }
    }
}
