//! Futures polled only when they woke their task. [`SideWake`] is a waker that notes the wake
//! before it wakes the task, so a task that watches something rare beside its main work (a
//! timer, the server's stop) polls it only when it fired, not at every wake by its socket; and
//! [`OnWake`] is a future polled that way.
//!
//! A connection's supervisor polls its timer and the stop signal with a `SideWake`
//! (`supervisor`); the accept loop polls the stop through `OnWake`: tokio's signal streams cost
//! ~140 instructions a poll, and `select!` polled them twice per accepted connection
//! (callgrind, the `close` scenario).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// The waker a task polls its side futures with: it notes that one of them woke the task, then
/// wakes the task.
pub(super) struct SideWake {
    woke: AtomicBool,
    task: AtomicWaker,
}

impl SideWake {
    /// A side waker, and the waker to poll the side futures with. It starts woken, so that the
    /// first poll registers them.
    pub(super) fn new() -> (Arc<SideWake>, Waker) {
        let side = Arc::new(SideWake {
            woke: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(Arc::clone(&side));
        (side, waker)
    }

    /// The task's waker, to wake when a side future does; called at each poll of the task.
    pub(super) fn register(&self, task: &Waker) {
        self.task.register(task);
    }

    /// Whether a side future woke the task since the last call.
    pub(super) fn take(&self) -> bool {
        self.woke.swap(false, Ordering::AcqRel)
    }
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woke.store(true, Ordering::Release);
        self.task.wake();
    }
}

pin_project_lite::pin_project! {
    /// `future`, polled only at its task's first poll and after it woke the task.
    pub(super) struct OnWake<F> {
        #[pin]
        future: F,
        side: Arc<SideWake>,
        waker: Waker,
    }
}

impl<F> OnWake<F> {
    pub(super) fn new(future: F) -> Self {
        let (side, waker) = SideWake::new();
        OnWake {
            future,
            side,
            waker,
        }
    }
}

impl<F: Future> Future for OnWake<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.side.register(cx.waker());
        if !this.side.take() {
            return Poll::Pending;
        }
        this.future.poll(&mut Context::from_waker(this.waker))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::future::poll_fn;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A task's waker that counts its wakes.
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_future_is_polled_first_then_only_after_its_own_wake_which_wakes_the_task() {
        let (polls, ready, its_waker) = (Cell::new(0), Cell::new(false), RefCell::new(None));
        let inner = poll_fn(|cx| {
            polls.set(polls.get() + 1);
            *its_waker.borrow_mut() = Some(cx.waker().clone());
            if ready.get() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let mut on_wake = pin!(OnWake::new(inner));
        let task = Arc::new(Task(AtomicUsize::new(0)));
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);
        assert!(on_wake.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1);
        // The task woken by something else (its socket): the future is left alone.
        assert!(on_wake.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1);
        ready.set(true);
        its_waker.borrow_mut().take().expect("registered").wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1);
        assert!(on_wake.as_mut().poll(&mut cx).is_ready());
        assert_eq!(polls.get(), 2);
    }
}
