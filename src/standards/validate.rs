//! Validation of a raw standards file into the model, collecting every
//! problem with its position, key path and expected form.

use std::time::Duration;

use http::HeaderName;
use toml::Spanned;

use super::raw::{RawGraceful, RawInteraction, RawRoute, RawStandards, RawTier};
use super::{Graceful, Interaction, Located, Objectives, Service, Standards, Tier};
use crate::config::{did_you_mean, parse_percent, Dur, FileError, Locator, Problem};
use crate::record::route::{pattern_problem, METHODS};
use crate::record::standards::RouteClass;

pub(super) struct Validator<'a> {
    loc: &'a Locator<'a>,
    problems: Vec<Problem>,
}

/// `critical`, `page_load`, `shop`: a name reports can print as it is.
fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A key path segment, quoted when it is not a bare TOML key (`"POST /checkout"`).
fn segment(key: &str) -> String {
    if name_ok(key) {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

impl<'a> Validator<'a> {
    pub(super) fn new(loc: &'a Locator<'a>) -> Self {
        Validator { loc, problems: Vec::new() }
    }

    fn problem(&mut self, offset: usize, key: String, message: String) -> &mut Problem {
        self.problems.push(self.loc.problem(offset, key, message));
        self.problems.last_mut().expect("a problem was just pushed")
    }

    /// `standards.toml:3:16`, where a value was written.
    fn at(&self, offset: usize) -> String {
        let p = self.loc.problem(offset, "", "");
        format!("{}:{}:{}", p.file, p.line, p.column)
    }

    pub(super) fn standards(mut self, raw: RawStandards) -> Result<Standards, FileError> {
        if raw.tier.is_empty() && raw.interaction.is_empty() && raw.graceful.is_none() && raw.service.is_empty() {
            self.problem(0, String::new(), "sets no standard".into()).hint =
                Some("add a [tier.NAME], an [interaction.NAME], [graceful] or a [service.NAME]".into());
        }
        let tiers: Vec<Tier> = raw.tier.iter().filter_map(|(name, t)| self.tier(name, t)).collect();
        let interactions: Vec<Interaction> =
            raw.interaction.iter().filter_map(|(name, i)| self.interaction(name, i)).collect();
        let graceful = raw.graceful.as_ref().and_then(|g| self.graceful(g));
        let tier_names: Vec<&str> = raw.tier.keys().map(String::as_str).collect();
        let interaction_names: Vec<&str> = raw.interaction.keys().map(String::as_str).collect();
        let mut services = Vec::new();
        for (name, routes) in &raw.service {
            let key = format!("service.{}", segment(name));
            if !name_ok(name) {
                self.problem(
                    routes.span().start,
                    key.clone(),
                    format!("names a service {name:?}; use letters, digits, - and _"),
                );
            }
            if routes.get_ref().is_empty() {
                self.problem(routes.span().start, key.clone(), "lists no route".into()).hint =
                    Some("\"POST /checkout\" = { tier = \"critical\", interaction = \"real_time\" }".into());
            }
            let mut classes = Vec::new();
            for (route, class) in routes.get_ref() {
                let rkey = format!("{key}.{}", segment(route));
                if let Some(c) = self.route(route, class, &rkey, &tier_names, &interaction_names) {
                    classes.push(c);
                }
            }
            services.push(Service { name: name.clone(), routes: classes });
        }
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| (p.line, p.column));
            return Err(FileError::Invalid(self.problems));
        }
        Ok(Standards {
            file: self.loc.file.to_string(),
            sha256: crate::record::journal::sha256_hex(self.loc.text),
            tiers,
            interactions,
            graceful,
            services,
        })
    }

    fn tier(&mut self, name: &str, raw: &Spanned<RawTier>) -> Option<Tier> {
        let key = format!("tier.{}", segment(name));
        let t = raw.get_ref();
        let named = self.named(name, raw.span().start, &key, "tier");
        let mut objectives = Objectives {
            availability: self.percent(t.availability.as_ref(), format!("{key}.availability")),
            error_rate: self.percent(t.error_rate.as_ref(), format!("{key}.error_rate")),
            ..Objectives::default()
        };
        self.latencies(&mut objectives, [&t.p50, &t.p95, &t.p99], &key);
        let graceful = self.percent(t.graceful.as_ref(), format!("{key}.graceful"));
        let set = [&t.availability, &t.error_rate, &t.graceful].iter().any(|v| v.is_some())
            || [&t.p50, &t.p95, &t.p99].iter().any(|v| v.is_some());
        if !set {
            self.problem(raw.span().start, key, "sets no objective".into()).hint =
                Some("add availability, error_rate, p50, p95, p99 or graceful".into());
            return None;
        }
        named.then(|| Tier {
            name: name.to_string(),
            description: t.description.clone(),
            objectives,
            graceful,
            during_faults: t.during_faults.unwrap_or(false),
        })
    }

    fn interaction(&mut self, name: &str, raw: &Spanned<RawInteraction>) -> Option<Interaction> {
        let key = format!("interaction.{}", segment(name));
        let i = raw.get_ref();
        let named = self.named(name, raw.span().start, &key, "interaction class");
        let mut objectives = Objectives::default();
        self.latencies(&mut objectives, [&i.p50, &i.p95, &i.p99], &key);
        if [&i.p50, &i.p95, &i.p99].iter().all(|v| v.is_none()) {
            self.problem(raw.span().start, key, "sets no objective".into()).hint =
                Some("an interaction class says how long a request may take: add p50, p95 or p99".into());
            return None;
        }
        named.then(|| Interaction { name: name.to_string(), description: i.description.clone(), objectives })
    }

    fn named(&mut self, name: &str, offset: usize, key: &str, what: &str) -> bool {
        if name_ok(name) {
            return true;
        }
        self.problem(offset, key.to_string(), format!("names a {what} {name:?}; use letters, digits, - and _"));
        false
    }

    fn percent(&mut self, raw: Option<&Spanned<String>>, key: String) -> Option<Located<f64>> {
        let s = raw?;
        match parse_percent(s.get_ref()) {
            Ok(value) => Some(Located { value, at: self.at(s.span().start) }),
            Err(why) => {
                self.problem(
                    s.span().start,
                    key,
                    format!("must be a percentage such as \"99.9%\", got {:?} ({why})", s.get_ref()),
                );
                None
            }
        }
    }

    fn latencies(&mut self, out: &mut Objectives, raw: [&Option<Spanned<Dur>>; 3], key: &str) {
        let slots = [&mut out.p50_ms, &mut out.p95_ms, &mut out.p99_ms];
        for ((name, value), slot) in ["p50", "p95", "p99"].into_iter().zip(raw).zip(slots) {
            let Some(d) = value else { continue };
            if let Some(ms) = self.more_than_zero(d, format!("{key}.{name}")) {
                *slot = Some(Located { value: ms.as_secs_f64() * 1000.0, at: self.at(d.span().start) });
            }
        }
    }

    fn more_than_zero(&mut self, d: &Spanned<Dur>, key: String) -> Option<Duration> {
        if d.get_ref().0.is_zero() {
            self.problem(d.span().start, key, "must be more than zero, got \"0s\"".into());
            return None;
        }
        Some(d.get_ref().0)
    }

    fn graceful(&mut self, raw: &Spanned<RawGraceful>) -> Option<Graceful> {
        let g = raw.get_ref();
        let mut out = Graceful {
            statuses: None,
            grpc_codes: None,
            body_contains: Vec::new(),
            body_excludes: Vec::new(),
            required_headers: Vec::new(),
            within: None,
        };
        if let Some(s) = &g.status {
            let mut statuses = Vec::new();
            for code in s.get_ref() {
                match u16::try_from(*code).ok().filter(|c| (400..=599).contains(c)) {
                    Some(c) => statuses.push(c),
                    None => {
                        self.problem(
                            s.span().start,
                            "graceful.status".into(),
                            format!("must list failure statuses from 400 to 599, got {code}"),
                        );
                    }
                }
            }
            if s.get_ref().is_empty() {
                self.problem(s.span().start, "graceful.status".into(), "must list at least one status".into()).hint =
                    Some("no status at all would make every failure ungraceful; status = [429, 503]".into());
            }
            out.statuses = Some(Located { value: statuses, at: self.at(s.span().start) });
        }
        if let Some(codes) = &g.grpc_status {
            match crate::config::fault::grpc_codes(codes.get_ref()) {
                Ok(c) => out.grpc_codes = Some(Located { value: c, at: self.at(codes.span().start) }),
                Err(message) => {
                    self.problem(codes.span().start, "graceful.grpc_status".into(), message);
                }
            }
        }
        for (list, key, slot) in [
            (&g.body_contains, "graceful.body_contains", &mut out.body_contains),
            (&g.body_excludes, "graceful.body_excludes", &mut out.body_excludes),
        ] {
            let Some(words) = list else { continue };
            if words.get_ref().iter().any(|w| w.trim().is_empty()) {
                self.problem(words.span().start, key.into(), "must list words, got an empty one".into());
            }
            slot.extend(words.get_ref().iter().filter(|w| !w.trim().is_empty()).cloned());
        }
        if let Some(h) = &g.required_headers {
            for name in h.get_ref() {
                match HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
                    Ok(n) => out.required_headers.push(n),
                    Err(_) => {
                        self.problem(
                            h.span().start,
                            "graceful.required_headers".into(),
                            format!("must list header names, got {name:?}"),
                        );
                    }
                }
            }
        }
        if let Some(w) = &g.within {
            if let Some(d) = self.more_than_zero(w, "graceful.within".into()) {
                out.within = Some(Located { value: d, at: self.at(w.span().start) });
            }
        }
        let nothing = g.status.is_none()
            && g.grpc_status.is_none()
            && g.body_contains.is_none()
            && g.body_excludes.is_none()
            && g.required_headers.is_none()
            && g.within.is_none();
        if nothing {
            self.problem(raw.span().start, "graceful".into(), "sets nothing".into()).hint = Some(
                "add status, grpc_status, body_contains, body_excludes, required_headers or within; or leave [graceful] out"
                    .into(),
            );
        }
        Some(out)
    }

    fn route(
        &mut self,
        route: &str,
        raw: &Spanned<RawRoute>,
        key: &str,
        tiers: &[&str],
        interactions: &[&str],
    ) -> Option<RouteClass> {
        let at = raw.span().start;
        if let Some(message) = pattern_problem(route) {
            self.problem(at, key.to_string(), message).hint =
                Some(format!("methods: {}; a route reads like \"POST /checkout\"", METHODS.join(", ")));
            return None;
        }
        let r = raw.get_ref();
        if r.tier.is_none() && r.interaction.is_none() {
            self.problem(at, key.to_string(), "gives the route neither a tier nor an interaction".into()).hint =
                Some("{ tier = \"critical\", interaction = \"real_time\" }; leave out a route that has neither".into());
            return None;
        }
        let tier = self.known(r.tier.as_ref(), &format!("{key}.tier"), tiers, "tier");
        let interaction =
            self.known(r.interaction.as_ref(), &format!("{key}.interaction"), interactions, "interaction class");
        let (Ok(tier), Ok(interaction)) = (tier, interaction) else { return None };
        Some(RouteClass { route: route.to_string(), tier, interaction })
    }

    /// The name if it is one of `names`; `Ok(None)` when none is given.
    fn known(
        &mut self,
        name: Option<&Spanned<String>>,
        key: &str,
        names: &[&str],
        what: &str,
    ) -> Result<Option<String>, ()> {
        let Some(n) = name else { return Ok(None) };
        if names.contains(&n.get_ref().as_str()) {
            return Ok(Some(n.get_ref().clone()));
        }
        let hint = match did_you_mean(n.get_ref(), names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => format!("this file declares no {what}"),
            None => format!("{what}s: {}", names.join(", ")),
        };
        self.problem(n.span().start, key.to_string(), format!("names no {what}: {:?}", n.get_ref())).hint = Some(hint);
        Err(())
    }
}
