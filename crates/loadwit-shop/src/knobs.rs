//! Test knobs: added latency and injected failures per route.
//!
//! Both knobs take `ROUTE=VALUE`. `ROUTE` is a [`RouteSelector`]: `*`
//! for every route, a path pattern as the help lists it
//! (`/api/catalog/products/{slug}`), a pattern ending in `*` for every
//! route whose pattern starts with the rest (`/api/catalog/*`), each
//! optionally preceded by a method (`POST /api/orders`). When several
//! entries select the same route, the last one wins, so `*=10ms` followed
//! by `/api/auth/me=50ms` slows everything and `/me` more.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Route;

/// Which routes a knob applies to. Parsing checks that it selects at
/// least one route, so a typo fails at startup instead of doing nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSelector {
    method: Option<String>,
    path: String,
    prefix: bool,
}

impl RouteSelector {
    /// Selects every route.
    pub fn all() -> Self {
        Self {
            method: None,
            path: String::new(),
            prefix: true,
        }
    }

    /// Whether this selector applies to `route`.
    pub fn selects(&self, route: Route) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(route.method()));
        let path_ok = if self.prefix {
            route.path().starts_with(&self.path)
        } else {
            route.path() == self.path
        };
        method_ok && path_ok
    }
}

impl From<Route> for RouteSelector {
    fn from(route: Route) -> Self {
        Self {
            method: Some(route.method().to_owned()),
            path: route.path().to_owned(),
            prefix: false,
        }
    }
}

impl FromStr for RouteSelector {
    type Err = KnobError;

    fn from_str(s: &str) -> Result<Self, KnobError> {
        let s = s.trim();
        let (method, pattern) = match s.split_once(' ') {
            Some((method, pattern)) => (Some(method.to_ascii_uppercase()), pattern.trim()),
            None => (None, s),
        };
        let (path, prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem.to_owned(), true),
            None => (pattern.to_owned(), false),
        };
        let selector = Self {
            method,
            path,
            prefix,
        };
        if Route::ALL.into_iter().any(|r| selector.selects(r)) {
            Ok(selector)
        } else {
            Err(KnobError::UnknownRoute(s.to_owned()))
        }
    }
}

/// Delay added before the selected routes answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLatency {
    /// The routes to slow down.
    pub route: RouteSelector,
    /// How long each request sleeps (asynchronously) before it is handled.
    pub delay: Duration,
}

impl RouteLatency {
    /// Adds `delay` to the routes `route` selects.
    pub fn new(route: impl Into<RouteSelector>, delay: Duration) -> Self {
        let route = route.into();
        Self { route, delay }
    }
}

impl FromStr for RouteLatency {
    type Err = KnobError;

    /// Parses `ROUTE=DURATION`, e.g. `/api/auth/me=50ms`.
    fn from_str(s: &str) -> Result<Self, KnobError> {
        let (route, value) = split_spec(s)?;
        Ok(Self::new(route, parse_duration(value)?))
    }
}

/// Fraction of requests to the selected routes that answer 500.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteErrorRate {
    /// The routes to fail.
    pub route: RouteSelector,
    /// Between 0 (never) and 1 (always); values outside are clamped.
    pub fraction: f64,
}

impl RouteErrorRate {
    /// Fails `fraction` of the requests to the routes `route` selects.
    pub fn new(route: impl Into<RouteSelector>, fraction: f64) -> Self {
        let route = route.into();
        Self { route, fraction }
    }
}

impl FromStr for RouteErrorRate {
    type Err = KnobError;

    /// Parses `ROUTE=FRACTION`, e.g. `/api/search=0.1`.
    fn from_str(s: &str) -> Result<Self, KnobError> {
        let (route, value) = split_spec(s)?;
        Ok(Self::new(route, parse_fraction(value)?))
    }
}

/// Why a knob value did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnobError {
    /// The value has no `=` between route and value.
    MissingEquals(String),
    /// The route selector selects no route.
    UnknownRoute(String),
    /// The duration is not a number followed by a known unit.
    BadDuration(String),
    /// The fraction is not a number between 0 and 1.
    BadFraction(String),
}

impl fmt::Display for KnobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnobError::MissingEquals(s) => {
                write!(f, "`{s}` is not ROUTE=VALUE; e.g. `/api/search=0.1`")
            }
            KnobError::UnknownRoute(s) => {
                write!(f, "`{s}` selects none of the shop's routes; see `--help`")
            }
            KnobError::BadDuration(s) => {
                write!(f, "`{s}` is not a duration; e.g. `50ms`, `1s`, `1.5s`")
            }
            KnobError::BadFraction(s) => {
                write!(f, "`{s}` is not a fraction from 0 to 1; e.g. `0.1`")
            }
        }
    }
}

