//! The flags that make `loadwit run` execute one runner's share of a
//! distributed test: loadwit's `--segment i/n` and k6's
//! `--execution-segment` and `--execution-segment-sequence`.

use anyhow::Context;
use clap::Args;
use loadwit_engine::{ExecutionSegment, Plan, SegmentSequence};

/// Which share of the test this process runs.
#[derive(Args, Debug, Default, Clone)]
pub struct SegmentFlags {
    /// Run only this share of the test, as `i/n`: the i-th of n equal
    /// parts, counted from 1 (`LOADWIT_SEGMENT` sets it too).
    ///
    /// n processes given `1/n` to `n/n` together run exactly the whole
    /// test: VUs, iterations, stage targets and arrivals are dealt out so
    /// the parts add up, odd counts included. Combine their
    /// `--out result=FILE` files with `loadwit merge`.
    #[arg(
        long,
        value_name = "i/n",
        env = "LOADWIT_SEGMENT",
        conflicts_with = "execution_segment"
    )]
    segment: Option<String>,

    /// Run only the share `FROM:TO` of the test, as k6 writes it: each
    /// bound a fraction (`1/3`), decimal (`0.25`) or percentage (`25%`);
    /// a single value `TO` means `0:TO`.
    #[arg(long, value_name = "FROM:TO")]
    execution_segment: Option<String>,

    /// How the whole test is cut between all runners, as k6 writes it:
    /// increasing bounds separated by commas, e.g. `0,1/4,1/2,1`.
    ///
    /// Every runner must be given the same sequence. Without it, a
    /// segment of n equal parts assumes the even split, and another
    /// segment assumes `0,FROM,TO,1`.
    #[arg(long, value_name = "BOUNDS")]
    execution_segment_sequence: Option<String>,
}

impl SegmentFlags {
    /// The segment and sequence the flags ask for; `None` for the whole
    /// test.
    ///
    /// # Errors
    ///
    /// A one-line message naming the flag whose value does not parse.
    pub fn resolve(&self) -> anyhow::Result<Option<(ExecutionSegment, SegmentSequence)>> {
        let segment = match (&self.segment, &self.execution_segment) {
            (Some(text), _) => {
                Some(ExecutionSegment::parse_nth(text).context("`--segment` is invalid")?)
            }
            (None, Some(text)) => Some(
                ExecutionSegment::parse_range(text).context("`--execution-segment` is invalid")?,
            ),
            (None, None) => None,
        };
        let sequence = match &self.execution_segment_sequence {
            Some(text) => Some(
                SegmentSequence::parse(text)
                    .context("`--execution-segment-sequence` is invalid")?,
            ),
            None => None,
        };
        Ok(match (segment, sequence) {
            (None, None) => None,
            (Some(segment), sequence) => {
                let sequence = sequence.unwrap_or_else(|| segment.default_sequence());
                Some((segment, sequence))
            }
            (None, Some(_)) => anyhow::bail!(
                "`--execution-segment-sequence` needs a segment; add `--segment i/n` or \
                 `--execution-segment FROM:TO`"
            ),
        })
    }

    /// `plan` cut down to the share the flags ask for, or unchanged.
    ///
    /// # Errors
    ///
    /// As [`resolve`](Self::resolve), and when the segment is not one of
    /// the sequence's parts.
    pub fn apply(&self, plan: Plan) -> anyhow::Result<Plan> {
        let Some((segment, sequence)) = self.resolve()? else {
            return Ok(plan);
        };
        Ok(plan.segment(&segment, &sequence)?)
    }
}
