//! Execution segments: the share of a test that one runner executes.
//!
//! A distributed run splits the unit interval `0..1` into consecutive
//! segments, one per runner: the *segment sequence* (k6's
//! `--execution-segment-sequence`). Each runner is told its own segment
//! (`--segment 2/3`, or k6's `--execution-segment 1/3:2/3`).
//!
//! Counts are not divided by multiplying: `7 × 1/3` is no whole number,
//! and rounding each runner's share on its own makes the parts add up to
//! 6 or 8. Instead the sequence deals items out like cards. Every runner
//! computes the same deal from the same sequence: in each block of
//! [`Stripe::period`] consecutive items (the least common denominator of
//! the segments' lengths), a segment of length `l` takes exactly
//! `l × period` items, spread as evenly as the block allows. A segment's
//! share of `n` items (VUs, iterations, the arrivals of a schedule) is the
//! number of items below `n` dealt to it, so the shares of all segments
//! sum to `n` for every `n`, odd counts included.
//!
//! All arithmetic is on exact rationals; decimals and percentages are read
//! as the fractions they write.

use std::fmt;
use std::str::FromStr;

use num_rational::Ratio;

/// A rational number in `0..=1`, exact.
pub type Fraction = Ratio<u64>;

/// The most items one block of the deal may hold: bounds the time and
/// memory spent on sequences with awkward denominators.
pub const MAX_PERIOD: u64 = 1_000_000;

/// Why a segment or sequence was refused; the message names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The text is no segment or value.
    #[error("`{text}` is not {expected}")]
    Syntax {
        /// What was written.
        text: String,
        /// What was expected, e.g. "a segment like `2/3`".
        expected: &'static str,
    },
    /// The numbers parse but break a rule.
    #[error("`{text}` {problem}")]
    Invalid {
        /// What was written.
        text: String,
        /// The rule broken.
        problem: String,
    },
    /// The segment is not one of the sequence's parts.
    #[error(
        "segment `{segment}` is not one of the parts of the sequence `{sequence}`; \
         give every runner the same sequence and a segment between two adjacent values"
    )]
    NotInSequence {
        /// The segment, as `a:b`.
        segment: String,
        /// The sequence, as `0,a,b,...,1`.
        sequence: String,
    },
    /// The sequence's denominators make the deal too large to compute.
    #[error(
        "the segment sequence `{sequence}` needs blocks of {period} items, over the limit \
         of {MAX_PERIOD}; use simpler fractions"
    )]
    TooFine {
        /// The sequence, as `0,a,b,...,1`.
        sequence: String,
        /// The least common denominator of its lengths.
        period: u128,
    },
}

/// One runner's share of a test: the range `from..to` of `0..1`.
///
/// Invariant: `0 <= from < to <= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExecutionSegment {
    from: Fraction,
    to: Fraction,
}

impl Default for ExecutionSegment {
    /// The whole test: `0:1`.
    fn default() -> Self {
        Self {
            from: Fraction::from_integer(0),
            to: Fraction::from_integer(1),
        }
    }
}

impl ExecutionSegment {
    /// The segment `from..to`.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Invalid`] unless `0 <= from < to <= 1`.
    pub fn new(from: Fraction, to: Fraction) -> Result<Self, SegmentError> {
        if from >= to || to > Fraction::from_integer(1) {
            return Err(SegmentError::Invalid {
                text: format!("{from}:{to}"),
                problem: "must have its start below its end, both within 0 and 1".into(),
            });
        }
        Ok(Self { from, to })
    }

    /// The `index`-th (from 1) of `count` equal parts, as `--segment
    /// index/count` writes it.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Invalid`] unless `1 <= index <= count`.
    pub fn nth(index: u64, count: u64) -> Result<Self, SegmentError> {
        if index == 0 || index > count {
            return Err(SegmentError::Invalid {
                text: format!("{index}/{count}"),
                problem: "must be `i/n` with i from 1 to n, e.g. `2/3` for the second of three"
                    .into(),
            });
        }
        Self::new(Fraction::new(index - 1, count), Fraction::new(index, count))
    }

