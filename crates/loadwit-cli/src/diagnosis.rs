//! One-line reasons for runs that went wrong as a whole, printed after
//! the summary so a user sees the cause before scrolling through numbers.

use loadwit_metrics::format::format_count;
use loadwit_metrics::{Aggregate, RequestOutcome};

/// Says so when no request got any response: the target is down or the
/// URL is wrong, and every other number in the summary follows from that.
pub fn unreachable_target(aggregate: &Aggregate) -> Option<String> {
    let requests = aggregate.requests_by_name();
    if requests.is_empty() {
        return None;
    }
    let mut errors: Vec<(&str, u64)> = Vec::new();
    for request in &requests {
        let RequestOutcome::Error(code) = &request.outcome else {
            return None;
        };
        match errors.iter_mut().find(|(known, _)| *known == code.as_str()) {
            Some((_, count)) => *count += request.count,
            None => errors.push((code.as_str(), request.count)),
        }
    }
    errors.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    let causes: Vec<String> = errors
        .iter()
        .map(|(code, count)| format!("{code} × {}", format_count(*count)))
        .collect();
    Some(format!(
        "no request got a response ({}); is the target running, and is its URL right?",
        causes.join(", ")
    ))
}
