//! The engine-neutral face of a server-side WebRTC peer. An engine's `accept` answers an offer
//! and hands back a [`ServerPeer`]: the answer SDP and a stream of [`PeerEvent`]s. Each channel
//! the client opens arrives as an [`RtcChannel`]: a [`ChannelWriter`] that sends frames on that
//! channel (waiting while it holds [`MAX_BUFFERED`](super::MAX_BUFFERED) bytes) and an
//! [`Inbound`] stream of the messages that arrive on it, in order.
//!
//! The engines know nothing of what is done with these: the server (`server::rtc`) turns them
//! into hub calls, once for both engines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::transport::api::TransportError;

/// A server-side peer: the complete answer to send back, and what happens to the peer.
#[derive(Debug)]
pub struct ServerPeer {
    /// The complete answer SDP (candidates gathered, no trickle).
    pub answer: String,
    /// Channels opening and the peer ending, in order. After [`PeerEvent::Closed`] nothing
    /// more comes.
    pub events: mpsc::UnboundedReceiver<PeerEvent>,
}

/// What a server-side peer reports.
#[derive(Debug)]
pub enum PeerEvent {
    /// The client opened a channel (the first one is its downstream).
    Opened(RtcChannel),
    /// The peer ended (closed by either side, ICE lost, or the session deleted); with the
    /// reason when the engine failed.
    Closed(Option<TransportError>),
}

/// One open data channel of a server-side peer.
pub struct RtcChannel {
    /// Sends frames on this channel.
    pub writer: Box<dyn ChannelWriter>,
    /// Messages arriving on this channel.
    pub inbound: Inbound,
}

impl std::fmt::Debug for RtcChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcChannel").finish_non_exhaustive()
    }
}

/// Sends whole frames on one data channel, waiting while the channel pushes back.
#[async_trait]
pub trait ChannelWriter: Send {
    /// Sends one frame (already checked against [`MAX_MESSAGE`](super::MAX_MESSAGE)). An error
    /// means the channel or its peer is gone.
    async fn write(&mut self, frame: Bytes) -> Result<(), TransportError>;
}

/// A message received on a data channel.
#[derive(Debug)]
pub enum Message {
    /// A binary message: a frame.
    Binary(Bytes),
    /// A text message (the protocol is binary: the server counts and drops it).
    Text,
}

/// A message and, for an engine waiting on it, the signal that it has been handled.
type InboundMessage = (Message, Option<oneshot::Sender<()>>);

/// Messages a channel's [`Inbound`] holds before a pushing engine's messages are dropped.
pub const INBOUND_QUEUE: usize = 4096;

/// The engine's end of an [`Inbound`] stream.
#[derive(Debug, Clone)]
pub struct InboundTx {
    tx: mpsc::Sender<InboundMessage>,
    dropped: Arc<AtomicU64>,
}

/// Messages arriving on one channel, in order; ends when the engine drops every [`InboundTx`].
/// Bounded ([`INBOUND_QUEUE`]): while its consumer is blocked, an engine that cannot wait
/// (str0m's event loop) has its messages dropped and counted ([`Inbound::take_dropped`]).
#[derive(Debug)]
pub struct Inbound {
    rx: mpsc::Receiver<InboundMessage>,
    /// Released when the consumer asks for the next message (the previous one is handled).
    handled: Option<oneshot::Sender<()>>,
    dropped: Arc<AtomicU64>,
}

impl Inbound {
    /// A new stream and the engine's end of it.
    pub fn channel() -> (InboundTx, Inbound) {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        (
            InboundTx {
                tx,
                dropped: dropped.clone(),
            },
            Inbound {
                rx,
                handled: None,
                dropped,
            },
        )
    }

    /// Messages dropped on a full queue since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// The next message; asking for it also tells the engine the previous one is handled.
    pub async fn next(&mut self) -> Option<Message> {
        if let Some(done) = self.handled.take() {
            let _ = done.send(());
        }
        let (m, handled) = self.rx.recv().await?;
        self.handled = handled;
        Some(m)
    }
}

impl InboundTx {
    /// Queues a message without waiting, for an event loop that must not block (str0m's):
    /// a full queue drops it (counted); false when the consumer is gone.
    pub fn push(&self, m: Message) -> bool {
        match self.tx.try_send((m, None)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a message and waits until the consumer has handled it (asked for the next one,
    /// or stopped), so an engine that reads a channel in its own task (webrtc-rs's) reads
    /// no further meanwhile and the sender feels the backpressure.
    pub async fn deliver(&self, m: Message) {
        let (done, handled) = oneshot::channel();
        if self.tx.send((m, Some(done))).await.is_ok() {
            let _ = handled.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delivering engine waits until the consumer asks for the next message (or stops); a
    /// pushing one never waits.
    #[tokio::test]
    async fn deliver_waits_until_the_message_is_handled() {
        let (tx, mut inbound) = Inbound::channel();
        let sender = tokio::spawn({
            let tx = tx.clone();
            async move { tx.deliver(Message::Binary(Bytes::from_static(b"a"))).await }
        });
        assert!(matches!(inbound.next().await, Some(Message::Binary(_))));
        tokio::task::yield_now().await;
        assert!(
            !sender.is_finished(),
            "released before the next message was asked for"
        );
        assert!(tx.push(Message::Text));
        assert!(matches!(inbound.next().await, Some(Message::Text)));
        assert!(sender.await.is_ok());
        drop(tx);
        assert!(inbound.next().await.is_none());
    }

    #[tokio::test]
    async fn a_pushing_engine_is_bounded_and_its_drops_counted() {
        let (tx, mut inbound) = Inbound::channel();
        for _ in 0..INBOUND_QUEUE + 10 {
            assert!(tx.push(Message::Text));
        }
        assert_eq!(inbound.take_dropped(), 10);
        assert_eq!(inbound.take_dropped(), 0);
        assert!(matches!(inbound.next().await, Some(Message::Text)));
    }
}
