//! The answers running in this process: at most one per conversation and a few per owner,
//! counted on all replicas too with Redis; a place reserved before the answer starts, so Stop
//! reaches it from the first moment.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use streambed_store::Owner;
use tokio::sync::watch;
use uuid::Uuid;

use super::{Ending, Live};
use crate::{
    answer_token::AnswerToken,
    error::AppError,
    replicas::counts::{Claim, Claimed, SharedRunning},
};

/// The answers running in this process, by conversation: at most one per conversation, and at
/// most `MAX_RUNNING_ANSWERS_PER_OWNER` per owner. A place is reserved before the answer's
/// message is written, so two requests for one conversation cannot both start one; Stop already
/// reaches a reserved place, whose answer then ends before the model is asked.
#[derive(Debug)]
pub(crate) struct LiveAnswers {
    running: Mutex<HashMap<Uuid, Place>>,
    max_per_owner: usize,
    /// With Redis: each owner's running answers counted on all replicas together, and the
    /// claims of the answers here, by conversation.
    shared: Option<SharedRunning>,
    claims: Mutex<HashMap<Uuid, Claim>>,
    /// Told each time a place is given back, for whoever waits for one ([`Self::freed`]).
    freed: watch::Sender<()>,
}

#[derive(Debug)]
enum Place {
    /// The answer's turn is being written (once it is, the answer is `Running`, and then asks
    /// the model): `token` is the answer's.
    Reserved {
        owner: Owner,
        token: AnswerToken,
    },
    Running(Arc<Live>),
}

impl Place {
    fn owner(&self) -> &Owner {
        match self {
            Self::Reserved { owner, .. } => owner,
            Self::Running(live) => &live.owner,
        }
    }
}

