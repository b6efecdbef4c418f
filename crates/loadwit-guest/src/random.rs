//! Fast, non-cryptographic random numbers for think times, users and
//! search terms.
//!
//! Each VU has its own xorshift generator, seeded on first use from the
//! wall clock, the VU's id and its iteration, so VUs do not move in
//! lockstep. Call [`seed`] for a repeatable sequence. Never use these
//! numbers for secrets.
//!
//! ```no_run
//! use loadwit_guest::random;
//!
//! let user = random::range(1..=100);
//! let term = random::pick(&["shoe", "lamp", "coffee"]);
//! let think = random::range(0.1..0.3);
//! if random::chance(0.2) { /* one iteration in five */ }
//! ```

use std::cell::Cell;
use std::ops::{Range, RangeInclusive};

thread_local! {
    /// The xorshift64* state; 0 means "not seeded yet".
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// Restarts this VU's generator from `seed`, for a repeatable sequence.
pub fn seed(seed: u64) {
    STATE.with(|state| state.set(nonzero(splitmix64(seed))));
}

/// A random `u64`, every value equally likely.
pub fn u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = nonzero(splitmix64(initial_seed()));
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A random value in `range`: `lo..hi` or `lo..=hi`, of any primitive
/// integer type, `f32` or `f64`.
///
/// # Panics
///
/// Panics if the range is empty (`5..5`, `3..=1`) or, for floats, not
/// finite.
pub fn range<T, R: SampleRange<T>>(range: R) -> T {
    range.sample()
}

/// A random element of `items`.
///
/// # Panics
///
/// Panics if `items` is empty.
pub fn pick<T>(items: &[T]) -> &T {
    assert!(!items.is_empty(), "random::pick: no items to pick from");
    &items[range(0..items.len())]
}

/// `true` with probability `p`: always below 0, never above 1.
pub fn chance(p: f64) -> bool {
    unit() < p
}

/// A range [`range`] can draw from.
///
/// Implemented for `Range` and `RangeInclusive` of the primitive
/// integers, `f32` and `f64`.
pub trait SampleRange<T> {
    /// Draws one value.
    fn sample(self) -> T;
}

macro_rules! int_ranges {
    ($($t:ty => $unsigned:ty),* $(,)?) => {$(
        impl SampleRange<$t> for Range<$t> {
            fn sample(self) -> $t {
                assert!(self.start < self.end, "random::range: empty range {self:?}");
                let span = self.end.wrapping_sub(self.start) as $unsigned as u64;
                self.start.wrapping_add(below(span) as $t)
            }
        }

        impl SampleRange<$t> for RangeInclusive<$t> {
            fn sample(self) -> $t {
                let (lo, hi) = self.into_inner();
                assert!(lo <= hi, "random::range: empty range {lo:?}..={hi:?}");
                let span = (hi.wrapping_sub(lo) as $unsigned as u64).wrapping_add(1);
                if span == 0 {
                    // The whole 64-bit range.
                    return u64() as $t;
                }
                lo.wrapping_add(below(span) as $t)
            }
        }
    )*};
}

int_ranges!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, isize => usize,
);

macro_rules! float_ranges {
    ($($t:ty),*) => {$(
        impl SampleRange<$t> for Range<$t> {
            fn sample(self) -> $t {
                let Range { start, end } = self;
                assert!(start < end, "random::range: empty range {start:?}..{end:?}");
                assert!((end - start).is_finite(), "random::range: infinite range");
                // Rounding can land on `end`; stay inside the half-open range.
                let value = start + (end - start) * unit() as $t;
                if value < end { value } else { start }
            }
        }

        impl SampleRange<$t> for RangeInclusive<$t> {
            fn sample(self) -> $t {
                let (lo, hi) = self.into_inner();
                assert!(lo <= hi, "random::range: empty range {lo:?}..={hi:?}");
                assert!((hi - lo).is_finite(), "random::range: infinite range");
                (lo + (hi - lo) * unit() as $t).min(hi)
            }
        }
    )*};
}

float_ranges!(f32, f64);

/// A uniform float in `[0, 1)`.
fn unit() -> f64 {
    (u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A value in `0..span`, by multiply-shift (bias below 2^-64 · span).
fn below(span: u64) -> u64 {
    ((u128::from(u64()) * u128::from(span)) >> 64) as u64
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn nonzero(x: u64) -> u64 {
    if x == 0 { 0x9e37_79b9_7f4a_7c15 } else { x }
}

fn initial_seed() -> u64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    clock ^ vu_entropy()
}

#[cfg(target_arch = "wasm32")]
fn vu_entropy() -> u64 {
    (u64::from(crate::vu_id()) << 40) ^ u64::from(crate::iteration())
}

/// Off wasm there is no host to ask; the clock alone seeds the tests.
#[cfg(not(target_arch = "wasm32"))]
fn vu_entropy() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_stay_in_bounds_and_reach_both_ends() {
        let mut seen = [false; 5];
        for _ in 0..1_000 {
            let n: i32 = range(-2..=2);
            seen[(n + 2) as usize] = true;
        }
        assert_eq!(seen, [true; 5]);
        for _ in 0..1_000 {
            assert!((10u8..20).contains(&range(10u8..20)));
        }
    }

    #[test]
    fn full_ranges_do_not_overflow() {
        let _: u64 = range(0..=u64::MAX);
        let _: i8 = range(i8::MIN..=i8::MAX);
    }

    #[test]
    fn float_ranges_stay_in_bounds() {
        for _ in 0..1_000 {
            let x = range(0.1..0.3);
            assert!((0.1..0.3).contains(&x), "{x}");
        }
        assert_eq!(range(0.0..=0.0), 0.0);
    }

    #[test]
    #[should_panic(expected = "empty range")]
    fn empty_range_panics() {
        let _: u32 = range(5..5);
    }

    #[test]
    fn seed_makes_sequences_repeat() {
        seed(7);
        let first: Vec<u64> = (0..4).map(|_| u64()).collect();
        seed(7);
        let second: Vec<u64> = (0..4).map(|_| u64()).collect();
        assert_eq!(first, second);
    }

    #[test]
    fn chance_respects_its_extremes() {
        assert!((0..100).all(|_| chance(1.0)));
        assert!((0..100).all(|_| !chance(0.0)));
    }

    #[test]
    fn pick_returns_an_element() {
        let items = ["shoe", "lamp"];
        assert!(items.contains(pick(&items)));
    }
}
