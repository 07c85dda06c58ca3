//! An image or a document a client sends inline, as both compatible APIs carry one: a media type
//! and its bytes in base64 (a Messages API `base64` source, the parts of an OpenAI `data:` URL).

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use streambed_core::{Document, DocumentFormat, Image, ImageFormat};

/// Why an inline image or document cannot be sent, in words for a sentence about it.
#[derive(Debug)]
pub(super) enum Bad {
    /// A media type no model takes as an image.
    ImageFormat(String),
    /// A media type no model reads as a document.
    DocumentFormat(String),
    NotBase64(base64::DecodeError),
    Empty,
    /// A document of nothing but white space: nothing for the model to read.
    Blank,
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ImageFormat(media_type) => {
                write!(f, "is a `{media_type}`, not an image the models take: {}", ImageFormat::MEDIA_TYPES)
            }
            Self::DocumentFormat(media_type) => {
                write!(f, "is a `{media_type}`, not a document the models read: {}", DocumentFormat::NAMES)
            }
            // The decoder's own message ends with a full stop; the sentence around it adds one.
            Self::NotBase64(e) => write!(f, "is not base64 ({})", e.to_string().trim_end_matches('.')),
            Self::Empty => f.write_str("is empty"),
            Self::Blank => f.write_str("holds only white space"),
        }
    }
}

/// The image of `media_type` whose bytes `base64` holds.
pub(super) fn image(media_type: &str, base64: &str) -> Result<Image, Bad> {
    let format =
        ImageFormat::from_media_type(media_type).ok_or_else(|| Bad::ImageFormat(media_type.into()))?;
    Ok(Image { format, data: bytes(base64)? })
}

/// The document of `format` whose bytes `base64` holds.
pub(super) fn document(format: DocumentFormat, base64: &str) -> Result<Document, Bad> {
    document_of(format, bytes(base64)?)
}

/// The document of `format` whose bytes are `data`, unless it holds nothing to read.
pub(super) fn document_of(format: DocumentFormat, data: Vec<u8>) -> Result<Document, Bad> {
    match () {
        () if data.is_empty() => Err(Bad::Empty),
        () if data.iter().all(u8::is_ascii_whitespace) => Err(Bad::Blank),
        () => Ok(Document { format, name: None, context: None, data }),
    }
}

/// The document format of `media_type`.
pub(super) fn document_format(media_type: &str) -> Result<DocumentFormat, Bad> {
    DocumentFormat::from_media_type(media_type).ok_or_else(|| Bad::DocumentFormat(media_type.into()))
}

/// The bytes of `base64`, line breaks and all (MIME and Python's `encodebytes` wrap lines).
fn bytes(base64: &str) -> Result<Vec<u8>, Bad> {
    let unwrapped: String;
    let base64 = if base64.bytes().any(|b| b.is_ascii_whitespace()) {
        unwrapped = base64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        &unwrapped
    } else {
        base64
    };
    let data = BASE64.decode(base64).map_err(Bad::NotBase64)?;
    if data.is_empty() { Err(Bad::Empty) } else { Ok(data) }
}