    /// Parses `--segment`'s form, `i/n`: the `i`-th of `n` equal parts,
    /// counted from 1.
    ///
    /// # Errors
    ///
    /// [`SegmentError`] when the text is not `i/n` with `1 <= i <= n`.
    pub fn parse_nth(text: &str) -> Result<Self, SegmentError> {
        let syntax = || SegmentError::Syntax {
            text: text.to_owned(),
            expected: "a segment like `2/3` (the second of three equal parts)",
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Self::nth(index, count).map_err(|_| SegmentError::Invalid {
            text: text.to_owned(),
            problem: "must be `i/n` with i from 1 to n, e.g. `2/3` for the second of three".into(),
        })
    }

    /// Parses k6's `--execution-segment` form: `from:to`, or a single
    /// value `to` meaning `0:to`. Each value is a fraction (`1/3`), a
    /// decimal (`0.25`) or a percentage (`25%`).
    ///
    /// # Errors
    ///
    /// [`SegmentError`] when a value does not parse or the range is empty
    /// or outside `0..1`.
    pub fn parse_range(text: &str) -> Result<Self, SegmentError> {
        let (from, to) = match text.split_once(':') {
            Some((from, to)) => (parse_value(from)?, parse_value(to)?),
            None => (Fraction::from_integer(0), parse_value(text)?),
        };
        Self::new(from, to).map_err(|_| SegmentError::Invalid {
            text: text.to_owned(),
            problem: "must have its start below its end, both within 0 and 1, e.g. `1/3:2/3`"
                .into(),
        })
    }

    /// Where the segment starts.
    pub fn from(&self) -> Fraction {
        self.from
    }

    /// Where the segment ends.
    pub fn to(&self) -> Fraction {
        self.to
    }

    /// The segment's length, `to - from`.
    pub fn length(&self) -> Fraction {
        self.to - self.from
    }

    /// Whether this is the whole test, `0:1`.
    pub fn is_whole(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the two share any part of `0..1`.
    pub fn overlaps(&self, other: &ExecutionSegment) -> bool {
        self.from < other.to && other.from < self.to
    }

    /// The sequence a runner assumes when none is given: the even split
    /// when the segment is one of `n` equal parts (`1/3:2/3` in
    /// `0,1/3,2/3,1`), else `0`, the segment's ends and `1`.
    pub fn default_sequence(&self) -> SegmentSequence {
        let length = self.length();
        let even = *length.numer() == 1 && (self.from / length).is_integer();
        if even {
            return SegmentSequence::even(*length.denom());
        }
        let mut bounds = vec![Fraction::from_integer(0)];
        bounds.extend([self.from, self.to]);
        bounds.push(Fraction::from_integer(1));
        bounds.dedup();
        SegmentSequence { bounds }
    }
}

/// Shows `from:to`, as k6 writes a segment.
impl fmt::Display for ExecutionSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.from, self.to)
    }
}

impl FromStr for ExecutionSegment {
    type Err = SegmentError;

    /// Reads what [`Display`](fmt::Display) writes, and every form of
    /// [`parse_range`](ExecutionSegment::parse_range).
    fn from_str(text: &str) -> Result<Self, SegmentError> {
        Self::parse_range(text)
    }
}

/// How `0..1` is cut into the segments of a distributed run: the bounds,
/// from `0` to `1`, strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentSequence {
    bounds: Vec<Fraction>,
}

impl Default for SegmentSequence {
    /// One segment, the whole test.
    fn default() -> Self {
        Self::even(1)
    }
}

impl SegmentSequence {
    /// `count` equal parts: `0, 1/count, ..., 1`.
    pub fn even(count: u64) -> Self {
        let count = count.max(1);
        let bounds = (0..=count).map(|i| Fraction::new(i, count)).collect();
        Self { bounds }
    }

