//! What the journal carries of the standards a run inherited: the file,
//! the service the experiment tests, and that service's routes with their
//! tier and interaction class, so that every report can say which route
//! was held to which standard and which had none (unclassified).

use serde::{Deserialize, Serialize};

use super::route;

/// The standards a run inherited, as its journal records them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandardsInfo {
    /// The standards file, as named when it was loaded.
    pub file: String,
    /// The SHA-256 of its text, in hex: which version of the standards applied.
    pub sha256: String,
    /// The service's routes (none when the experiment names no service).
    #[serde(default)]
    pub routes: Vec<RouteClass>,
}

/// A route pattern of a service and the standards it is held to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteClass {
    /// `POST /checkout`, or a glob such as `GET /products/*`.
    pub route: String,
    /// The tier's name (`critical`), if the route has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The interaction class's name (`page_load`), if the route has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<String>,
}

impl RouteClass {
    /// `tier critical, interaction real_time`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.tier {
            parts.push(format!("tier {t}"));
        }
        if let Some(i) = &self.interaction {
            parts.push(format!("interaction {i}"));
        }
        parts.join(", ")
    }
}

/// True when a route pattern has globs (`*`, `?`): it names several routes.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// The class of `route` (`GET /products/{id}`, or a raw `GET /products/42`):
/// the pattern that names it exactly, else the matching glob with the most
/// literal characters (the most specific), ties going to the first in
/// alphabetical order. The order routes are written in does not matter.
pub fn class_of<'a>(routes: &'a [RouteClass], route: &str) -> Option<&'a RouteClass> {
    if let Some(exact) = routes.iter().find(|r| r.route == route) {
        return Some(exact);
    }
    routes
        .iter()
        .filter(|r| route::matches(&r.route, route))
        .max_by(|a, b| specificity(&a.route).cmp(&specificity(&b.route)).then(b.route.cmp(&a.route)))
}

/// How many characters of a pattern are not globs.
fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|c| !matches!(c, '*' | '?')).count()
}

/// The name of a standard in reports and the hypothesis: `tier.critical`,
/// `interaction.page_load`, `graceful`.
pub fn tier_standard(name: &str) -> String {
    format!("tier.{name}")
}

pub fn interaction_standard(name: &str) -> String {
    format!("interaction.{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(route: &str, tier: &str) -> RouteClass {
        RouteClass { route: route.into(), tier: Some(tier.into()), interaction: None }
    }

    #[test]
    fn the_exact_route_wins_then_the_most_specific_glob_whatever_the_order() {
        let routes =
            [class("GET *", "low"), class("GET /products/*", "standard"), class("GET /products/featured", "top")];
        let tier = |r: &str| class_of(&routes, r).and_then(|c| c.tier.as_deref());
        assert_eq!(tier("GET /products/featured"), Some("top"));
        assert_eq!(tier("GET /products/{id}"), Some("standard"));
        assert_eq!(tier("GET /about"), Some("low"));
        assert_eq!(tier("POST /checkout"), None);
        let mut reversed = routes.to_vec();
        reversed.reverse();
        assert_eq!(class_of(&reversed, "GET /products/{id}").map(|c| c.route.as_str()), Some("GET /products/*"));
    }
}
