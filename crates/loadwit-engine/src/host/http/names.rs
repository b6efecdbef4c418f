//! The guard on URL cardinality: each distinct `name` tag is a series in
//! every HTTP metric, so a run keeps at most [`MAX_NAMES`] of them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Distinct `name` tags a run keeps before folding the rest into one.
pub(crate) const MAX_NAMES: usize = 500;

/// The `name` of requests past the limit.
pub(crate) const OVERFLOW_NAME: &str = "(other names)";

/// The names a run has admitted, shared by its VUs.
///
/// A VU asks only for names it has not admitted before (see
/// [`NameCache`]), so the lock is taken once per new name per VU, not per
/// request; once the limit is hit the set is frozen and read without it.
#[derive(Debug, Default)]
pub(crate) struct NameGuard {
    admitted: Mutex<HashSet<String>>,
    frozen: OnceLock<HashSet<String>>,
    warned: AtomicBool,
}

impl NameGuard {
    fn admit(&self, name: &str) -> bool {
        if let Some(frozen) = self.frozen.get() {
            return frozen.contains(name);
        }
        let mut admitted = self
            .admitted
            .lock()
            .expect("the name set is never poisoned");
        if let Some(frozen) = self.frozen.get() {
            return frozen.contains(name);
        }
        if admitted.contains(name) {
            return true;
        }
        if admitted.len() < MAX_NAMES {
            admitted.insert(name.to_owned());
            return true;
        }
        let _ = self.frozen.set(admitted.clone());
        false
    }

    fn warn_once(&self, name: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "more than {MAX_NAMES} distinct request names (the latest `{name}`); \
                 further ones are counted under `{OVERFLOW_NAME}`; \
                 set `name` on requests whose URL carries ids or queries"
            );
        }
    }
}

/// A VU's own memory of admitted names, so repeated names cost no lock.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    admitted: HashSet<String>,
}

impl NameCache {
    /// `name`, or [`OVERFLOW_NAME`] once the run has too many.
    pub(crate) fn tag<'a>(&mut self, guard: &NameGuard, name: &'a str) -> &'a str {
        if self.admitted.contains(name) {
            return name;
        }
        if guard.admit(name) {
            self.admitted.insert(name.to_owned());
            return name;
        }
        guard.warn_once(name);
        OVERFLOW_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_limit_fold_into_one() {
        let guard = NameGuard::default();
        let mut cache = NameCache::default();
        for i in 0..MAX_NAMES {
            assert_eq!(
                cache.tag(&guard, &format!("/item/{i}")),
                format!("/item/{i}")
            );
        }
        assert_eq!(cache.tag(&guard, "/item/new"), OVERFLOW_NAME);
        assert_eq!(cache.tag(&guard, "/item/7"), "/item/7");
        let mut other_vu = NameCache::default();
        assert_eq!(other_vu.tag(&guard, "/item/8"), "/item/8");
        assert_eq!(other_vu.tag(&guard, "/item/newer"), OVERFLOW_NAME);
    }
}
