//! Per-VU sample buffers and the one thread that aggregates them.
//!
//! A VU records into its own [`Recorder`] with no lock and no channel
//! operation per sample; the buffer travels to the aggregator as one batch
//! when it fills, or at the end of an iteration once [`FLUSH_EVERY`] has
//! passed, so a fast loop does not wake the aggregator per iteration. One
//! aggregator thread owns the [`Aggregate`], so histograms are never shared.
//!
//! The aggregator is also where a run is watched live: with a [`Live`]
//! it hands every batch to an [`Observer`] (the CLI's outputs write
//! there, off the VUs' threads), and every interval it closes a bucket of
//! the interval's own samples and calls the observer with the totals so
//! far, which is where thresholds are evaluated and progress is drawn.

use std::collections::HashMap;
use std::mem;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use loadwit_metrics::{Aggregate, Sample, Stamped, TagSet};

/// A batch this large is sent even mid-iteration, bounding VU memory.
const FLUSH_AT: usize = 256;

/// How stale a VU's samples may get before an iteration's end sends them.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Batches queued for the aggregator at most. When it falls behind (an
/// `--out` file slower than the load), a VU flushing a batch waits for
/// room: the load slows down instead of memory growing without bound.
const QUEUED_BATCHES: usize = 1024;

/// What watches a run from the aggregator thread.
///
/// Every method runs on the aggregator thread, never on a VU's: a slow
/// observer delays aggregation, not the test. Batches queue meanwhile.
pub trait Observer: Send {
    /// Sees every batch of samples before it is folded in.
    fn batch(&mut self, _samples: &[Stamped]) {}

    /// Called when an interval closes, `elapsed` since the aggregator
    /// started, with the totals so far and the interval's own samples.
    fn interval(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration);

    /// Called when the scenario asked to abort the test, once per call.
    fn aborted(&mut self, _reason: &str) {}

    /// Called once when the run's last recorder is gone, with the samples
    /// of the last, partial interval.
    fn finish(&mut self, total: &Aggregate, interval: &Aggregate, elapsed: Duration);
}

/// How the aggregator watches a run live.
pub struct Live {
    /// Who is told about batches and intervals.
    pub observer: Box<dyn Observer>,
    /// How long an interval is; k6's time series default is one second.
    pub interval: Duration,
    /// When set, the only system tags kept on samples (k6's
    /// `systemTags`); tags the scenario set itself are always kept.
    pub system_tags: Option<Vec<String>>,
}

impl Live {
    /// Whether `systemTags` asks for the `url` tag, which the host then
    /// sets; it is off by default, unlike k6's, to bound the series count.
    pub(crate) fn keeps_url(&self) -> bool {
        self.system_tags
            .as_ref()
            .is_some_and(|kept| kept.iter().any(|tag| tag == "url"))
    }
}

/// Filtered tag sets remembered at most; past it the memory starts over,
/// so tag sets that never repeat (ids in URLs) cannot grow it.
const MAX_REMEMBERED_TAG_SETS: usize = 10_000;

/// The tags the host itself sets, which `systemTags` can drop.
const SYSTEM_TAGS: [&str; 10] = [
    "method",
    "status",
    "name",
    "url",
    "scenario",
    "group",
    "check",
    "error_code",
    "expected_response",
    "proto",
];

/// What recorders send the aggregator.
enum Message {
    Batch(Vec<Stamped>),
    /// The scenario called `abort` with this reason.
    Abort(String),
}

/// A VU's sample buffer. Dropping it flushes what it holds.
pub(crate) struct Recorder {
    buffer: Vec<Stamped>,
    /// `None` for instances whose samples count nowhere (the `options`
    /// probe).
    sink: Option<mpsc::SyncSender<Message>>,
    flushed_at: Instant,
}

impl Recorder {
    /// A recorder that keeps nothing.
    pub(crate) fn discard() -> Self {
        Self {
            buffer: Vec::new(),
            sink: None,
            flushed_at: Instant::now(),
        }
    }

    /// An empty recorder feeding the same aggregator, for VUs made during
    /// the run.
    pub(crate) fn sibling(&self) -> Self {
        Self {
            buffer: Vec::with_capacity(FLUSH_AT / 4),
            sink: self.sink.clone(),
            flushed_at: Instant::now(),
        }
    }

