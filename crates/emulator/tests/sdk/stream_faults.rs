use std::time::Duration;

use aws_sdk_bedrockruntime::error::SdkError;
use streambed_emulator::{Outcome, StreamException, long_text};

use crate::helpers::spawn;

#[tokio::test]
async fn each_in_stream_exception_arrives_as_its_variant_after_the_deltas() {
    let t = spawn().await;
    for kind in StreamException::ALL {
        let streamed = t.stream(&format!("[[scenario:exception type={} after=3]]", kind.event_type())).await;

        assert_eq!(streamed.text(), long_text(3), "{kind:?}");
        let Some(SdkError::ServiceError(e)) = &streamed.error else {
            panic!("{kind:?}: {:?}", streamed.error)
        };
        let matches = match kind {
            StreamException::InternalServer => e.err().is_internal_server_exception(),
            StreamException::ModelStreamError => e.err().is_model_stream_error_exception(),
            StreamException::Validation => e.err().is_validation_exception(),
            StreamException::Throttling => e.err().is_throttling_exception(),
            StreamException::ServiceUnavailable => e.err().is_service_unavailable_exception(),
        };
        assert!(matches, "{kind:?}: got {:?}", e.err());
        assert!(streamed.ended_cleanly_after_error, "{kind:?}: recv() gives Ok(None) after the error");
    }
    assert!(
        t.emulator.recorder.requests().iter().all(|r| r.outcome == Outcome::Exception && r.deltas_sent == 3)
    );
}

#[tokio::test]
async fn a_cut_at_a_frame_boundary_looks_like_a_clean_end_without_message_stop() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:cut at=boundary after=4]]").await;

    assert!(streamed.error.is_none());
    assert_eq!(streamed.text(), long_text(4));
    assert_eq!(streamed.stop_reason, None, "the application must notice the missing messageStop");
    assert_eq!(t.emulator.recorder.requests()[0].outcome, Outcome::Cut);
}

#[tokio::test]
async fn a_cut_inside_a_frame_is_a_response_error() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:cut at=frame after=2]]").await;

    assert_eq!(streamed.text(), long_text(2));
    assert!(matches!(streamed.error, Some(SdkError::ResponseError(_))), "{:?}", streamed.error);
}

#[tokio::test]
async fn a_reset_connection_is_an_error() {
    let t = spawn().await;

    let streamed = t.stream("[[scenario:cut at=reset after=2]]").await;

    assert_eq!(streamed.text(), long_text(2));
    assert!(streamed.error.is_some());
}

#[tokio::test]
async fn a_stall_keeps_the_connection_open_and_silent() {
    let t = spawn().await;
    let mut out = t.start("[[scenario:stall after=2]]").await;
    for _ in 0..3 {
        out.stream.recv().await.unwrap().expect("messageStart and two deltas");
    }

    let next = tokio::time::timeout(Duration::from_millis(300), out.stream.recv()).await;

    assert!(next.is_err(), "nothing arrives while stalled");
    drop(out);
    let hung_up =
        t.emulator.recorder.wait_for(Duration::from_secs(2), |r| r[0].outcome == Outcome::ClientHungUp).await;
    assert!(hung_up.is_ok(), "{hung_up:?}");
}

#[tokio::test]
async fn a_client_that_drops_a_slow_stream_is_recorded_as_hung_up_within_a_second() {
    let t = spawn().await;
    let mut out = t.start("[[scenario:slow delay_ms=100 n=100]]").await;
    let mut deltas = 0;
    while deltas < 3 {
        if let Some(aws_sdk_bedrockruntime::types::ConverseStreamOutput::ContentBlockDelta(_)) =
            out.stream.recv().await.unwrap()
        {
            deltas += 1;
        }
    }

    drop(out);

    let records =
        t.emulator.recorder.wait_for(Duration::from_secs(1), |r| r[0].outcome == Outcome::ClientHungUp).await;
    let records = records.expect("hang-up recorded within 1 s");
    assert!(records[0].deltas_sent < 10, "generation stopped early: {}", records[0].deltas_sent);
}
