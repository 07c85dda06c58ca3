//! Bedrock's `application/vnd.amazon.eventstream` frames, encoded by the AWS event-stream crate
//! itself so prelude, headers and both CRCs are exactly what the SDKs expect.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::scenario::StreamException;

/// Real Bedrock pads every event payload with a `p` field of random length so token lengths
/// don't leak through frame sizes. SDKs must ignore it, so the emulator sends one too.
fn pad(mut payload: Value, seq: usize) -> Value {
    const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0";
    if let Value::Object(map) = &mut payload {
        map.insert("p".into(), PADDING[..1 + seq * 7 % (PADDING.len() - 1)].into());
    }
    payload
}

fn string(value: &'static str) -> HeaderValue {
    HeaderValue::String(value.into())
}

fn encode(headers: [(&'static str, &'static str); 3], payload: &Value) -> Bytes {
    let mut message = Message::new(serde_json::to_vec(payload).expect("a JSON value serialises"));
    for (name, value) in headers {
        message = message.add_header(Header::new(name, string(value)));
    }
    let mut frame = Vec::with_capacity(message.payload().len() + 128);
    write_message_to(&message, &mut frame).expect("header names and values are short constants");
    frame.into()
}

/// An event frame (`:message-type: event`), headers in the order real Bedrock sends them.
pub(crate) fn event(event_type: &'static str, payload: Value, seq: usize) -> Bytes {
    encode(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        &pad(payload, seq),
    )
}

/// An in-stream exception frame (`:message-type: exception`).
pub(crate) fn exception(kind: StreamException) -> Bytes {
    encode(
        [
            (":exception-type", kind.event_type()),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        &json!({ "message": kind.message() }),
    )
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::read_message_from;

    use super::*;

    /// The test vector from the team's wire-protocol notes (§4.1): a `contentBlockDelta` with
    /// text "Hi", unpadded, is 148 bytes with prelude CRC 0xB4AB9AEE and message CRC 0x1F944657.
    #[test]
    fn encodes_the_documented_test_vector() {
        let payload = json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}});
        let frame = encode(
            [
                (":event-type", "contentBlockDelta"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            &payload,
        );
        assert_eq!(frame.len(), 148);
        assert_eq!(&frame[..12], &[0, 0, 0, 0x94, 0, 0, 0, 0x57, 0xB4, 0xAB, 0x9A, 0xEE]);
        assert_eq!(&frame[144..], &[0x1F, 0x94, 0x46, 0x57]);
    }

    #[test]
    fn padded_events_decode_with_their_headers() {
        let frame = event("messageStart", json!({"role": "assistant"}), 3);
        let message = read_message_from(frame).unwrap();
        let payload: Value = serde_json::from_slice(message.payload()).unwrap();
        assert_eq!(payload["role"], "assistant");
        assert!(payload["p"].as_str().is_some_and(|p| !p.is_empty()));
        let names: Vec<_> = message.headers().iter().map(|h| h.name().as_str().to_owned()).collect();
        assert_eq!(names, [":event-type", ":content-type", ":message-type"]);
    }
}
