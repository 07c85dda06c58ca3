//! Bedrock Runtime's JSON: the Converse request body, the Converse response and stream
//! metadata, and error replies (`x-amzn-ErrorType` header plus `{"message": …}`), shaped as the
//! real service sends them.

mod error;
mod request;
mod response;

use axum::http::HeaderName;

pub(crate) use error::BedrockError;
pub(crate) use request::{Converse, Thinking, content_block, parse_request, tool_spec};
pub(crate) use response::{converse_response, metadata};

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
