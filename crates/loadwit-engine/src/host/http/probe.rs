//! An I/O wrapper that timestamps a connection's reads and writes and
//! counts its bytes: where `sending`, `waiting` and the data counters come
//! from.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection's I/O has done, shared by the connection's task and
/// the request reading it.
///
/// Instants are nanoseconds since `base` plus one, so 0 means "not yet".
/// Only one request at a time uses an HTTP/1.1 connection, so `arm` and
/// the readings never race; HTTP/2 requests read only the byte counts'
/// totals, not the instants.
#[derive(Debug)]
pub(crate) struct Probe {
    base: Instant,
    last_write: AtomicU64,
    first_read: AtomicU64,
    written: AtomicU64,
    read: AtomicU64,
}

impl Probe {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            last_write: AtomicU64::new(0),
            first_read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            read: AtomicU64::new(0),
        })
    }

    /// Forgets the instants of the previous request, before sending one.
    pub(crate) fn arm(&self) {
        self.last_write.store(0, Ordering::Relaxed);
        self.first_read.store(0, Ordering::Relaxed);
    }

    /// When the request's last byte was written, if it was.
    pub(crate) fn last_write(&self) -> Option<Instant> {
        self.instant(&self.last_write)
    }

    /// When the first byte after the request's writes arrived, if one did.
    pub(crate) fn first_read(&self) -> Option<Instant> {
        self.instant(&self.first_read)
    }

    /// Bytes written and read on the socket so far.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        (
            self.written.load(Ordering::Relaxed),
            self.read.load(Ordering::Relaxed),
        )
    }

    fn instant(&self, cell: &AtomicU64) -> Option<Instant> {
        match cell.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.base + Duration::from_nanos(n - 1)),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn on_write(&self, n: usize, records: Records) {
        if n == 0 {
            return;
        }
        if records.times() {
            self.last_write.store(self.now(), Ordering::Relaxed);
        }
        if records.counts() {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    fn on_read(&self, n: usize, records: Records) {
        if n == 0 {
            return;
        }
        // Bytes before the request was written (a keep-alive probe, say)
        // are not its response.
        if records.times()
            && self.last_write.load(Ordering::Relaxed) != 0
            && self.first_read.load(Ordering::Relaxed) == 0
        {
            self.first_read.store(self.now(), Ordering::Relaxed);
        }
        if records.counts() {
            self.read.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// What a [`Probed`] layer records.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Records {
    /// Byte counts only: the socket under TLS.
    Bytes,
    /// Instants only: the plaintext over TLS, so TLS records that carry
    /// no HTTP bytes do not count as the response's first byte.
    Instants,
    /// Both: a plain-HTTP socket.
    Both,
}

/// `inner` with its I/O reported to a [`Probe`].
pub(crate) struct Probed<T> {
    inner: T,
    probe: Arc<Probe>,
    records: Records,
}

impl Records {
    fn counts(self) -> bool {
        !matches!(self, Records::Instants)
    }

    fn times(self) -> bool {
        !matches!(self, Records::Bytes)
    }
}

impl<T> Probed<T> {
    pub(crate) fn new(inner: T, probe: Arc<Probe>, records: Records) -> Self {
        Self {
            inner,
            probe,
            records,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Probed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let n = buf.filled().len() - before;
            this.probe.on_read(n, this.records);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Probed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.probe.on_write(n, this.records);
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            this.probe.on_write(n, this.records);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn first_read_counts_only_after_a_write() {
        let (client, mut server) = tokio::io::duplex(64);
        let probe = Probe::new();
        let mut probed = Probed::new(client, probe.clone(), Records::Both);

        server.write_all(b"early").await.unwrap();
        let mut buf = [0; 5];
        probed.read_exact(&mut buf).await.unwrap();
        assert!(probe.first_read().is_none(), "a read before any write");

        probe.arm();
        probed.write_all(b"GET").await.unwrap();
        server.write_all(b"reply").await.unwrap();
        probed.read_exact(&mut buf).await.unwrap();
        let (written, read) = probe.bytes();
        assert_eq!((written, read), (3, 10));
        assert!(probe.first_read().unwrap() >= probe.last_write().unwrap());
    }
}
