//! Tag sets: the labels that split one metric into series.

use std::fmt;
use std::sync::Arc;

/// A set of key/value labels carried by a sample, such as `scenario`,
/// `name`, `method` and `status`.
///
/// Invariants: pairs are sorted by key and every key appears once, so two
/// tag sets holding the same labels compare, hash and order equal however
/// they were built. The pairs live behind one `Arc`: cloning costs a
/// reference-count increment, which lets the engine build a tag set once
/// per request shape and hand clones to every sample.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TagSet(Arc<[(Arc<str>, Arc<str>)]>);

impl TagSet {
    /// Builds a tag set from pairs in any order; when a key repeats, the
    /// later value wins.
    pub fn new<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = pairs
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();

        // The sort is stable, so within a run of equal keys the input order
        // survives and the last one is the later duplicate.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => unique.push(pair),
            }
        }
        TagSet(unique.into())
    }

    /// The value of `key`, if the set has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// A copy with one more tag, replacing the value of an existing `key`.
    pub fn with(&self, key: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> TagSet {
        let pairs = self.0.iter().cloned().chain([(key.into(), value.into())]);
        TagSet::new(pairs)
    }

    /// How many tags the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set holds no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every `(key, value)` of `filter` is in the set; an empty
    /// filter matches every set. This is how a threshold such as
    /// `http_req_duration{name:login}` selects its series.
    pub fn matches<K: AsRef<str>, V: AsRef<str>>(&self, filter: &[(K, V)]) -> bool {
        filter
            .iter()
            .all(|(key, value)| self.get(key.as_ref()) == Some(value.as_ref()))
    }
}

impl<K: Into<Arc<str>>, V: Into<Arc<str>>> FromIterator<(K, V)> for TagSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        TagSet::new(pairs)
    }
}

impl fmt::Debug for TagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Shows the set as k6 writes tag filters: `{method:GET,name:login}`.
impl fmt::Display for TagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (key, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}:{value}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_sorted_and_later_duplicates_win() {
        let tags = TagSet::new([("status", "200"), ("method", "GET"), ("status", "404")]);
        let pairs: Vec<_> = tags.iter().collect();
        assert_eq!(pairs, [("method", "GET"), ("status", "404")]);
        assert_eq!(tags.get("status"), Some("404"));
        assert_eq!(tags.get("name"), None);
    }

    #[test]
    fn order_of_construction_does_not_matter() {
        let a = TagSet::new([("a", "1"), ("b", "2")]);
        let b = TagSet::new([("b", "2"), ("a", "1")]);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "{a:1,b:2}");
    }

    #[test]
    fn with_adds_or_replaces() {
        let tags = TagSet::new([("name", "login")]);
        assert_eq!(tags.with("method", "POST").len(), 2);
        assert_eq!(tags.with("name", "me").get("name"), Some("me"));
        assert_eq!(tags.get("name"), Some("login"));
    }

    #[test]
    fn filters_match_subsets() {
        let tags = TagSet::new([("name", "login"), ("method", "POST")]);
        assert!(tags.matches::<&str, &str>(&[]));
        assert!(tags.matches(&[("name", "login")]));
        assert!(!tags.matches(&[("name", "login"), ("method", "GET")]));
        assert!(TagSet::default().is_empty());
    }
}
