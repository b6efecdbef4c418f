//! The `LOADWIT_*` environment layer of options, and k6's stage shorthand
//! (`30s:100`), shared with the `--stage` flag.

use super::scenario::StageOptions;
use super::{Options, OptionsError, duration::parse_duration};

/// The variables read, with the k6 variable each stands for.
pub const VARIABLES: [(&str, &str); 4] = [
    ("LOADWIT_VUS", "K6_VUS"),
    ("LOADWIT_DURATION", "K6_DURATION"),
    ("LOADWIT_ITERATIONS", "K6_ITERATIONS"),
    ("LOADWIT_STAGES", "K6_STAGES"),
];

impl Options {
    /// The layer the `LOADWIT_*` variables make, read through `lookup`
    /// (the process environment in the CLI). Unset or empty variables
    /// leave their field unset.
    ///
    /// # Errors
    ///
    /// An [`OptionsError::Field`] naming the variable whose value does not
    /// parse.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Options, OptionsError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut options = Options::default();
        if let Some(text) = get("LOADWIT_VUS") {
            options.vus = Some(parse_count("LOADWIT_VUS", &text)?);
        }
        if let Some(text) = get("LOADWIT_ITERATIONS") {
            options.iterations = Some(parse_count("LOADWIT_ITERATIONS", &text)?);
        }
        if let Some(text) = get("LOADWIT_DURATION") {
            let duration =
                parse_duration(&text).map_err(|e| OptionsError::field("LOADWIT_DURATION", e))?;
            options.duration = Some(duration);
        }
        if let Some(text) = get("LOADWIT_STAGES") {
            let stages = text
                .split(',')
                .map(|stage| {
                    parse_stage(stage).map_err(|e| OptionsError::field("LOADWIT_STAGES", e))
                })
                .collect::<Result<_, _>>()?;
            options.stages = Some(stages);
        }
        Ok(options)
    }
}

fn parse_count(name: &str, text: &str) -> Result<u64, OptionsError> {
    text.trim()
        .parse()
        .map_err(|_| OptionsError::field(name, format!("is `{text}`, not a whole number")))
}

/// Parses one stage written as `DURATION:TARGET`, such as `30s:100`.
///
/// # Errors
///
/// A message meant to follow the flag or variable name.
pub fn parse_stage(text: &str) -> Result<StageOptions, String> {
    let text = text.trim();
    let Some((duration, target)) = text.split_once(':') else {
        return Err(format!(
            "`{text}` is not DURATION:TARGET; write it like `30s:100`"
        ));
    };
    let duration = parse_duration(duration)?;
    let target: u64 = target.trim().parse().map_err(|_| {
        format!("`{text}` has a target that is not a whole number; write it like `30s:100`")
    })?;
    Ok(StageOptions {
        duration: Some(duration),
        target: Some(target as f64),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Options, OptionsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Options::from_env(|name| map.get(name).cloned())
    }

    #[test]
    fn variables_fill_their_fields() {
        let options = env(&[
            ("LOADWIT_VUS", "7"),
            ("LOADWIT_DURATION", "1m30s"),
            ("LOADWIT_STAGES", "5s:10,10s:0"),
        ])
        .unwrap();
        assert_eq!(options.vus, Some(7));
        assert_eq!(options.duration, Some(Duration::from_secs(90)));
        let stages = options.stages.unwrap();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[1].duration, Some(Duration::from_secs(10)));
        assert_eq!(stages[1].target, Some(0.0));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = env(&[("LOADWIT_VUS", "many")]).unwrap_err();
        assert!(err.to_string().starts_with("`LOADWIT_VUS`"), "{err}");
        let err = env(&[("LOADWIT_STAGES", "30s")]).unwrap_err();
        assert!(err.to_string().contains("`LOADWIT_STAGES`"), "{err}");
        assert!(env(&[("LOADWIT_VUS", "")]).unwrap().vus.is_none());
    }
}
