//! Zero-copy artifact bodies: the kernel's `sendfile(2)` from the artifact file to the client's
//! socket, for the filesystem store on the server's plain-HTTP connections.
//!
//! actix-web writes every body through its own buffer (a copy) and then the socket (another), after
//! the store has read the file (one more). Here the server's connections are [`Conn`]s, a TCP
//! stream that can also send a stretch of a file itself; a response body of a [`SendfileBody`]
//! hands its file to the connection instead of yielding bytes. The ordering on the wire comes from
//! the dispatcher: it flushes the I/O only once its buffer (the response head) is fully written,
//! so [`Conn`] sends a queued file from `poll_flush` and nowhere else, and the body ends once the
//! file is sent. Everything in front of the body (routing, access checks, `Range`, the DoS filter,
//! the access log, metrics) is unchanged; only the bytes take another path.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::metrics::Metrics;

/// At most this much per `sendfile` call (nginx's `sendfile_max_chunk` default).
const CALL_MAX: usize = 2 << 20;
/// After this much in one poll the connection yields, so that one fast client cannot keep a worker
/// from its other connections.
const POLL_MAX: u64 = 8 << 20;

/// A file stretch waiting for, or being sent by, the connection.
struct Job {
    file: File,
    offset: u64,
    left: u64,
    metrics: Arc<Metrics>,
    /// Set by the connection's flush: everything before the body is on the wire.
    started: bool,
    outcome: Option<io::Result<()>>,
    body: Option<Waker>,
}

/// A connection's slot for one file being sent; the request's handler finds it in the
/// connection data (`HttpRequest::conn_data`).
#[derive(Clone, Default)]
pub struct Slot(Rc<RefCell<Option<Job>>>);

/// The server's plain-HTTP connection: a TCP stream that sends a queued file on flush.
pub struct Conn {
    tcp: TcpStream,
    slot: Slot,
    /// `TCP_CORK` is on: a file is being sent.
    corked: bool,
}

impl Conn {
    pub fn new(tcp: TcpStream) -> Self {
        Conn {
            tcp,
            slot: Slot::default(),
            corked: false,
        }
    }

    /// Corks the socket while a file is queued or being sent, and uncorks it after, as nginx's
    /// `tcp_nopush` does: the response head goes out with the file's first bytes, and only full
    /// segments are sent until the end, when uncorking sends the rest at once. Without it a
    /// `sendfile` into a nearly full socket buffer sends the few bytes that fit as a segment of
    /// their own. Failing to set the option only costs that, so its error is ignored.
    fn sync_cork(&mut self) {
        let sending = self.slot.0.borrow().as_ref().is_some_and(|j| j.outcome.is_none());
        if sending != self.corked {
            self.corked = sending;
            let _ = rustix::net::sockopt::set_tcp_cork(&self.tcp, sending);
        }
    }

    pub fn slot(&self) -> Slot {
        self.slot.clone()
    }

    /// Sends the queued file, if the body queued one and the response head is written; Ready once
    /// it is sent or has failed (the failure goes to the body, which ends the response with it).
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.slot.0.borrow_mut();
        let Some(job) = slot.as_mut().filter(|j| j.started && j.outcome.is_none()) else {
            return Poll::Ready(());
        };
        let mut sent = 0u64;
        let outcome = loop {
            if job.left == 0 {
                break Ok(());
            }
            if sent >= POLL_MAX {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.tcp.poll_write_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => break Err(e),
                Poll::Ready(Ok(())) => {}
            }
            let want = job.left.min(CALL_MAX as u64) as usize;
            let (tcp, file, offset) = (&self.tcp, &job.file, &mut job.offset);
            match tcp.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(tcp, file, Some(offset), want).map_err(io::Error::from)
            }) {
                Ok(0) => {
                    break Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "artifact shorter than recorded",
                    ));
                }
                Ok(n) => {
                    job.left -= n as u64;
                    sent += n as u64;
                    job.metrics.artifact_bytes.add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        job.outcome = Some(outcome);
        if let Some(w) = job.body.take() {
            w.wake();
        }
        Poll::Ready(())
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // A file being sent goes out before anything written after it (the dispatcher writes
        // nothing while its body is pending; this keeps the order if that ever changes).
        self.sync_cork();
        std::task::ready!(self.drive(cx));
        self.sync_cork();
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(job) = self.slot.0.borrow_mut().as_mut() {
            job.started = true;
        }
        self.sync_cork();
        std::task::ready!(self.drive(cx));
        self.sync_cork();
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A response body of `len` bytes of `file` from `offset`, sent by the connection of `slot`. The
/// response carries the length (`no_chunking`); actix sees a stream that yields no bytes.
pub struct SendfileBody {
    slot: Slot,
    queued: Option<Job>,
    /// The job is in the slot (until the body takes its outcome or is dropped).
    in_slot: bool,
}

impl SendfileBody {
    pub fn new(slot: Slot, file: File, offset: u64, len: u64, metrics: Arc<Metrics>) -> Self {
        SendfileBody {
            slot,
            queued: Some(Job {
                file,
                offset,
                left: len,
                metrics,
                started: false,
                outcome: None,
                body: None,
            }),
            in_slot: false,
        }
    }
}

impl MessageBody for SendfileBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, io::Error>>> {
        let this = self.get_mut();
        let mut slot = this.slot.0.borrow_mut();
        if let Some(mut job) = this.queued.take() {
            if slot.is_some() {
                return Poll::Ready(Some(Err(io::Error::other(
                    "the connection is already sending a file",
                ))));
            }
            job.body = Some(cx.waker().clone());
            *slot = Some(job);
            this.in_slot = true;
            return Poll::Pending;
        }
        match slot.as_mut() {
            None => return Poll::Ready(None),
            Some(job) if job.outcome.is_none() => {
                job.body = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Some(_) => {}
        }
        this.in_slot = false;
        match slot.take().and_then(|j| j.outcome) {
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            _ => Poll::Ready(None),
        }
    }
}

impl Drop for SendfileBody {
    fn drop(&mut self) {
        // A body dropped mid-send (the client went away, the server stops): the connection forgets
        // the file.
        if self.in_slot
            && let Ok(mut slot) = self.slot.0.try_borrow_mut()
        {
            *slot = None;
        }
    }
}