impl LiveAnswers {
    pub(crate) fn new(max_per_owner: usize, shared: Option<SharedRunning>) -> Self {
        Self {
            running: Mutex::default(),
            max_per_owner,
            shared,
            claims: Mutex::default(),
            freed: watch::Sender::new(()),
        }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Uuid, Place>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves the conversation's place for an answer that `token` will end, or refuses when
    /// it already has an answer running or the owner is at the cap. The place is given back if
    /// the reservation is dropped unused.
    pub(crate) fn begin(
        self: &Arc<Self>,
        conversation: Uuid,
        owner: &Owner,
        token: AnswerToken,
    ) -> Result<Reservation, AppError> {
        let mut running = self.running();
        if let Some(place) = running.get(&conversation) {
            // Another owner's conversation is not found, as the store would answer: whether it
            // exists, and answers now, is not theirs to learn.
            return Err(if place.owner() == owner {
                AppError::AnswerRunning
            } else {
                AppError::Store(streambed_store::StoreError::NotFound)
            });
        }
        if running.values().filter(|place| place.owner() == owner).count() >= self.max_per_owner {
            return Err(AppError::TooManyAnswers);
        }
        running.insert(conversation, Place::Reserved { owner: owner.clone(), token: token.clone() });
        Ok(Reservation { answers: Arc::clone(self), conversation, owner: Some(owner.clone()), token })
    }

    /// Counts a place [`begin`](Self::begin) reserved on all replicas too, with Redis: past
    /// the cap there, or with an answer running in the conversation on another replica, the
    /// answer is refused as it would be here. Without Redis, or while it fails
    /// (counted and logged by `replicas`), this replica's own count is the one that decided.
    pub(crate) async fn count_everywhere(&self, conversation: Uuid, owner: &Owner) -> Result<(), AppError> {
        let Some(shared) = &self.shared else { return Ok(()) };
        match shared.claim(owner, conversation).await {
            Ok(Claimed::Place(claim)) => {
                self.claims().insert(conversation, claim);
                Ok(())
            }
            Ok(Claimed::OwnerFull) => Err(AppError::TooManyAnswers),
            Ok(Claimed::ConversationBusy) => Err(AppError::AnswerRunning),
            Err(_) => Ok(()),
        }
    }

    fn claims(&self) -> MutexGuard<'_, HashMap<Uuid, Claim>> {
        self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Renews the claims of the answers running here in the count of all replicas, which
    /// lapse a lease after their last renewal. A failure is counted and logged by `replicas`;
    /// the next renewal, a third of a lease later, tries again.
    pub(crate) async fn renew_claims(&self) {
        let Some(shared) = &self.shared else { return };
        let _ = shared.renew(|| self.claims().values().cloned().collect()).await;
    }

    /// Stops `owner`'s answer in `conversation`, if one runs or is starting here: one look
    /// under the lock, so an answer between the two is not missed.
    pub(crate) fn stop(&self, conversation: Uuid, owner: &Owner) -> Stopping {
        match self.running().get(&conversation) {
            Some(Place::Running(live)) if live.owned_by(owner) => {
                live.stop();
                Stopping::Running(Arc::clone(live))
            }
            Some(Place::Reserved { owner: starting, token }) if starting == owner => {
                token.stop();
                Stopping::Starting
            }
            _ => Stopping::Nothing,
        }
    }

    /// Whether `conversation` has an answer running or starting here.
    pub(crate) fn is_busy(&self, conversation: Uuid) -> bool {
        self.running().contains_key(&conversation)
    }

    /// Resolves once `conversation` has no answer running or starting here.
    pub(crate) async fn freed(&self, conversation: Uuid) {
        let mut freed = self.freed.subscribe();
        while self.is_busy(conversation) {
            if freed.changed().await.is_err() {
                return;
            }
        }
    }

    /// The answer running in `conversation`, if any.
    pub(crate) fn get(&self, conversation: Uuid) -> Option<Arc<Live>> {
        match self.running().get(&conversation) {
            Some(Place::Running(live)) => Some(Arc::clone(live)),
            _ => None,
        }
    }

    /// Stops `message` if it is the answer running here in `conversation`: a Stop another
    /// replica was asked for.
    pub(crate) fn stop_from_elsewhere(&self, conversation: Uuid, message: Uuid) {
        if let Some(live) = self.get(conversation).filter(|live| live.message == message) {
            tracing::info!(%conversation, message_id = %message, "stopping an answer at another replica's request");
            live.stop();
        }
    }

    /// Frees the conversation's place, here and in the count of all replicas.
    pub(super) fn remove(&self, conversation: Uuid) {
        self.running().remove(&conversation);
        self.freed.send_replace(());
        let claim = self.claims().remove(&conversation);
        if let (Some(claim), Some(shared), Ok(runtime)) =
            (claim, &self.shared, tokio::runtime::Handle::try_current())
        {
            let shared = shared.clone();
            // Should Redis not hear of it, the claim lapses by itself.
            runtime.spawn(async move { shared.release(&claim).await });
        }
    }
}

/// What [`LiveAnswers::stop`] stopped.
#[derive(Debug)]
pub(crate) enum Stopping {
    /// The answer running here.
    Running(Arc<Live>),
    /// The answer whose turn is still being written: it ends before the model is asked.
    Starting,
    /// Nothing of the owner's runs here in the conversation.
    Nothing,
}

/// A conversation's place, reserved by [`LiveAnswers::begin`].
#[derive(Debug)]
pub(crate) struct Reservation {
    answers: Arc<LiveAnswers>,
    conversation: Uuid,
    /// Taken by [`Reservation::start`].
    owner: Option<Owner>,
    /// What ends the answer: Stop (already while the place is reserved), the cut-off.
    token: AnswerToken,
}

impl Reservation {
    /// The answer, registered as running, and the guard that ends it: the answer's first frame
    /// is `start`, its last whatever the guard is given (an error if nothing). The reservation's
    /// token ends it.
    pub(crate) fn start(mut self, message: Uuid) -> (Arc<Live>, Ending) {
        let live = Arc::new(Live {
            conversation: self.conversation,
            message,
            owner: self.owner.take().expect("a reservation starts once"),
            said: Mutex::default(),
            changed: watch::Sender::new(()),
            token: self.token.clone(),
        });
        self.answers.running().insert(self.conversation, Place::Running(Arc::clone(&live)));
        let ending = Ending { live: Arc::clone(&live), answers: Arc::clone(&self.answers), terminal: None };
        (live, ending)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.owner.is_some() {
            self.answers.remove(self.conversation);
        }
    }
}
