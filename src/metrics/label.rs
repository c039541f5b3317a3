//! Which handler answered a request, known without a response extension (an extension map is
//! three allocations per answer: +5% instructions on a small file, callgrind).
//!
//! Handlers compose as a chain in which each hands what it does not take to its fallback, and
//! an answer travels back up through every layer's future, and on to the server's service, in
//! the *same* poll that completes the innermost one. So [`Labelled`] notes its label in a
//! per-thread cell when its handler's future completes, unless a layer below already noted one
//! in that poll, and the server takes it ([`take`]) right after the handler's future completes
//! (having emptied it, [`clear`], before calling the handler). A poll runs one task on one
//! thread, and every metered request takes what its own answer noted, so no other request's
//! label can come in between. The rules this needs: a handler returns its fallback's answer in
//! the poll that brings it (none of serveur's awaits anything after its fallback's answer), and
//! labelled handlers are served by a server with metrics (one without would leave labels
//! behind). Wrapping the handler's future instead, to empty the cell at each of its polls,
//! cost ~190 instructions a request in moves of the response (callgrind).

use std::cell::Cell;
use std::future::Future;

use super::Handled;
use crate::handler::{Handler, Request, Response};

thread_local! {
    /// The label of the answer completed in the current poll, if a layer noted one.
    static ANSWERED_BY: Cell<Option<Handled>> = const { Cell::new(None) };
}

/// A handler whose answers count as `handled`'s in the metrics, unless they are a handler's
/// further down (its fallback's, itself labelled). Compose it only when the server has
/// [`Metrics`](super::Metrics) (see [`Server::metrics`](crate::Server::metrics)): it costs a
/// little per request, for nothing without them.
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

/// Forgets any label noted: called as a request's handler is about to be called.
pub(crate) fn clear() {
    ANSWERED_BY.with(|label| label.set(None));
}

/// The label noted for the answer just completed, called right after the handler's future
/// completes (in the same poll); [`Handled::Server`] if no layer noted one.
pub(crate) fn take() -> Handled {
    ANSWERED_BY.with(Cell::take).unwrap_or(Handled::Server)
}
