//! Message text: building the MIME message of a simple send, and reading and
//! reading the header block of a raw one (its X-SES-* headers are honoured; [`crate::RawMessage`] removes them).

/// A header block's fields, unfolded, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// Values of every field named `name` (case-insensitive).
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_string();
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }
}

/// Splits a raw message into its header block and body; the header fields unfolded.
pub fn split(raw: &str) -> (Headers, &str, &str) {
    let (head, body) = match raw.find("\r\n\r\n") {
        Some(i) => (&raw[..i + 2], &raw[i + 4..]),
        None => match raw.find("\n\n") {
            Some(i) => (&raw[..i + 1], &raw[i + 2..]),
            None => (raw, ""),
        },
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (Headers(fields), head, body)
}

/// Splits an address-list header value on commas outside quotes and angle brackets.
pub fn address_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut current, mut quoted, mut angle) = (String::new(), false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The parts of a simple (formatted) message.
pub struct Simple<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    pub reply_to: &'a [String],
    pub subject: &'a str,
    pub text: Option<&'a str>,
    pub html: Option<&'a str>,
    pub message_id: &'a str,
    pub date: &'a str,
}

/// Builds the MIME text of a simple message (multipart/alternative when both bodies).
pub fn build_simple(m: &Simple<'_>) -> String {
    use std::fmt::Write;
    let body_len = m.text.map_or(0, str::len) + m.html.map_or(0, str::len);
    let mut out = String::with_capacity(body_len + body_len / 32 + 512);
    // Writing into a String cannot fail.
    let header = |out: &mut String, name: &str, values: &[String]| {
        if !values.is_empty() {
            let _ = write!(out, "{name}: {}\r\n", values.join(", "));
        }
    };
    if !m.from.is_empty() {
        let _ = write!(out, "From: {}\r\n", m.from);
    }
    header(&mut out, "To", m.to);
    header(&mut out, "Cc", m.cc);
    header(&mut out, "Reply-To", m.reply_to);
    let _ = write!(
        out,
        "Subject: {}\r\nMessage-ID: <{}@email.amazonses.com>\r\nDate: {}\r\nMIME-Version: 1.0\r\n",
        encode_header(m.subject),
        m.message_id,
        m.date
    );
    match (m.text, m.html) {
        (Some(text), Some(html)) => {
            let boundary = format!("=_sesame_{}", m.message_id);
            let _ = write!(
                out,
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
            );
            push_part(&mut out, "text/plain", text);
            let _ = write!(out, "\r\n--{boundary}\r\n");
            push_part(&mut out, "text/html", html);
            let _ = write!(out, "\r\n--{boundary}--\r\n");
        }
        (text, html) => {
            let (kind, body) = match (text, html) {
                (_, Some(h)) => ("text/html", h),
                (Some(t), None) => ("text/plain", t),
                (None, None) => ("text/plain", ""),
            };
            push_part(&mut out, kind, body);
        }
    }
    out
}

/// A body part: its headers, then the body with every line ending CRLF (a bare LF
/// becomes CRLF; a CR not before LF stays).
fn push_part(out: &mut String, kind: &str, body: &str) {
    out.push_str("Content-Type: ");
    out.push_str(kind);
    out.push_str("; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    for piece in body.split_inclusive('\n') {
        match piece.strip_suffix('\n') {
            Some(line) => {
                out.push_str(line.strip_suffix('\r').unwrap_or(line));
                out.push_str("\r\n");
            }
            None => out.push_str(piece),
        }
    }
    out.push_str("\r\n");
}

/// RFC 2047 encoded-word for non-ASCII header text.
fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional, whitespace ignored).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// RFC 5322 date, e.g. `Sun, 22 Nov 2026 22:05:31 +0000`.
pub fn rfc5322_date(ms: i64) -> String {
    let iso = iam::ids::iso8601(ms);
    let days = ms.div_euclid(86_400_000);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month_names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = iso[5..7].parse::<usize>().unwrap_or(1);
    [
        weekday,
        ", ",
        &iso[8..10],
        " ",
        month_names[month - 1],
        " ",
        &iso[0..4],
        " ",
        &iso[11..19],
        " +0000",
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_unfolds_and_strips_headers() {
        let raw = "From: a@example.com\r\nX-SES-SOURCE-ARN: arn:aws:ses:us-east-1:1:identity/\r\n example.com\r\nTo: \"Doe, J\" <j@x.org>, k@y.org\r\n\r\nbody";
        let (h, _, body) = split(raw);
        assert_eq!(
            h.first("x-ses-source-arn"),
            Some("arn:aws:ses:us-east-1:1:identity/ example.com")
        );
        assert_eq!(
            address_list(h.first("To").unwrap()),
            ["\"Doe, J\" <j@x.org>", "k@y.org"]
        );
        assert_eq!(body, "body");
    }

    #[test]
    fn formats_dates_and_words() {
        assert_eq!(
            rfc5322_date(1_740_823_200_000),
            "Sat, 01 Mar 2025 10:00:00 +0000"
        );
        assert_eq!(encode_header("Grüße"), "=?UTF-8?B?R3LDvMOfZQ==?=");
        assert_eq!(base64_decode("R3LDvMOfZQ==").unwrap(), "Grüße".as_bytes());
        assert!(base64_decode("*").is_none());
    }

    fn simple<'a>(text: Option<&'a str>, html: Option<&'a str>, to: &'a [String]) -> Simple<'a> {
        Simple {
            from: "a@example.com",
            to,
            cc: &[],
            reply_to: &[],
            subject: "Grüße",
            text,
            html,
            message_id: "0100-id-000000",
            date: "Sat, 01 Mar 2025 10:00:00 +0000",
        }
    }

    #[test]
    fn simple_messages_end_every_line_with_crlf() {
        let to = ["b@example.org".to_string(), "c@example.org".to_string()];
        let text = simple(Some("one\ntwo\r\nthree\rfour\r\r\nlast\r"), None, &to);
        assert_eq!(
            build_simple(&text),
            "From: a@example.com\r\nTo: b@example.org, c@example.org\r\n\
             Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nMessage-ID: <0100-id-000000@email.amazonses.com>\r\n\
             Date: Sat, 01 Mar 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             one\r\ntwo\r\nthree\rfour\r\r\nlast\r\r\n"
        );
        let both = build_simple(&simple(Some("t\n"), Some("<p>h</p>"), &[]));
        assert!(both.contains("MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"=_sesame_0100-id-000000\"\r\n\r\n\
             --=_sesame_0100-id-000000\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nt\r\n\r\n\r\n\
             --=_sesame_0100-id-000000\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>h</p>\r\n\r\n\
             --=_sesame_0100-id-000000--\r\n"), "{both}");
        assert!(!both.contains("To:"));
    }
}
