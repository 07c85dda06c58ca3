//! What ends one answer early, and why: the shutdown cut-off, Stop, or the loss of its record.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// What ends one answer early: the shutdown cut-off, Stop, or the loss of its record. A token of
/// the answer's own (a child of the cut-off, so the cut-off reaches it), made only by
/// [`Shutdown::answer_token`](crate::Shutdown::answer_token): an answer polls it before every
/// event, and the cut-off's own lock would be shared by every open stream on every worker thread.
#[derive(Debug, Clone)]
pub(crate) struct AnswerToken {
    own: CancellationToken,
    /// Why the answer ends, Stop or the loss ([`Why`] as a number), set before `own` is
    /// cancelled, and only once; left unset, what cancelled it is the cut-off.
    why: Arc<AtomicU8>,
}

/// What ended an answer early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// The shutdown cut-off.
    CutOff = 0,
    /// Stop.
    Stopped = 1,
    /// Its record is no longer this process's to write: another replica marked it
    /// `interrupted` while this one could not renew its lease, or its conversation was deleted.
    Lost = 2,
}

impl AnswerToken {
    /// `own` is the answer's child of the cut-off.
    pub(super) fn new(own: CancellationToken) -> Self {
        Self { own, why: Arc::default() }
    }

    /// Stop: ends this answer only.
    pub(crate) fn stop(&self) {
        self.end(Why::Stopped);
    }

    /// Ends this answer, whose record is lost ([`Why::Lost`]).
    pub(crate) fn lose(&self) {
        self.end(Why::Lost);
    }

    fn end(&self, why: Why) {
        // The first of Stop and the loss stays: a Stop after the loss does not make it a Stop.
        let _ = self.why.compare_exchange(Why::CutOff as u8, why as u8, Ordering::AcqRel, Ordering::Acquire);
        self.own.cancel();
    }

    /// Resolves at Stop, the cut-off or the loss; [`AnswerToken::why`] tells which.
    pub(crate) async fn ended(&self) {
        self.own.cancelled().await;
    }

    /// One future for the whole answer: a new `ended()` per event would register with the
    /// token and leave it again every time.
    pub(crate) fn ended_owned(&self) -> WaitForCancellationFutureOwned {
        self.own.clone().cancelled_owned()
    }

    /// What ended the answer, once [`ended`](Self::ended) resolved.
    pub(crate) fn why(&self) -> Why {
        match self.why.load(Ordering::Acquire) {
            why if why == Why::Stopped as u8 => Why::Stopped,
            why if why == Why::Lost as u8 => Why::Lost,
            _ => Why::CutOff,
        }
    }
}
