//! Identifier rules shared by nodes, kinds, scopes and reviews.

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty string.
    #[error("id is empty")]
    Empty,
    /// More than 256 bytes.
    #[error("id is {0} bytes long; the limit is 256")]
    TooLong(usize),
    /// Contains a control character.
    #[error("id contains a control character at byte {0}")]
    Control(usize),
}

/// Checks an id: any UTF-8 of 1–256 bytes without control characters.
/// Ids never become file paths without escaping, so `../x` is a legal id.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > 256 {
        return Err(IdError::TooLong(id.len()));
    }
    if let Some((i, _)) = id.char_indices().find(|(_, c)| c.is_control()) {
        return Err(IdError::Control(i));
    }
    Ok(())
}