impl Error for KnobError {}

fn split_spec(s: &str) -> Result<(RouteSelector, &str), KnobError> {
    let (route, value) = s
        .rsplit_once('=')
        .ok_or_else(|| KnobError::MissingEquals(s.to_owned()))?;
    Ok((route.parse()?, value.trim()))
}

/// Parses a duration such as `50ms`, `1s`, `1.5s`, `250us` or `2m`; a
/// bare `0` is zero.
///
/// # Errors
///
/// [`KnobError::BadDuration`] for anything else, including negative
/// numbers and missing units.
pub fn parse_duration(s: &str) -> Result<Duration, KnobError> {
    let bad = || KnobError::BadDuration(s.to_owned());
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }

    let unit_at = s.find(char::is_alphabetic).ok_or_else(bad)?;
    let (number, unit) = s.split_at(unit_at);
    let seconds_per_unit = match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(bad()),
    };

    let number: f64 = number.parse().map_err(|_| bad())?;
    Duration::try_from_secs_f64(number * seconds_per_unit).map_err(|_| bad())
}

fn parse_fraction(s: &str) -> Result<f64, KnobError> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(KnobError::BadFraction(s.to_owned())),
    }
}

/// The knobs resolved to one entry per route.
///
/// Failures are spread evenly rather than drawn at random: request `n`
/// to a route fails when `floor((n + 1) * rate)` passes `floor(n * rate)`,
/// so any run of requests fails the configured fraction, give or take
/// one, and a rate of 1 fails every request.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    delay: [Duration; Route::COUNT],
    error_rate: [f64; Route::COUNT],
    seen: [AtomicU64; Route::COUNT],
}

impl Knobs {
    pub(crate) fn new(latency: &[RouteLatency], error_rate: &[RouteErrorRate]) -> Self {
        let mut knobs = Self::default();
        for route in Route::ALL {
            let i = route.index();
            if let Some(l) = latency.iter().rfind(|l| l.route.selects(route)) {
                knobs.delay[i] = l.delay;
            }
            if let Some(e) = error_rate.iter().rfind(|e| e.route.selects(route)) {
                knobs.error_rate[i] = e.fraction.clamp(0.0, 1.0);
            }
        }
        knobs
    }

    pub(crate) fn delay(&self, route: Route) -> Duration {
        self.delay[route.index()]
    }

    /// Whether this request to `route` should fail; advances the route's
    /// failure sequence.
    pub(crate) fn should_fail(&self, route: Route) -> bool {
        let rate = self.error_rate[route.index()];
        if rate <= 0.0 {
            return false;
        }
        let n = self.seen[route.index()].fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("50ms"), Ok(ms(50)));
        assert_eq!(parse_duration("1s"), Ok(ms(1000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_are_rejected() {
        for bad in ["", "50", "ms", "-1s", "1h", "1.5.2s", "fast"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn selectors_match_by_path_prefix_and_method() {
        let sel = |s: &str| s.parse::<RouteSelector>().unwrap();
        assert!(sel("*").selects(Route::Health));
        assert!(sel("/api/orders").selects(Route::CreateOrder));
        assert!(!sel("GET /api/orders").selects(Route::CreateOrder));
        assert!(sel("post /api/orders").selects(Route::CreateOrder));
        assert!(sel("/api/catalog/*").selects(Route::Product));
        assert!(!sel("/api/catalog/products").selects(Route::Product));
    }

    #[test]
    fn selector_matching_nothing_is_an_error() {
        let err = "/api/nope".parse::<RouteSelector>().unwrap_err();
        assert_eq!(err, KnobError::UnknownRoute("/api/nope".into()));
        assert!("DELETE /api/orders".parse::<RouteSelector>().is_err());
    }

    #[test]
    fn last_matching_entry_wins() -> Result<(), KnobError> {
        let latency = ["*=10ms".parse()?, "/api/auth/me=50ms".parse()?];
        let knobs = Knobs::new(&latency, &[]);
        assert_eq!(knobs.delay(Route::Me), Duration::from_millis(50));
        assert_eq!(knobs.delay(Route::Health), Duration::from_millis(10));
        Ok(())
    }

    #[test]
    fn error_rate_fails_its_fraction_exactly() -> Result<(), KnobError> {
        let knobs = Knobs::new(&[], &["/api/search=0.25".parse()?]);
        let failed = (0..100)
            .filter(|_| knobs.should_fail(Route::Search))
            .count();
        assert_eq!(failed, 25);
        assert!(!knobs.should_fail(Route::Health));
        Ok(())
    }

    #[test]
    fn bad_fraction_names_the_value() {
        let err = "/api/search=1.5".parse::<RouteErrorRate>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`1.5` is not a fraction from 0 to 1; e.g. `0.1`"
        );
    }
}
