//! What a VU knows about its place in the run.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::host::runtime as host;

/// Pauses this VU for `duration`; the host runs other VUs meanwhile.
pub fn sleep(duration: Duration) {
    host::sleep(duration.as_secs_f64());
}

/// Pauses this VU for `seconds` (fractions allowed, e.g. `0.25`).
pub fn sleep_secs(seconds: f64) {
    host::sleep(seconds);
}

/// This VU's number, from 1, unique within the run.
pub fn vu_id() -> u32 {
    host::vu_id()
}

/// How many iterations this VU had started before the current one,
/// from 0.
pub fn iteration() -> u32 {
    host::iteration()
}

/// The name of the scenario this VU is running.
pub fn scenario() -> String {
    host::scenario()
}

thread_local! {
    /// Values already asked of the host; they cannot change during a run.
    static ENV: RefCell<BTreeMap<String, Option<String>>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// The variable `key`, as passed with `-e KEY=VALUE` or the options'
/// `env`; never the host's own environment.
///
/// Each key is asked of the host once per VU and remembered.
pub fn env(key: &str) -> Option<String> {
    ENV.with(|cache| {
        if let Some(value) = cache.borrow().get(key) {
            return value.clone();
        }
        let value = host::env(key);
        cache.borrow_mut().insert(key.to_owned(), value.clone());
        value
    })
}

/// Every variable `env` knows, sorted by name: k6's `__ENV`.
pub fn env_all() -> BTreeMap<String, String> {
    host::env_all().into_iter().collect()
}

/// The variable `key`, or `default` when it is not set.
pub fn env_or(key: &str, default: impl Into<String>) -> String {
    env(key).unwrap_or_else(|| default.into())
}

/// The variable `key` parsed as a `T`, or `default` when it is not set.
///
/// ```no_run
/// # fn run() -> Result<(), String> {
/// let think: f64 = loadwit_guest::env_parse("THINK_SECS", 0.5)?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// Fails, naming the variable, if it is set but does not parse.
pub fn env_parse<T>(key: &str, default: T) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    match env(key) {
        Some(value) => parse_var(key, &value),
        None => Ok(default),
    }
}

fn parse_var<T>(key: &str, value: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    value.trim().parse().map_err(|err| {
        let ty = std::any::type_name::<T>();
        format!("`{key}` must be a {ty}, got {value:?}: {err}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_var_accepts_padded_numbers() {
        assert_eq!(parse_var::<f64>("THINK_MIN", " 0.25 "), Ok(0.25));
    }

    #[test]
    fn parse_var_error_names_the_variable_and_type() {
        let err = parse_var::<u32>("LIMIT", "ten").unwrap_err();
        assert!(
            err.starts_with("`LIMIT` must be a u32, got \"ten\""),
            "{err}"
        );
    }
}
