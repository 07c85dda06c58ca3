//! The images and documents a turn may show the model, and their formats.

/// An image's bytes and their format.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub format: ImageFormat,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the bytes: a megabyte of numbers in a log line says nothing.
        f.debug_struct("Image").field("format", &self.format).field("bytes", &self.data.len()).finish()
    }
}

/// The image formats the models take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    /// The format of a media type (`image/png`, …), if a model takes it.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type.trim().to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/gif" => Some(Self::Gif),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The media types a model takes, for a refusal to name.
    pub const MEDIA_TYPES: &str = "image/png, image/jpeg, image/gif or image/webp";
}

/// A document's bytes, their format, and what the client called it.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    pub format: DocumentFormat,
    /// The client's name for it (a title, a file name), if it gave one.
    pub name: Option<String>,
    /// What the client says about it beside its content (the Messages API's `context`).
    pub context: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("format", &self.format)
            .field("name", &self.name)
            .field("bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// Characters of a document that is text (TXT, Markdown, CSV, HTML), for the size limits;
    /// 0 for the others, whose bytes are not characters (the body limit bounds them).
    pub fn chars(&self) -> usize {
        match self.format {
            DocumentFormat::Txt | DocumentFormat::Md | DocumentFormat::Csv | DocumentFormat::Html => {
                String::from_utf8_lossy(&self.data).chars().count()
            }
            _ => 0,
        }
    }
}

/// A media type without its parameters, in lower case: `text/plain` of ` Text/Plain; charset=utf-8`.
fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The document formats the models read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Pdf,
    Csv,
    Doc,
    Docx,
    Xls,
    Xlsx,
    Html,
    Txt,
    Md,
}

impl DocumentFormat {
    /// Every format, with its media type.
    const ALL: [(Self, &str); 9] = [
        (Self::Pdf, "application/pdf"),
        (Self::Csv, "text/csv"),
        (Self::Doc, "application/msword"),
        (Self::Docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (Self::Xls, "application/vnd.ms-excel"),
        (Self::Xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Self::Html, "text/html"),
        (Self::Txt, "text/plain"),
        (Self::Md, "text/markdown"),
    ];

    /// The format of a media type (`application/pdf`, `text/plain; charset=utf-8`, …), if a
    /// model reads it.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = essence(media_type);
        if essence == "text/x-markdown" {
            return Some(Self::Md);
        }
        Self::ALL.iter().find(|(_, media)| *media == essence).map(|(format, _)| *format)
    }

    /// Whether a media type says nothing of a file's format (`application/octet-stream`, S3's
    /// `binary/octet-stream`, or none at all), so that only its name can.
    pub fn says_nothing(media_type: &str) -> bool {
        matches!(essence(media_type).as_str(), "" | "application/octet-stream" | "binary/octet-stream")
    }

    /// The format a file name's extension says (`report.PDF`), if a model reads it.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::from_extension(name.rsplit_once('.')?.1)
    }

    /// The format of a file extension (`pdf`, `HTM`, …), as Converse names formats.
    pub fn from_extension(extension: &str) -> Option<Self> {
        let extension = extension.to_ascii_lowercase();
        let extension = match extension.as_str() {
            "htm" => "html",
            "markdown" => "md",
            other => other,
        };
        Self::ALL.iter().map(|(format, _)| *format).find(|format| format.extension() == extension)
    }

    /// The file extension, as Converse names the format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
            Self::Doc => "doc",
            Self::Docx => "docx",
            Self::Xls => "xls",
            Self::Xlsx => "xlsx",
            Self::Html => "html",
            Self::Txt => "txt",
            Self::Md => "md",
        }
    }

    /// The formats a model reads, for a refusal to name.
    pub const NAMES: &str = "PDF, CSV, DOC, DOCX, XLS, XLSX, HTML, TXT or Markdown";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_format_is_read_from_a_media_type_or_a_file_name() {
        assert_eq!(DocumentFormat::from_media_type("application/pdf"), Some(DocumentFormat::Pdf));
        assert_eq!(DocumentFormat::from_media_type(" Text/Plain; charset=utf-8"), Some(DocumentFormat::Txt));
        assert_eq!(DocumentFormat::from_media_type("text/x-markdown"), Some(DocumentFormat::Md));
        assert_eq!(DocumentFormat::from_media_type("image/png"), None);
        for generic in
            ["", "application/octet-stream; name=a.pdf", "Application/Octet-Stream", "binary/octet-stream"]
        {
            assert!(DocumentFormat::says_nothing(generic), "{generic}");
        }
        assert!(!DocumentFormat::says_nothing("image/png"));
        assert_eq!(DocumentFormat::from_file_name("Q3 report.PDF"), Some(DocumentFormat::Pdf));
        assert_eq!(DocumentFormat::from_file_name("notes.markdown"), Some(DocumentFormat::Md));
        assert_eq!(DocumentFormat::from_file_name("page.htm"), Some(DocumentFormat::Html));
        assert_eq!(DocumentFormat::from_file_name("archive.zip"), None);
        assert_eq!(DocumentFormat::from_file_name("README"), None);
        assert_eq!(DocumentFormat::Xlsx.extension(), "xlsx");
    }
}
