use secrecy::SecretString;
use streambed_testkit::Redis as RedisServer;

use super::*;

/// The place claimed, if any (claims in conversations of their own).
fn place(claimed: Claimed) -> Option<Claim> {
    match claimed {
        Claimed::Place(claim) => Some(claim),
        Claimed::OwnerFull | Claimed::ConversationBusy => None,
    }
}

async fn connect(server: &RedisServer) -> Redis {
    Redis::connect(&SecretString::from(server.url()), Duration::from_secs(60)).await.unwrap()
}

#[tokio::test]
async fn the_shared_rate_lets_a_burst_through_then_makes_the_client_wait_as_governor_does() {
    let server = RedisServer::start();
    let rate =
        SharedRate::new(connect(&server).await, NonZeroU32::new(60).unwrap(), NonZeroU32::new(2).unwrap());

    let burst = [rate.check("a").await.unwrap(), rate.check("a").await.unwrap()];
    let third = rate.check("a").await.unwrap();
    let other = rate.check("b").await.unwrap();

    assert_eq!(burst, [None, None]);
    let wait = third.expect("the third chat in a burst of 2 waits");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
    assert_eq!(other, None, "clients are limited separately");
}

#[tokio::test]
async fn running_answers_are_counted_for_all_replicas_and_given_back() {
    let server = RedisServer::start();
    let (a, b) = (connect(&server).await, connect(&server).await);
    let life = Duration::from_secs(60);
    let (on_a, on_b) = (SharedRunning::new(a, 2, life), SharedRunning::new(b, 2, life));
    let (alice, bob) = (Owner("alice".into()), Owner("bob".into()));

    let first = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a first place");
    let second = place(on_b.claim(&alice, Uuid::now_v7()).await.unwrap())
        .expect("a second place, on the other replica");
    let over = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap());
    let others = place(on_b.claim(&bob, Uuid::now_v7()).await.unwrap());
    on_b.release(&second).await.unwrap();
    on_b.release(&second).await.unwrap();
    let after_release = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap());
    let over_again = place(on_b.claim(&alice, Uuid::now_v7()).await.unwrap());

    assert_ne!(first, second);
    assert_eq!(over, None, "two running on two replicas: the most for alice");
    assert!(others.is_some(), "owners are counted apart");
    assert!(after_release.is_some(), "a place given back is free again");
    assert_eq!(over_again, None, "a release given twice frees one place");
}

#[tokio::test]
async fn at_the_most_a_conversation_with_an_answer_on_another_replica_is_busy_not_full() {
    let server = RedisServer::start();
    let (a, b) = (connect(&server).await, connect(&server).await);
    let life = Duration::from_secs(60);
    let (on_a, on_b) = (SharedRunning::new(a, 1, life), SharedRunning::new(b, 1, life));
    let (alice, conversation) = (Owner("alice".into()), Uuid::now_v7());

    let Claimed::Place(first) = on_a.claim(&alice, conversation).await.unwrap() else { panic!("a place") };
    let same = on_b.claim(&alice, conversation).await.unwrap();
    let other = on_b.claim(&alice, Uuid::now_v7()).await.unwrap();
    on_a.release(&first).await.unwrap();
    let after = on_b.claim(&alice, conversation).await.unwrap();
    // Below the most, a claim of the conversation's (one left over, say) refuses nothing: the
    // store says whether an answer runs there.
    let roomy = SharedRunning::new(connect(&server).await, 3, life);
    let bob = Owner("bob".into());
    let _left_over = place(roomy.claim(&bob, conversation).await.unwrap()).expect("a place");
    let again = roomy.claim(&bob, conversation).await.unwrap();

    assert_eq!(same, Claimed::ConversationBusy, "busy, not full: its turn gets 409, not 429");
    assert_eq!(other, Claimed::OwnerFull);
    assert!(matches!(after, Claimed::Place(_)), "{after:?}");
    assert!(matches!(again, Claimed::Place(_)), "{again:?}");
}

#[tokio::test]
async fn a_claim_lapses_a_life_after_its_last_renewal_as_one_a_dead_replica_held() {
    let server = RedisServer::start();
    let life = Duration::from_millis(1500);
    let live = SharedRunning::new(connect(&server).await, 2, life);
    let dead = SharedRunning::new(connect(&server).await, 2, life);
    let alice = Owner("alice".into());
    let kept = place(live.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a first place");
    let _lost = place(dead.claim(&alice, Uuid::now_v7()).await.unwrap())
        .expect("a second place, on a replica that dies");
    assert_eq!(
        place(live.claim(&alice, Uuid::now_v7()).await.unwrap()),
        None,
        "both of alice's places are held"
    );

    // The live replica renews its claim for as long as the other's lapses.
    for _ in 0..4 {
        tokio::time::sleep(life / 3).await;
        live.renew(|| vec![kept.clone()]).await.unwrap();
    }

    let freed = place(live.claim(&alice, Uuid::now_v7()).await.unwrap());
    assert!(freed.is_some(), "the dead replica's place lapsed");
    assert_eq!(place(live.claim(&alice, Uuid::now_v7()).await.unwrap()), None, "the renewed one did not");
}

#[tokio::test]
async fn claims_redis_lost_in_a_restart_are_made_again_by_the_next_renewal() {
    let mut server = RedisServer::start();
    let life = Duration::from_secs(60);
    let on_a = SharedRunning::new(connect(&server).await, 1, life);
    let on_b = SharedRunning::new(connect(&server).await, 1, life);
    let alice = Owner("alice".into());
    let running = place(on_a.claim(&alice, Uuid::now_v7()).await.unwrap()).expect("a place");

    server.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while on_a.renew(|| vec![running.clone()]).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "Redis never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let meanwhile = on_b.claim(&alice, Uuid::now_v7()).await;

    assert_eq!(meanwhile.unwrap(), Claimed::OwnerFull, "the running answer holds its place again");
}

#[tokio::test]
async fn the_shared_lockout_locks_an_address_for_the_rest_of_its_window() {
    let server = RedisServer::start();
    let lockout =
        SharedLockout::new(connect(&server).await, NonZeroU32::new(2).unwrap(), Duration::from_secs(60));
    let (client, other) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));

    lockout.record_failure(client).await.unwrap();
    let after_one = lockout.locked(client).await.unwrap();
    lockout.record_failure(client).await.unwrap();
    let after_two = lockout.locked(client).await.unwrap();

    assert_eq!(after_one, None, "one of two failures");
    let left = after_two.expect("locked after two failures");
    assert!(left > Duration::from_secs(55) && left <= Duration::from_secs(60), "{left:?}");
    assert_eq!(lockout.locked(other).await.unwrap(), None, "other addresses are not affected");
}