    /// Parses k6's `--execution-segment-sequence`: values separated by
    /// commas, in increasing order, each a fraction, decimal or
    /// percentage. `0` and `1` are added when left out.
    ///
    /// # Errors
    ///
    /// [`SegmentError`] when a value does not parse or the values do not
    /// increase strictly.
    pub fn parse(text: &str) -> Result<Self, SegmentError> {
        let mut bounds = text
            .split(',')
            .map(parse_value)
            .collect::<Result<Vec<_>, _>>()?;
        if bounds.first() != Some(&Fraction::from_integer(0)) {
            bounds.insert(0, Fraction::from_integer(0));
        }
        if bounds.last() != Some(&Fraction::from_integer(1)) {
            bounds.push(Fraction::from_integer(1));
        }
        if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(SegmentError::Invalid {
                text: text.to_owned(),
                problem: "must list values that strictly increase from 0 to 1, e.g. `0,1/3,2/3,1`"
                    .into(),
            });
        }
        Ok(Self { bounds })
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = ExecutionSegment> + '_ {
        self.bounds.windows(2).map(|pair| ExecutionSegment {
            from: pair[0],
            to: pair[1],
        })
    }

    /// How many segments the sequence has.
    pub fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Whether the sequence is the whole test alone; never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where `segment` sits in the sequence, from 0.
    ///
    /// # Errors
    ///
    /// [`SegmentError::NotInSequence`] when the segment is not one of
    /// the parts.
    pub fn position(&self, segment: &ExecutionSegment) -> Result<usize, SegmentError> {
        self.segments()
            .position(|part| part == *segment)
            .ok_or_else(|| SegmentError::NotInSequence {
                segment: segment.to_string(),
                sequence: self.to_string(),
            })
    }

    /// The sequence that cuts `0..1` in proportion to `shares`, leaving
    /// out zero shares; `None` when all are zero. k6 re-cuts a test this
    /// way to deal one count (shared iterations) in proportion to how
    /// another (VUs) was dealt.
    pub(crate) fn proportional(shares: &[u64]) -> Option<Self> {
        let total: u64 = shares.iter().sum();
        if total == 0 {
            return None;
        }
        let mut bounds = vec![Fraction::from_integer(0)];
        let mut so_far = 0;
        for &share in shares.iter().filter(|&&share| share > 0) {
            so_far += share;
            bounds.push(Fraction::new(so_far, total));
        }
        Some(Self { bounds })
    }

    /// Deals items out to every segment of the sequence, in order.
    ///
    /// # Errors
    ///
    /// [`SegmentError::TooFine`] when a block would exceed
    /// [`MAX_PERIOD`] items.
    pub fn stripes(&self) -> Result<Vec<Stripe>, SegmentError> {
        let lengths: Vec<Fraction> = self.segments().map(|s| s.length()).collect();
        let period = lengths
            .iter()
            .try_fold(1u128, |lcm, length| {
                let lcm = num_integer::lcm(lcm, u128::from(*length.denom()));
                (lcm <= u128::from(MAX_PERIOD)).then_some(lcm).ok_or(lcm)
            })
            .map_err(|period| SegmentError::TooFine {
                sequence: self.to_string(),
                period,
            })? as u64;
        let quotas: Vec<u64> = lengths
            .iter()
            .map(|length| (*length * period).to_integer())
            .collect();
        Ok(deal(period, &quotas)
            .into_iter()
            .map(|taken| Stripe { period, taken })
            .collect())
    }

    /// The stripe of `segment`.
    ///
    /// # Errors
    ///
    /// As [`position`](Self::position) and [`stripes`](Self::stripes).
    pub fn stripe(&self, segment: &ExecutionSegment) -> Result<Stripe, SegmentError> {
        let position = self.position(segment)?;
        Ok(self.stripes()?.swap_remove(position))
    }
}

/// Shows the bounds separated by commas, as k6 writes a sequence.
impl fmt::Display for SegmentSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, bound) in self.bounds.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{bound}")?;
        }
        Ok(())
    }
}

impl FromStr for SegmentSequence {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Self, SegmentError> {
        Self::parse(text)
    }
}

/// Which items of every block of `period` consecutive items a segment
/// takes. Item `k` belongs to the segment when `k % period` is one of
/// `taken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    period: u64,
    /// Positions within a block, increasing.
    taken: Vec<u64>,
}

impl Stripe {
    /// The stripe of the whole test: every item.
    pub fn whole() -> Self {
        Self {
            period: 1,
            taken: vec![0],
        }
    }

    /// How many consecutive items one block holds.
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The share of all items the stripe takes.
    pub fn length(&self) -> Fraction {
        Fraction::new(self.taken.len() as u64, self.period)
    }

    /// Whether item `k` (from 0) belongs to the segment.
    pub fn contains(&self, k: u64) -> bool {
        self.taken.binary_search(&(k % self.period)).is_ok()
    }

