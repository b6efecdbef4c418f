//! Splitting a plan into the part one runner of a distributed run
//! executes, so that the parts of all runners add up to the whole plan.
//!
//! What each executor's part holds, for the segment with stripe `s`
//! (see [`segment`](super::segment)):
//!
//! - `constant-vus`, `per-vu-iterations`: `s.scale(vus)` VUs, each with
//!   the whole plan's duration or iterations per VU.
//! - `shared-iterations`: `s.scale(vus)` VUs, and the iterations dealt,
//!   as k6 does, over a sequence re-cut in proportion to each segment's
//!   VUs: they sum exactly and a segment with no VU gets no iteration to
//!   strand.
//! - `ramping-vus`: the whole ramp is computed, and at every instant the
//!   segment runs `s.scale(count)` of its `count` VUs; stage targets are
//!   shown scaled the same way.
//! - arrival rates: the whole schedule is computed and the segment starts
//!   exactly the iterations whose global index its stripe takes, at their
//!   global due times; `preAllocatedVUs` and `maxVUs` are scaled, with at
//!   least one VU when the schedule can start anything. The rates shown
//!   are the segment's average share.

use std::sync::Arc;

use super::plan::{Executor, Plan, Rate, ScenarioPlan, Share, Stage, VuBudget};
use super::segment::{ExecutionSegment, SegmentError, SegmentSequence, Stripe};

impl Plan {
    /// The part of this plan that the runner of `segment` executes, within
    /// `sequence`. Splitting a plan already split starts again from the
    /// whole plan.
    ///
    /// # Errors
    ///
    /// [`SegmentError::NotInSequence`] when `segment` is not one of the
    /// sequence's parts, [`SegmentError::TooFine`] when the sequence's
    /// denominators are too large to deal.
    pub fn segment(
        &self,
        segment: &ExecutionSegment,
        sequence: &SegmentSequence,
    ) -> Result<Plan, SegmentError> {
        let position = sequence.position(segment)?;
        let stripes = sequence.stripes()?;
        let scenarios = self
            .scenarios
            .iter()
            .map(|scenario| scenario.split(&stripes, position))
            .collect();
        Ok(Plan {
            scenarios,
            http: self.http.clone(),
            segment: *segment,
            sequence: sequence.clone(),
        })
    }
}

impl ScenarioPlan {
    fn split(&self, stripes: &[Stripe], position: usize) -> ScenarioPlan {
        let whole = self.whole_executor().clone();
        let stripe = stripes[position].clone();
        let executor = split_executor(&whole, stripes, position);
        ScenarioPlan {
            executor,
            share: (!stripe.is_whole()).then(|| Arc::new(Share { stripe, whole })),
            ..self.clone()
        }
    }
}

fn split_executor(whole: &Executor, stripes: &[Stripe], position: usize) -> Executor {
    let stripe = &stripes[position];
    let scale = |n: u64| stripe.scale(n);
    let scale_stages = |stages: &[Stage]| -> Vec<Stage> {
        stages
            .iter()
            .map(|stage| Stage {
                duration: stage.duration,
                target: scale(stage.target),
            })
            .collect()
    };
    match whole {
        Executor::ConstantVus { vus, duration } => Executor::ConstantVus {
            vus: scale(*vus),
            duration: *duration,
        },
        Executor::RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
        } => Executor::RampingVus {
            start_vus: scale(*start_vus),
            stages: scale_stages(stages),
            graceful_ramp_down: *graceful_ramp_down,
        },
        Executor::PerVuIterations {
            vus,
            iterations,
            max_duration,
        } => Executor::PerVuIterations {
            vus: scale(*vus),
            iterations: *iterations,
            max_duration: *max_duration,
        },
        Executor::SharedIterations {
            vus,
            iterations,
            max_duration,
        } => Executor::SharedIterations {
            vus: scale(*vus),
            iterations: shared_iterations(*iterations, *vus, stripes, position),
            max_duration: *max_duration,
        },
        Executor::ConstantArrivalRate {
            rate,
            duration,
            vus,
            max_lateness,
        } => Executor::ConstantArrivalRate {
            rate: scale_rate(*rate, stripe),
            duration: *duration,
            vus: scale_budget(*vus, stripe, rate.iterations > 0.0),
            max_lateness: *max_lateness,
        },
        Executor::RampingArrivalRate {
            start_rate,
            stages,
            vus,
            max_lateness,
        } => {
            let starts_any = start_rate.iterations > 0.0 || stages.iter().any(|s| s.target > 0);
            Executor::RampingArrivalRate {
                start_rate: scale_rate(*start_rate, stripe),
                stages: scale_stages(stages),
                vus: scale_budget(*vus, stripe, starts_any),
                max_lateness: *max_lateness,
            }
        }
    }
}

