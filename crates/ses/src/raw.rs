//! A raw MIME message kept byte for byte. SMTP (8BITMIME) and SendRawEmail deliver
//! octets that need not be UTF-8; they are stored and sent exactly as received. In
//! the store a message is a JSON string when it is UTF-8 and `{"base64": …}` otherwise.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawMessage(Vec<u8>);

impl RawMessage {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message as text, for reading header fields (invalid bytes become U+FFFD).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The header section: every field up to the empty line (the whole message when
    /// it has none).
    pub fn header_bytes(&self) -> &[u8] {
        &self.0[..header_end(&self.0)]
    }

    /// The header section as text, for reading fields (invalid bytes become U+FFFD).
    pub fn header_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.header_bytes())
    }

    /// The message without the header fields whose name `drop` accepts (continuation
    /// lines go with their field); every other byte is kept.
    pub fn without_fields(&self, drop: impl Fn(&str) -> bool) -> RawMessage {
        let end = header_end(&self.0);
        let mut out = Vec::with_capacity(self.0.len());
        let mut skipping = false;
        for line in self.0[..end].split_inclusive(|b| *b == b'\n') {
            if !line.starts_with(b" ") && !line.starts_with(b"\t") {
                skipping = line
                    .iter()
                    .position(|b| *b == b':')
                    .and_then(|colon| std::str::from_utf8(&line[..colon]).ok())
                    .is_some_and(|name| drop(name.trim()));
            }
            if !skipping {
                out.extend_from_slice(line);
            }
        }
        out.extend_from_slice(&self.0[end..]);
        RawMessage(out)
    }
}

/// Where the header block ends: just after the line ending of its last field, so the
/// empty line and the body follow.
fn header_end(raw: &[u8]) -> usize {
    let mut start = 0;
    while start < raw.len() {
        let end = raw[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |lf| start + lf + 1);
        if matches!(&raw[start..end], b"\r\n" | b"\n") {
            return start;
        }
        start = end;
    }
    raw.len()
}

impl From<Vec<u8>> for RawMessage {
    fn from(bytes: Vec<u8>) -> RawMessage {
        RawMessage(bytes)
    }
}

impl From<&str> for RawMessage {
    fn from(text: &str) -> RawMessage {
        RawMessage(text.as_bytes().to_vec())
    }
}

impl From<String> for RawMessage {
    fn from(text: String) -> RawMessage {
        RawMessage(text.into_bytes())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored<'a> {
    Text(Cow<'a, str>),
    Bytes { base64: String },
}

impl Serialize for RawMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => Stored::Text(Cow::Borrowed(text)).serialize(serializer),
            Err(_) => Stored::Bytes {
                base64: crate::mime::base64(&self.0),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RawMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawMessage, D::Error> {
        match Stored::deserialize(deserializer)? {
            Stored::Text(text) => Ok(RawMessage(text.into_owned().into_bytes())),
            Stored::Bytes { base64 } => crate::mime::base64_decode(&base64)
                .map(RawMessage)
                .ok_or_else(|| serde::de::Error::custom("invalid base64 in a stored message")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_bytes_survive_the_store_encoding() {
        let raw = RawMessage::from(b"Subject: caf\xe9\r\n\r\nna\xefve \xff\x00 bytes\r\n".to_vec());
        let json = serde_json::to_string(&raw).unwrap();
        assert!(json.starts_with("{\"base64\":"), "{json}");
        assert_eq!(serde_json::from_str::<RawMessage>(&json).unwrap(), raw);
    }

    #[test]
    fn utf8_messages_are_stored_as_strings() {
        let raw = RawMessage::from("Subject: Grüße\r\n\r\nHallo\r\n".to_string());
        let json = serde_json::to_string(&raw).unwrap();
        assert_eq!(json, "\"Subject: Grüße\\r\\n\\r\\nHallo\\r\\n\"");
        assert_eq!(serde_json::from_str::<RawMessage>(&json).unwrap(), raw);
    }

    #[test]
    fn dropping_fields_keeps_every_other_byte() {
        let raw = RawMessage::from(
            b"From: a@example.com\r\nX-SES-CONFIGURATION-SET: s\r\n x\r\nBcc: b@example.com\r\nSubject: \xe9\r\n\r\nX-SES-Not-A-Header: \xff\r\n"
                .to_vec(),
        );
        let kept = raw.without_fields(|n| {
            n.eq_ignore_ascii_case("bcc") || n.to_ascii_lowercase().starts_with("x-ses-")
        });
        assert_eq!(
            kept.as_bytes(),
            b"From: a@example.com\r\nSubject: \xe9\r\n\r\nX-SES-Not-A-Header: \xff\r\n"
        );
    }

    #[test]
    fn the_header_section_ends_at_the_first_empty_line() {
        let crlf = RawMessage::from("A: 1\r\nB: 2\r\n\r\nbody\n\nmore\r\n\r\n".to_string());
        assert_eq!(crlf.header_bytes(), b"A: 1\r\nB: 2\r\n");
        let lf = RawMessage::from("A: 1\n\nbody\r\n\r\n".to_string());
        assert_eq!(lf.header_bytes(), b"A: 1\n");
        let mixed = RawMessage::from("A: 1\n\r\nbody".to_string());
        assert_eq!(mixed.header_text(), "A: 1\n");
        let headless = RawMessage::from("\r\nbody only".to_string());
        assert_eq!(headless.header_bytes(), b"");
        let bodiless = RawMessage::from("A: 1\r\nB: 2".to_string());
        assert_eq!(bodiless.header_bytes(), bodiless.as_bytes());
    }

    #[test]
    fn a_message_without_a_body_is_all_header() {
        let raw = RawMessage::from("Bcc: x@example.com\nSubject: s\n".to_string());
        assert_eq!(
            raw.without_fields(|n| n == "Bcc").as_bytes(),
            b"Subject: s\n"
        );
    }
}
