//! TEMPORARY until execution segments land: every agent runs the whole plan.
use loadwit_engine::Plan;
pub fn describe(index: usize, count: usize) -> (String, String) {
    (format!("{}/{count}", index + 1), String::new())
}
pub fn cut(plan: &Plan, _segment: &str, _sequence: &str) -> anyhow::Result<Plan> {
    Ok(plan.clone())
}
