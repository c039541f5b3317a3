//! Which handler answered a request, known without a response extension (an extension map is
//! three allocations per answer: +5% instructions on a small file, callgrind).
//!
//! Handlers compose as a chain in which each hands what it does not take to its fallback, and
//! an answer travels back up through every layer's future in the *same* poll that completes
//! the innermost one. So [`Labelled`] notes its label in a per-thread cell when its handler's
//! future completes, unless a layer below already noted one in that poll; and the server
//! ([`answered_by`]) empties the cell before each poll of a request's future and reads it when
//! that future completes. A poll runs one task on one thread, so no other request's label can
//! come in between. The one rule this needs of a handler: it returns its fallback's answer in
//! the poll that brings it (none of serveur's awaits anything after its fallback's answer).

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use super::Handled;
use crate::handler::{Handler, Request, Response};

thread_local! {
    /// The label of the answer completed in the current poll, if a layer noted one.
    static ANSWERED_BY: Cell<Option<Handled>> = const { Cell::new(None) };
}

/// A handler whose answers count as `handled`'s in the metrics, unless they are a handler's
/// further down (its fallback's, itself labelled). Compose it only when the server has
/// [`Metrics`](super::Metrics): it costs a little per request, for nothing without them.
///
/// ```
/// use serveur::metrics::{Handled, Labelled};
/// use serveur::{Cgi, StaticFiles};
/// # fn f() -> std::io::Result<()> {
/// let files = Labelled::new(StaticFiles::new(".")?, Handled::Static);
/// let site = Labelled::new(Cgi::new(".")?.fallback(files), Handled::Cgi);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Labelled<H> {
    inner: H,
    handled: Handled,
}

impl<H: Handler> Labelled<H> {
    /// `inner`, its own answers counted as `handled`'s.
    pub fn new(inner: H, handled: Handled) -> Self {
        Labelled { inner, handled }
    }
}

impl<H: Handler> Handler for Labelled<H> {
    // Not an `async fn`: the inner handler gets the request here, so the request is not first
    // moved into a future of this wrapper's own.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        let answer = self.inner.handle(req);
        let handled = self.handled;
        async move {
            let response = answer.await;
            note(handled);
            response
        }
    }
}

/// Notes `handled` as the label of the answer completed in this poll, unless a handler further
/// down noted one: for a handler that labels its own answers (the static files, which are
/// always the last fallback, do, to spare a layer around their large future).
pub(crate) fn note(handled: Handled) {
    ANSWERED_BY.with(|label| {
        if label.get().is_none() {
            label.set(Some(handled));
        }
    });
}

/// `answer`, a request's future, and the label of the handler that made it
/// ([`Handled::Server`] if no [`Labelled`] layer noted one).
pub(crate) async fn answered_by(answer: impl Future<Output = Response>) -> (Response, Handled) {
    let mut answer = pin!(answer);
    poll_fn(|cx| {
        ANSWERED_BY.with(|label| label.set(None));
        match answer.as_mut().poll(cx) {
            Poll::Ready(response) => {
                let handled = ANSWERED_BY.with(Cell::take).unwrap_or(Handled::Server);
                Poll::Ready((response, handled))
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