    /// The segment's share of `n` items: how many of items `0..n` it takes.
    pub fn scale(&self, n: u64) -> u64 {
        let blocks = n / self.period;
        let rest = n % self.period;
        blocks * self.taken.len() as u64 + self.taken.partition_point(|&p| p < rest) as u64
    }

    /// Whether this stripe takes every item.
    pub fn is_whole(&self) -> bool {
        self.taken.len() as u64 == self.period
    }
}

/// Deals the `period` items of a block to segments that must get
/// `quotas[j]` items each (the quotas sum to `period`), by k6's striping
/// rule, so a loadwit runner and a k6 runner of the same segment take the
/// same items.
///
/// Segments are visited largest quota first (ties in sequence order).
/// Item `i` goes to the first of them that has not yet had its share of
/// the items before it: a segment that took `c` items so far qualifies
/// once `i >= c × period / quota`. Some segment always qualifies, since
/// the quotas sum to the period. The deal is a pure function of the
/// quotas, so every runner computes the same one.
fn deal(period: u64, quotas: &[u64]) -> Vec<Vec<u64>> {
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by_key(|&j| std::cmp::Reverse(quotas[j]));
    let mut taken: Vec<Vec<u64>> = quotas
        .iter()
        .map(|&quota| Vec::with_capacity(quota as usize))
        .collect();
    for item in 0..period {
        // `item >= c × period / quota`, without division.
        let qualifies = |j: usize| {
            u128::from(item) * u128::from(quotas[j]) >= taken[j].len() as u128 * u128::from(period)
        };
        let next = order
            .iter()
            .copied()
            .find(|&j| qualifies(j))
            .expect("the quotas sum to the period, so one segment is owed an item");
        taken[next].push(item);
    }
    taken
}

/// Parses one bound: `1/3`, `0.25`, `25%`, `0` or `1`.
fn parse_value(text: &str) -> Result<Fraction, SegmentError> {
    let trimmed = text.trim();
    let syntax = || SegmentError::Syntax {
        text: text.to_owned(),
        expected: "a value like `1/3`, `0.25` or `25%`",
    };
    let value = if let Some(percent) = trimmed.strip_suffix('%') {
        decimal(percent.trim()).ok_or_else(syntax)? / 100
    } else if let Some((numer, denom)) = trimmed.split_once('/') {
        let numer: u64 = numer.trim().parse().map_err(|_| syntax())?;
        let denom: u64 = denom.trim().parse().map_err(|_| syntax())?;
        if denom == 0 {
            return Err(syntax());
        }
        Fraction::new(numer, denom)
    } else {
        decimal(trimmed).ok_or_else(syntax)?
    };
    if value > Fraction::from_integer(1) {
        return Err(SegmentError::Invalid {
            text: text.to_owned(),
            problem: "is above 1; segment bounds lie within 0 and 1".into(),
        });
    }
    Ok(value)
}

