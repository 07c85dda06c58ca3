//! An image a client sends inline, as both compatible APIs carry one: a media type and its bytes
//! in base64 (a Messages API `base64` source, the parts of an OpenAI `data:` URL).

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use streambed_core::{Image, ImageFormat};

/// Why an inline image cannot be sent, in words for a sentence about it.
#[derive(Debug)]
pub(super) enum BadImage {
    /// A media type no model takes.
    Format(String),
    NotBase64(base64::DecodeError),
    Empty,
}

impl fmt::Display for BadImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(media_type) => {
                write!(f, "is a `{media_type}`, not an image the models take: {}", ImageFormat::MEDIA_TYPES)
            }
            Self::NotBase64(e) => write!(f, "is not base64: {e}"),
            Self::Empty => f.write_str("holds no image"),
        }
    }
}

/// The image of `media_type` whose bytes `base64` holds.
pub(super) fn inline(media_type: &str, base64: &str) -> Result<Image, BadImage> {
    let format =
        ImageFormat::from_media_type(media_type).ok_or_else(|| BadImage::Format(media_type.into()))?;
    let data = BASE64.decode(base64.trim()).map_err(BadImage::NotBase64)?;
    if data.is_empty() {
        return Err(BadImage::Empty);
    }
    Ok(Image { format, data })
}