/// The segment's iterations of a `shared-iterations` scenario, dealt as
/// k6 deals them: over a sequence re-cut in proportion to the segments'
/// VUs, so a segment with no VU gets no iteration to strand.
fn shared_iterations(iterations: u64, vus: u64, stripes: &[Stripe], position: usize) -> u64 {
    let shares: Vec<u64> = stripes.iter().map(|s| s.scale(vus)).collect();
    if shares[position] == 0 {
        return 0;
    }
    let index = shares[..position]
        .iter()
        .filter(|&&share| share > 0)
        .count();
    let by_vus = SegmentSequence::proportional(&shares)
        .expect("this segment has VUs")
        .stripes();
    match by_vus {
        Ok(stripes) => stripes[index].scale(iterations),
        // Past a million VUs the deal's block is too large to compute;
        // cumulative cuts are exact in total too.
        Err(_) => {
            let before: u64 = shares[..position].iter().sum();
            let cut = |vus_before: u64| {
                (u128::from(iterations) * u128::from(vus_before) / u128::from(vus)) as u64
            };
            cut(before + shares[position]) - cut(before)
        }
    }
}

/// VU limits scaled; a segment that may start iterations keeps one VU so
/// none of its arrivals is dropped for want of any VU at all.
fn scale_budget(vus: VuBudget, stripe: &Stripe, starts_any: bool) -> VuBudget {
    let floor = u64::from(starts_any);
    VuBudget {
        pre_allocated: stripe.scale(vus.pre_allocated),
        max: stripe.scale(vus.max).max(floor),
    }
}

