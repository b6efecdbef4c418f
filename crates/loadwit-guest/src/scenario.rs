//! The component's exports: the [`Scenario`] trait and [`export!`](crate::export!).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The lifecycle of a scenario component.
///
/// Implement it on a unit struct and hand that struct to [`export!`](crate::export!).
/// Only [`run`](Scenario::run) is required. A VU is one component
/// instance, so statics and thread-locals are per VU and survive from
/// one iteration to the next.
pub trait Scenario {
    /// Options in k6's JSON shape (`vus`, `duration`, `scenarios`,
    /// `thresholds`, ...), or an empty string for none.
    ///
    /// Called once, before anything else; command-line flags override
    /// what it returns. `serde_json::json!({ .. }).to_string()` is a
    /// handy way to write it.
    fn options() -> String {
        String::new()
    }

    /// Runs once before any iteration; the text it returns reaches every
    /// iteration and [`teardown`](Scenario::teardown) through
    /// [`setup_data`]. [`setup_json`] turns a value into such text.
    ///
    /// # Errors
    ///
    /// An error aborts the test before it starts.
    fn setup() -> Result<String, String> {
        Ok(String::new())
    }

    /// One iteration of the scenario named `exec` (its `exec` option,
    /// `"default"` when it has none); [`setup_data`] reads what `setup`
    /// returned.
    ///
    /// # Errors
    ///
    /// An error fails this iteration only: the message is counted in the
    /// summary and the VU goes on. Failed requests and checks are not
    /// errors; return one when the iteration cannot go on.
    fn run(exec: &str) -> Result<(), String>;

    /// Runs once after the last iteration; [`setup_data`] reads what
    /// `setup` returned.
    ///
    /// # Errors
    ///
    /// An error is reported in the summary.
    fn teardown() -> Result<(), String> {
        Ok(())
    }
}

/// Exports a [`Scenario`] implementation as the component's `options`,
/// `setup`, `run` and `teardown`.
///
/// Call it once, at the top level of the scenario crate:
///
/// ```no_run
/// struct Smoke;
///
/// impl loadwit_guest::Scenario for Smoke {
///     fn run(_exec: &str) -> Result<(), String> {
///         Ok(())
///     }
/// }
///
/// loadwit_guest::export!(Smoke);
/// ```
#[macro_export]
macro_rules! export {
    ($scenario:ty) => {
        const _: () = {
            use ::std::result::Result;
            use ::std::string::String;
            use ::std::vec::Vec;
            use $crate::Scenario;

            struct Exports;

            impl $crate::bindings::Guest for Exports {
                fn options() -> String {
                    <$scenario as Scenario>::options()
                }

                fn setup() -> Result<String, String> {
                    <$scenario as Scenario>::setup()
                }

                fn run(exec: String) -> Result<(), String> {
                    <$scenario as Scenario>::run(&exec)
                }

                fn teardown() -> Result<(), String> {
                    <$scenario as Scenario>::teardown()
                }
            }

            $crate::bindings::export! {
                Exports with_types_in $crate::bindings
            }
        };
    };
}

/// Encodes `value` as JSON, to return from [`Scenario::setup`].
///
/// # Errors
///
/// Fails if `value` cannot be represented as JSON, e.g. a map with
/// non-string keys.
pub fn setup_json<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|err| format!("setup data is not JSON: {err}"))
}

thread_local! {
    /// The decoded setup data: it cannot change during a run, so it is
    /// asked of the host and decoded once per VU.
    static SETUP_DATA: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// The value [`setup_json`] encoded in `setup`, decoded as a `T`, in
/// [`Scenario::run`] or [`Scenario::teardown`].
///
/// The host hands the bytes over once per VU and they are decoded once;
/// later calls with the same `T` return the kept value.
///
/// # Errors
///
/// Fails if setup returned nothing or JSON that is not a `T`.
pub fn setup_data<T: DeserializeOwned + 'static>() -> Result<Rc<T>, String> {
    let kept = SETUP_DATA.with(|cell| cell.borrow().clone());
    if let Some(value) = kept.and_then(|any| any.downcast::<T>().ok()) {
        return Ok(value);
    }
    let value = Rc::new(data_json::<T>(&crate::host::runtime::setup_data())?);
    SETUP_DATA.with(|cell| *cell.borrow_mut() = Some(value.clone()));
    Ok(value)
}

/// Decodes setup text as [`setup_json`] encoded it; [`setup_data`] does
/// this once per VU for the run's own text.
///
/// # Errors
///
/// Fails if `data` is empty (setup returned nothing) or is not JSON
/// of type `T`.
pub fn data_json<T: DeserializeOwned>(data: &str) -> Result<T, String> {
    if data.is_empty() {
        return Err("setup returned no data; return `setup_json(&value)` from `setup`".into());
    }
    serde_json::from_str(data).map_err(|err| format!("setup data does not decode: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Data {
        users: Vec<String>,
    }

    #[test]
    fn setup_data_round_trips_through_json() {
        let data = Data {
            users: vec!["demo".into()],
        };
        let bytes = setup_json(&data).unwrap();
        assert_eq!(data_json::<Data>(&bytes).unwrap(), data);
    }

    #[test]
    fn empty_setup_data_names_the_fix() {
        let err = data_json::<Data>("").unwrap_err();
        assert!(err.contains("setup_json"), "{err}");
    }
}
