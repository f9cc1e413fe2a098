//! What a connection may cost the server: a cap on open connections and an idle
//! limit, applied where axum-server accepts a connection (before TLS), so a
//! slowloris client cannot hold sockets and tasks forever. The header-read
//! timeout itself is hyper's (`server::run` gives it a timer).
//!
//! The idle clock only runs while no request is in flight: a request's handler
//! owns its own limits (the tus PATCH body has its longer idle guard).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The connection settings (`--header-read-timeout-secs`, `--idle-timeout-secs`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// An axum-server acceptor that refuses connections over the cap and wraps the
/// rest in [`IdleLimited`] and [`CountInFlight`].
#[derive(Clone)]
pub struct ConnectionGuard {
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl ConnectionGuard {
    pub fn new(limits: &ConnectionLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            idle: limits.idle_timeout,
        }
    }
}

impl<S> Accept<TcpStream, S> for ConnectionGuard
where
    S: Send + 'static,
{
    type Stream = IdleLimited<TcpStream>;
    type Service = CountInFlight<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Over the cap the socket is dropped (closed) at once: waiting would let
        // an attacker pile up sockets the cap is there to bound.
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            metrics::counter!("sealcast_http_connections_refused_total").increment(1);
            tracing::debug!("connection refused: at the connection cap");
            return std::future::ready(Err(io::Error::other("connection cap reached")));
        };
        // Responses are written whole and then wait for the next request:
        // with Nagle's algorithm on, a response's last small packet waits for
        // the client's delayed ACK (~40 ms on Linux), which showed as 3.5%
        // of segment responses stalling 44 ms under a viewer load test.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "setting TCP_NODELAY failed");
        }
        let in_flight = Arc::new(AtomicUsize::new(0));
        let stream = IdleLimited {
            inner: stream,
            idle: self.idle,
            deadline: Box::pin(tokio::time::sleep(self.idle)),
            in_flight: in_flight.clone(),
            _slot: slot,
        };
        std::future::ready(Ok((
            stream,
            CountInFlight {
                inner: service,
                in_flight,
            },
        )))
    }
}

/// A connection's byte stream that fails once it has been idle too long: no
/// request in flight and nothing read or written for `idle`. Holds the
/// connection's slot under the cap until dropped.
pub struct IdleLimited<I> {
    inner: I,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    in_flight: Arc<AtomicUsize>,
    _slot: OwnedSemaphorePermit,
}

impl<I> IdleLimited<I> {
    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// Called when the inner stream has nothing to give: Ready(err) once idle too long.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            self.touch();
            return Poll::Pending;
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    /// After a write: progress resets the idle clock; a client that stops
    /// reading our response is idle too.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleLimited<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(cx).map(Err),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleLimited<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(cx, written)
    }

    /// Forwarded so hyper sees a vectored stream and queues body chunks as
    /// they are (shared `Bytes`) instead of copying each into its own write
    /// buffer: without it a connection serving segments holds a buffer of up to
    /// ~400 KiB, which at 2,000 viewers is most of the server's memory.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection's service that counts its requests in flight, so the idle
/// clock stops while a handler works (or streams an upload body).
#[derive(Clone)]
pub struct CountInFlight<S> {
    inner: S,
    in_flight: Arc<AtomicUsize>,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S, R> tower::Service<R> for CountInFlight<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self.in_flight.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(guard);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        }
    }

    async fn accepted(listener: &tokio::net::TcpListener) -> TcpStream {
        let addr = listener.local_addr().unwrap();
        let (_client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        server.unwrap().0
    }

    #[tokio::test]
    async fn accepted_connections_have_nagle_off_and_the_cap_holds() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let guard = ConnectionGuard::new(&limits());
        let first = accepted(&listener).await;
        assert!(
            !first.nodelay().unwrap(),
            "the kernel's default is Nagle on"
        );
        let (stream, _service) = guard.accept(first, ()).await.unwrap();
        assert!(stream.inner.nodelay().unwrap());
        assert!(
            stream.is_write_vectored(),
            "hyper queues body chunks without copying only on a vectored stream"
        );
        // The cap is 1 and the first connection still holds its slot.
        let second = accepted(&listener).await;
        assert!(guard.accept(second, ()).await.is_err());
        drop(stream);
        let third = accepted(&listener).await;
        assert!(guard.accept(third, ()).await.is_ok());
    }
}
