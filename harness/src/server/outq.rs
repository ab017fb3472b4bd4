//! A connection's outbound frame queue, bounded in frames and in bytes: what the hub queues for
//! one client (echo replies, pushes, broadcasts, relayed data) waits here until that
//! connection's writer takes it. The byte bound keeps a client that sends large requests and
//! never reads from growing the server: without it, 1024 queued 16 MiB replies were 16 GiB.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Frames one connection's queue holds at most.
pub const QUEUE_FRAMES: usize = 1024;
/// Bytes of frames one connection's queue holds at most (≥ the largest frame, so every frame
/// fits an empty queue).
pub const QUEUE_BYTES: usize = 32 << 20;

/// A frame in the queue, holding its share of the byte bound until the writer takes it.
#[derive(Debug)]
struct Queued {
    frame: Bytes,
    _bytes: OwnedSemaphorePermit,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is at its frame or byte bound.
    Full,
    /// The connection's writer has gone.
    Closed,
}

/// The sending side, cloned by whatever replies on or pushes to the connection.
#[derive(Debug, Clone)]
pub struct FrameTx {
    tx: mpsc::Sender<Queued>,
    bytes: Arc<Semaphore>,
}

/// The receiving side, owned by the connection's writer.
#[derive(Debug)]
pub struct FrameRx {
    rx: mpsc::Receiver<Queued>,
}

/// A queue of at most `frames` frames and [`QUEUE_BYTES`] bytes.
pub fn channel(frames: usize) -> (FrameTx, FrameRx) {
    let (tx, rx) = mpsc::channel(frames);
    let bytes = Arc::new(Semaphore::new(QUEUE_BYTES));
    (FrameTx { tx, bytes }, FrameRx { rx })
}

/// The share of the byte bound a frame takes (frames over the bound take all of it).
fn share(frame: &Bytes) -> u32 {
    frame.len().min(QUEUE_BYTES) as u32
}

impl FrameTx {
    /// Queues `frame`, waiting for room (per-connection back-pressure).
    pub async fn send(&self, frame: Bytes) -> Result<(), QueueError> {
        let permit = self
            .bytes
            .clone()
            .acquire_many_owned(share(&frame))
            .await
            .map_err(|_| QueueError::Closed)?;
        self.tx
            .send(Queued {
                frame,
                _bytes: permit,
            })
            .await
            .map_err(|_| QueueError::Closed)
    }

    /// Queues `frame` if there is room now.
    pub fn try_send(&self, frame: Bytes) -> Result<(), QueueError> {
        if self.tx.is_closed() {
            return Err(QueueError::Closed);
        }
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(share(&frame))
            .map_err(|_| QueueError::Full)?;
        self.tx
            .try_send(Queued {
                frame,
                _bytes: permit,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            })
    }
}

impl FrameRx {
    /// The next frame; `None` once every sender has gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await.map(|q| q.frame)
    }

    /// The next frame if one is queued now.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.rx.try_recv().ok().map(|q| q.frame)
    }

    /// Appends `first` and then what is already queued, each length-prefixed, to `buf` until
    /// it holds `limit` bytes or the queue is empty: one write for a burst of frames.
    pub fn coalesce_prefixed(&mut self, buf: &mut BytesMut, first: &[u8], limit: usize) {
        crate::frame::put_prefixed(buf, first);
        while buf.len() < limit {
            match self.try_recv() {
                Some(f) => crate::frame::put_prefixed(buf, &f),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_queue_refuses_what_would_go_over_its_byte_bound_and_frees_it_when_taken() {
        let (tx, mut rx) = channel(QUEUE_FRAMES);
        let big = Bytes::from(vec![0u8; QUEUE_BYTES / 2]);
        tx.try_send(big.clone()).unwrap();
        tx.try_send(big.clone()).unwrap();
        // Two frames of 1024 fit by count; the third does not fit by bytes.
        assert_eq!(tx.try_send(Bytes::from_static(b"x")), Err(QueueError::Full));
        assert_eq!(rx.recv().await.unwrap().len(), QUEUE_BYTES / 2);
        tx.try_send(Bytes::from_static(b"x")).unwrap();
        // A waiting send gets in once the writer takes enough.
        let t = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(big).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!t.is_finished());
        assert_eq!(rx.recv().await.unwrap().len(), QUEUE_BYTES / 2);
        t.await.unwrap().unwrap();
        drop(rx);
        assert_eq!(tx.try_send(Bytes::new()), Err(QueueError::Closed));
        assert_eq!(tx.send(Bytes::new()).await, Err(QueueError::Closed));
    }

    #[tokio::test]
    async fn the_queue_refuses_what_would_go_over_its_frame_bound() {
        let (tx, mut rx) = channel(2);
        tx.try_send(Bytes::from_static(b"a")).unwrap();
        tx.try_send(Bytes::from_static(b"b")).unwrap();
        assert_eq!(tx.try_send(Bytes::from_static(b"c")), Err(QueueError::Full));
        let mut buf = BytesMut::new();
        let first = rx.recv().await.unwrap();
        rx.coalesce_prefixed(&mut buf, &first, 1 << 20);
        assert_eq!(
            crate::frame::split_prefixed(&buf).unwrap(),
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
    }
}