/// The segment's average rate, for display: the whole rate times the
/// segment's length.
fn scale_rate(rate: Rate, stripe: &Stripe) -> Rate {
    let length = stripe.length();
    Rate {
        iterations: rate.iterations * (*length.numer() as f64) / (*length.denom() as f64),
        time_unit: rate.time_unit,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::options::Options;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn whole_plan(json: &str) -> Plan {
        Options::from_json(json).unwrap().plan().unwrap()
    }

    /// Every segment of an even split of `n`, each as its own plan.
    fn parts(plan: &Plan, n: u64) -> Vec<Plan> {
        let sequence = SegmentSequence::even(n);
        sequence
            .segments()
            .map(|segment| plan.segment(&segment, &sequence).unwrap())
            .collect()
    }

    fn executors(parts: &[Plan]) -> Vec<Executor> {
        parts
            .iter()
            .map(|p| p.scenarios[0].executor.clone())
            .collect()
    }

    #[test]
    fn closed_loop_counts_sum_exactly_for_every_split() {
        for n in 1..=7 {
            for vus in [1, 2, 7, 13, 101] {
                let json = format!(
                    r#"{{"scenarios": {{
                        "c": {{"executor": "constant-vus", "vus": {vus}, "duration": "9s"}},
                        "p": {{"executor": "per-vu-iterations", "vus": {vus}, "iterations": 5}},
                        "s": {{"executor": "shared-iterations", "vus": {vus}, "iterations": 101}}
                    }}}}"#
                );
                let whole = whole_plan(&json);
                let parts = parts(&whole, n);
                let (mut c, mut p, mut s_vus, mut s_its) = (0, 0, 0, 0);
                let mut max_vus = 0;
                for part in &parts {
                    max_vus += part.max_vus();
                    for scenario in &part.scenarios {
                        match scenario.executor {
                            Executor::ConstantVus { vus, duration } => {
                                assert_eq!(duration, secs(9));
                                c += vus;
                            }
                            Executor::PerVuIterations {
                                vus, iterations, ..
                            } => {
                                assert_eq!(iterations, 5);
                                p += vus * iterations;
                            }
                            Executor::SharedIterations {
                                vus, iterations, ..
                            } => {
                                assert!(vus > 0 || iterations == 0, "n={n} vus={vus}");
                                s_vus += vus;
                                s_its += iterations;
                            }
                            _ => unreachable!(),
                        }
                    }
                }
                assert_eq!((c, p, s_vus, s_its), (vus, vus * 5, vus, 101), "n={n}");
                assert_eq!(max_vus, whole.max_vus(), "n={n} vus={vus}");
            }
        }
    }

    /// `(vus, iterations)` of each of `n` parts of a shared-iterations plan.
    fn shared_split(whole: &Plan, n: u64) -> Vec<(u64, u64)> {
        executors(&parts(whole, n))
            .into_iter()
            .map(|e| match e {
                Executor::SharedIterations {
                    vus, iterations, ..
                } => (vus, iterations),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn shared_iterations_follow_each_segments_vus() {
        let whole = whole_plan(r#"{"vus": 7, "iterations": 101}"#);
        let split = shared_split(&whole, 3);
        assert_eq!(split, [(3, 43), (2, 29), (2, 29)]);
    }

    #[test]
    fn shared_iterations_are_dealt_over_the_vus_sequence_as_k6_does() {
        // 2 VUs over 3 segments: 1, 1, 0. The iterations are dealt over
        // `0,1/2,1`, the first segment taking the odd one.
        let whole = whole_plan(r#"{"vus": 2, "iterations": 5}"#);
        let split = shared_split(&whole, 3);
        assert_eq!(split, [(1, 3), (1, 2), (0, 0)]);
    }

    #[test]
    fn ramping_vus_segments_sum_to_the_whole_count_at_every_instant() {
        let json = r#"{"scenarios": {"r": {"executor": "ramping-vus", "startVUs": 3,
            "stages": [{"duration": "7s", "target": 17}, {"duration": "3s", "target": 17},
                       {"duration": "5s", "target": 4}, {"duration": "2s", "target": 0}]}}}"#;
        let whole = whole_plan(json);
        let Executor::RampingVus {
            start_vus, stages, ..
        } = whole.scenarios[0].executor.clone()
        else {
            unreachable!()
        };
        for n in 1..=7 {
            let parts = parts(&whole, n);
            let mut max_vus = 0;
            let mut targets = vec![0; stages.len()];
            for part in &parts {
                max_vus += part.max_vus();
                let Executor::RampingVus { stages, .. } = &part.scenarios[0].executor else {
                    unreachable!()
                };
                for (sum, stage) in targets.iter_mut().zip(stages) {
                    *sum += stage.target;
                }
            }
            let whole_targets: Vec<_> = stages.iter().map(|s| s.target).collect();
            assert_eq!(targets, whole_targets, "n={n}");
            assert_eq!(max_vus, 17, "n={n}");
            for ms in (0..=17_000).step_by(50) {
                let at = Duration::from_millis(ms);
                let whole_count = crate::executor::planned_vus(&whole.scenarios[0], at);
                let sum: u64 = parts
                    .iter()
                    .map(|p| crate::executor::planned_vus(&p.scenarios[0], at))
                    .sum();
                assert_eq!(sum, whole_count, "n={n} at {ms} ms");
            }
            let start: u64 = parts
                .iter()
                .map(|p| crate::executor::planned_vus(&p.scenarios[0], Duration::ZERO))
                .sum();
            assert_eq!(start, start_vus);
        }
    }

    #[test]
    fn arrival_rate_segments_start_exactly_the_whole_schedule() {
        let json = r#"{"scenarios": {
            "c": {"executor": "constant-arrival-rate", "rate": 37, "timeUnit": "1s",
                  "duration": "3s", "preAllocatedVUs": 5, "maxVUs": 11},
            "r": {"executor": "ramping-arrival-rate", "startRate": 3, "timeUnit": "1s",
                  "preAllocatedVUs": 7, "maxVUs": 13,
                  "stages": [{"duration": "2s", "target": 29}, {"duration": "1s", "target": 29},
                             {"duration": "3s", "target": 0}]}}}"#;
        let whole = whole_plan(json);
        for (index, scenario) in whole.scenarios.iter().enumerate() {
            let mut expected: Vec<Duration> = crate::executor::due_times(scenario).collect();
            assert!(expected.len() > 100, "{}", expected.len());
            expected.sort();
            for n in 1..=7 {
                let parts = parts(&whole, n);
                let mut union: Vec<Duration> = parts
                    .iter()
                    .flat_map(|p| crate::executor::due_times(&p.scenarios[index]))
                    .collect();
                union.sort();
                assert_eq!(union, expected, "{} n={n}", scenario.name);
                let (mut pre, mut max) = (0, 0);
                for part in &parts {
                    let budget = match part.scenarios[index].executor {
                        Executor::ConstantArrivalRate { vus, .. }
                        | Executor::RampingArrivalRate { vus, .. } => vus,
                        _ => unreachable!(),
                    };
                    pre += budget.pre_allocated;
                    max += budget.max;
                }
                let whole_budget = match scenario.executor {
                    Executor::ConstantArrivalRate { vus, .. }
                    | Executor::RampingArrivalRate { vus, .. } => vus,
                    _ => unreachable!(),
                };
                assert_eq!(pre, whole_budget.pre_allocated, "n={n}");
                assert_eq!(max, whole_budget.max, "n={n}");
            }
        }
    }

    #[test]
    fn arrival_segments_keep_one_vu_when_maxvus_is_below_the_runner_count() {
        let whole = whole_plan(
            r#"{"scenarios": {"c": {"executor": "constant-arrival-rate", "rate": 10,
                "duration": "1s", "preAllocatedVUs": 1}}}"#,
        );
        for part in parts(&whole, 3) {
            let Executor::ConstantArrivalRate { vus, rate, .. } = part.scenarios[0].executor else {
                unreachable!()
            };
            assert_eq!(vus.max, 1);
            assert!((rate.iterations - 10.0 / 3.0).abs() < 1e-9);
        }
    }

    #[test]
    fn uneven_sequences_split_exactly_too() {
        let whole = whole_plan(r#"{"vus": 13, "iterations": 1001}"#);
        let sequence = SegmentSequence::parse("0,1/8,0.5,90%,1").unwrap();
        let (mut vus, mut iterations) = (0, 0);
        for segment in sequence.segments() {
            let part = whole.segment(&segment, &sequence).unwrap();
            assert_eq!(part.segment, segment);
            let Executor::SharedIterations {
                vus: v,
                iterations: i,
                ..
            } = part.scenarios[0].executor
            else {
                unreachable!()
            };
            vus += v;
            iterations += i;
        }
        assert_eq!((vus, iterations), (13, 1001));
        let outside = ExecutionSegment::parse_range("0:1/2").unwrap();
        assert!(whole.segment(&outside, &sequence).is_err());
    }

    #[test]
    fn splitting_a_part_again_starts_from_the_whole() {
        let whole = whole_plan(r#"{"vus": 9, "duration": "1s"}"#);
        let sequence = SegmentSequence::even(3);
        let first = sequence.segments().next().unwrap();
        let part = whole.segment(&first, &sequence).unwrap();
        let again = part.segment(&first, &sequence).unwrap();
        assert_eq!(again.max_vus(), 3);
        let whole_again = part
            .segment(&ExecutionSegment::default(), &SegmentSequence::default())
            .unwrap();
        assert_eq!(whole_again.max_vus(), 9);
        assert!(whole_again.scenarios[0].share.is_none());
    }
}
