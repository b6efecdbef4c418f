//! Per-VU sample buffers and the one thread that aggregates them.
//!
//! A VU records into its own [`Recorder`] with no lock and no channel
//! operation per sample; the buffer travels to the aggregator as one batch
//! when it fills, or at the end of an iteration once [`FLUSH_EVERY`] has
//! passed, so a fast loop does not wake the aggregator per iteration. One
//! aggregator thread owns the [`Aggregate`], so histograms are never shared.

use std::mem;
use std::thread;
use std::time::{Duration, Instant};

use loadwit_metrics::{Aggregate, Sample};
use tokio::sync::mpsc;

/// A batch this large is sent even mid-iteration, bounding VU memory.
const FLUSH_AT: usize = 256;

/// How stale a VU's samples may get before an iteration's end sends them.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A VU's sample buffer. Dropping it flushes what it holds.
pub(crate) struct Recorder {
    buffer: Vec<Sample>,
    /// `None` for instances whose samples count nowhere (the `options`
    /// probe).
    sink: Option<mpsc::UnboundedSender<Vec<Sample>>>,
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

    pub(crate) fn record(&mut self, sample: Sample) {
        self.buffer.push(sample);
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
        let _ = sink.send(batch);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The aggregator thread and the means to make recorders for it.
pub(crate) struct Aggregator {
    sink: mpsc::UnboundedSender<Vec<Sample>>,
    thread: thread::JoinHandle<Aggregate>,
}

impl Aggregator {
    pub(crate) fn spawn() -> Self {
        let (sink, mut batches) = mpsc::unbounded_channel::<Vec<Sample>>();
        let thread = thread::Builder::new()
            .name("loadwit-aggregator".into())
            .spawn(move || {
                let mut aggregate = Aggregate::default();
                while let Some(batch) = batches.blocking_recv() {
                    aggregate.add_all(&batch);
                }
                aggregate
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
