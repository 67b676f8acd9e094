//! Errors carrying the contract's error codes (contract/errors.py).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), field: None }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn not_dicom(m: impl Into<String>) -> Self {
        Self::new("not_dicom", m)
    }
    pub fn decode(m: impl Into<String>) -> Self {
        Self::new("decode_failed", m)
    }
    pub fn unsupported_ts(m: impl Into<String>) -> Self {
        Self::new("unsupported_transfer_syntax", m)
    }
    pub fn option(field: &str, m: impl Into<String>) -> Self {
        Self::new("unsupported_option", m).with_field(format!("options.{}", field))
    }
    pub fn invalid(field: &str, m: impl Into<String>) -> Self {
        Self::new("invalid_request", m).with_field(field.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = self.message.replace('\n', " ");
        write!(f, "{}: {}", self.code, msg)
    }
}