/// An unsigned decimal such as `0.125`, exactly.
fn decimal(text: &str) -> Option<Fraction> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return None;
    }
    if whole.len() > 6 || fraction.len() > 12 {
        return None;
    }
    let scale = 10u64.pow(fraction.len() as u32);
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    Some(Fraction::new(whole * scale + fraction, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frac(n: u64, d: u64) -> Fraction {
        Fraction::new(n, d)
    }

    #[test]
    fn every_written_form_parses_exactly() {
        let s = ExecutionSegment::parse_nth("2/3").unwrap();
        assert_eq!((s.from(), s.to()), (frac(1, 3), frac(2, 3)));
        let s = ExecutionSegment::parse_range("1/3:2/3").unwrap();
        assert_eq!((s.from(), s.to()), (frac(1, 3), frac(2, 3)));
        let s = ExecutionSegment::parse_range("0.25:75%").unwrap();
        assert_eq!((s.from(), s.to()), (frac(1, 4), frac(3, 4)));
        let s = ExecutionSegment::parse_range("12.5%").unwrap();
        assert_eq!((s.from(), s.to()), (frac(0, 1), frac(1, 8)));
        assert_eq!(s.to_string(), "0:1/8");
        assert_eq!(s.to_string().parse::<ExecutionSegment>().unwrap(), s);
        let seq = SegmentSequence::parse("0, 0.3, 50%, 1").unwrap();
        assert_eq!(seq.to_string(), "0,3/10,1/2,1");
        assert_eq!(SegmentSequence::parse("1/4,1/2").unwrap().len(), 3);
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        for text in ["0/3", "4/3", "x/3", "2", "2/0", ""] {
            assert!(ExecutionSegment::parse_nth(text).is_err(), "{text}");
        }
        for text in ["2/3:1/3", "0:3/2", "a:b", "1/3:1/3", "-1:1", "0:1/0"] {
            assert!(ExecutionSegment::parse_range(text).is_err(), "{text}");
        }
        let err = SegmentSequence::parse("0,1/2,1/3,1").unwrap_err();
        assert!(err.to_string().contains("strictly increase"), "{err}");
        let seq = SegmentSequence::even(3);
        let err = seq
            .position(&ExecutionSegment::parse_range("0:1/2").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("not one of the parts"), "{err}");
    }

    #[test]
    fn default_sequences_follow_the_segment() {
        let s = ExecutionSegment::parse_nth("2/3").unwrap();
        assert_eq!(s.default_sequence().to_string(), "0,1/3,2/3,1");
        let s = ExecutionSegment::parse_range("1/4:1").unwrap();
        assert_eq!(s.default_sequence().to_string(), "0,1/4,1");
        let s = ExecutionSegment::parse_range("1/4:3/4").unwrap();
        assert_eq!(s.default_sequence().to_string(), "0,1/4,3/4,1");
        assert_eq!(ExecutionSegment::default().default_sequence().len(), 1);
    }

    #[test]
    fn even_splits_deal_round_robin() {
        let stripes = SegmentSequence::even(3).stripes().unwrap();
        let owner = |k: u64| stripes.iter().position(|s| s.contains(k)).unwrap();
        let owners: Vec<_> = (0..7).map(owner).collect();
        assert_eq!(owners, [0, 1, 2, 0, 1, 2, 0]);
        let shares: Vec<_> = stripes.iter().map(|s| s.scale(7)).collect();
        assert_eq!(shares, [3, 2, 2]);
    }

    #[test]
    fn uneven_deals_give_the_larger_segment_priority_as_k6_does() {
        let taken = |text: &str| -> Vec<Vec<u64>> {
            let stripes = SegmentSequence::parse(text).unwrap().stripes().unwrap();
            stripes
                .iter()
                .map(|s| (0..s.period()).filter(|&k| s.contains(k)).collect())
                .collect()
        };
        assert_eq!(taken("0,1/3,1"), [vec![1], vec![0, 2]]);
        assert_eq!(taken("0,1/2,5/6,1"), [vec![0, 2, 4], vec![1, 3], vec![5]]);
    }

    #[test]
    fn shares_sum_to_every_count_for_uneven_sequences() {
        let sequences = [
            "0,1/3,1",
            "0,1/4,1/2,1",
            "0,0.1,0.35,0.5,0.95,1",
            "0,1/7,3/7,4/7,1",
            "0,1/6,1/3,1/2,2/3,5/6,1",
        ];
        for text in sequences {
            let sequence = SegmentSequence::parse(text).unwrap();
            let stripes = sequence.stripes().unwrap();
            for n in 0..500 {
                let total: u64 = stripes.iter().map(|s| s.scale(n)).sum();
                assert_eq!(total, n, "{text} n={n}");
                let owners = stripes.iter().filter(|s| s.contains(n)).count();
                assert_eq!(owners, 1, "{text} item {n}");
            }
            // Each segment's share stays within one item of its length.
            for (stripe, segment) in stripes.iter().zip(sequence.segments()) {
                for n in 0..500u64 {
                    let ideal = segment.length() * n;
                    let share = Fraction::from_integer(stripe.scale(n));
                    let gap = if share > ideal {
                        share - ideal
                    } else {
                        ideal - share
                    };
                    assert!(gap < Fraction::from_integer(1), "{text} {segment} n={n}");
                }
            }
        }
    }

    #[test]
    fn awkward_denominators_are_refused() {
        let err = SegmentSequence::parse("0,1/999983,1/2,1/999979,1").unwrap_err();
        assert!(matches!(err, SegmentError::Invalid { .. }), "{err}");
        let err = SegmentSequence::parse("0,1/999983,1/999979,1")
            .unwrap()
            .stripes()
            .unwrap_err();
        assert!(err.to_string().contains("simpler fractions"), "{err}");
    }
}
