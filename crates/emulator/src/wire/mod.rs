//! Bedrock Runtime's JSON: the Converse request body, the Converse response and stream
//! metadata, and error replies (`x-amzn-ErrorType` header plus `{"message": …}`), shaped as the
//! real service sends them.

mod error;
mod request;
mod response;

use axum::http::HeaderName;

pub use error::BedrockError;
pub use request::{Converse, Thinking, content_block, parse_request, tool_spec};
pub use response::{converse_response, metadata};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