    /// Buffers `sample`, stamped with the wall-clock time (one clock read).
    pub(crate) fn record(&mut self, sample: Sample) {
        let time = SystemTime::now();
        self.buffer.push(Stamped { time, sample });
        if self.buffer.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Flushes if the buffered samples have waited long enough; called at
    /// the end of each iteration.
    pub(crate) fn flush_if_due(&mut self) {
        if self.flushed_at.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Hands the buffered samples to the aggregator.
    pub(crate) fn flush(&mut self) {
        let Some(sink) = &self.sink else {
            self.buffer.clear();
            return;
        };
        if self.buffer.is_empty() {
            return;
        }
        self.flushed_at = Instant::now();
        let batch = mem::replace(&mut self.buffer, Vec::with_capacity(FLUSH_AT / 4));
        // The aggregator outlives every recorder; a closed channel means
        // the run is being torn down and the samples have nowhere to go.
        let _ = sink.send(Message::Batch(batch));
    }

    /// Flushes, then tells the aggregator the scenario aborted the test;
    /// the run's observer decides what stopping means.
    pub(crate) fn abort(&mut self, reason: String) {
        self.flush();
        if let Some(sink) = &self.sink {
            let _ = sink.send(Message::Abort(reason));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The aggregator thread and the means to make recorders for it.
pub(crate) struct Aggregator {
    sink: mpsc::SyncSender<Message>,
    thread: thread::JoinHandle<Aggregate>,
}

impl Aggregator {
    pub(crate) fn spawn(live: Option<Live>) -> Self {
        let (sink, batches) = mpsc::sync_channel::<Message>(QUEUED_BATCHES);
        let thread = thread::Builder::new()
            .name("loadwit-aggregator".into())
            .spawn(move || match live {
                Some(live) => Watch::new(live).run(&batches),
                None => fold_all(&batches),
            })
            .expect("the OS refused to start the aggregator thread");
        Self { sink, thread }
    }

    pub(crate) fn recorder(&self) -> Recorder {
        Recorder {
            buffer: Vec::with_capacity(FLUSH_AT / 4),
            sink: Some(self.sink.clone()),
            flushed_at: Instant::now(),
        }
    }

    /// Waits for every recorder to be dropped and returns the totals.
    pub(crate) fn finish(self) -> Aggregate {
        drop(self.sink);
        self.thread.join().expect("the aggregator thread panicked")
    }
}

fn fold_all(batches: &mpsc::Receiver<Message>) -> Aggregate {
    let mut aggregate = Aggregate::default();
    while let Ok(message) = batches.recv() {
        let Message::Batch(batch) = message else {
            continue;
        };
        for stamped in &batch {
            aggregate.add(&stamped.sample);
        }
    }
    aggregate
}

/// The aggregator's loop when a run is watched live.
struct Watch {
    live: Live,
    total: Aggregate,
    current: Aggregate,
    filter: Option<TagFilter>,
    started: Instant,
}

impl Watch {
    fn new(live: Live) -> Self {
        let filter = live.system_tags.as_deref().map(TagFilter::new);
        Watch {
            live,
            total: Aggregate::default(),
            current: Aggregate::default(),
            filter,
            started: Instant::now(),
        }
    }

    fn run(mut self, batches: &mpsc::Receiver<Message>) -> Aggregate {
        let mut next = self.started + self.live.interval;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            match batches.recv_timeout(wait) {
                Ok(Message::Batch(batch)) => self.fold(batch),
                Ok(Message::Abort(reason)) => self.live.observer.aborted(&reason),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next {
                let elapsed = self.started.elapsed();
                let current = mem::take(&mut self.current);
                self.live.observer.interval(&self.total, &current, elapsed);
                next += self.live.interval;
            }
        }
        let elapsed = self.started.elapsed();
        self.live
            .observer
            .finish(&self.total, &self.current, elapsed);
        self.total
    }

    fn fold(&mut self, mut batch: Vec<Stamped>) {
        if let Some(filter) = &mut self.filter {
            for stamped in &mut batch {
                filter.apply(&mut stamped.sample);
            }
        }
        self.live.observer.batch(&batch);
        for stamped in &batch {
            self.total.add(&stamped.sample);
            self.current.add(&stamped.sample);
        }
    }
}

/// Drops the system tags `systemTags` leaves out, remembering each tag
/// set's filtered form so a repeated set costs one lookup.
struct TagFilter {
    dropped: Vec<&'static str>,
    seen: HashMap<TagSet, TagSet>,
}

impl TagFilter {
    fn new(kept: &[String]) -> Self {
        let dropped = SYSTEM_TAGS
            .into_iter()
            .filter(|tag| !kept.iter().any(|k| k == tag))
            .collect();
        TagFilter {
            dropped,
            seen: HashMap::new(),
        }
    }

    fn apply(&mut self, sample: &mut Sample) {
        let tags = Sample::tags_mut(sample);
        if let Some(filtered) = self.seen.get(tags) {
            *tags = filtered.clone();
            return;
        }
        let filtered: TagSet = tags
            .iter()
            .filter(|(key, _)| !self.dropped.contains(key))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if self.seen.len() >= MAX_REMEMBERED_TAG_SETS {
            self.seen.clear();
        }
        self.seen.insert(tags.clone(), filtered.clone());
        *tags = filtered;
    }
}
