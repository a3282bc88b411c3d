//! A minimal DNS client (RFC 1035) for the few lookups Sesame makes: TXT and CNAME
//! records for domain verification, MX records for delivery. One configured server,
//! UDP with EDNS0 and a TCP retry for truncated answers. Parsing is bounds-checked
//! throughout: a hostile or broken answer is an error, never a panic.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const TYPE_CNAME: u16 = 5;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
const UDP_PAYLOAD: u16 = 4096;
/// Compression pointers one name may follow before it is declared a loop.
const MAX_JUMPS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("invalid domain name {0:?}")]
    InvalidName(String),
    #[error("DNS server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("DNS I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed DNS answer: {0}")]
    Malformed(&'static str),
    #[error("DNS server failure (rcode {0})")]
    ServerFailure(u8),
}

/// Queries one DNS server.
#[derive(Debug, Clone)]
pub struct Resolver {
    server: SocketAddr,
    timeout: Duration,
}

/// One resource record of an answer section, the data still raw.
struct Record {
    rtype: u16,
    /// Offset of the record data in the message (names in it may point backwards).
    data: std::ops::Range<usize>,
}

impl Resolver {
    pub fn new(server: SocketAddr) -> Resolver {
        Resolver {
            server,
            timeout: Duration::from_secs(2),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Resolver {
        self.timeout = timeout;
        self
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The TXT records of `name`, each record's strings joined. None when the name
    /// does not exist.
    pub fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let (msg, records) = self.query(name, TYPE_TXT)?;
        records
            .iter()
            .filter(|r| r.rtype == TYPE_TXT)
            .map(|r| txt_strings(&msg[r.data.clone()]))
            .collect()
    }

    /// The CNAME targets of `name` (lower case, without the final dot).
    pub fn cname(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let (msg, records) = self.query(name, TYPE_CNAME)?;
        records
            .iter()
            .filter(|r| r.rtype == TYPE_CNAME)
            .map(|r| read_name(&msg, r.data.start).map(|(n, _)| n))
            .collect()
    }

    /// The MX records of `name` as (preference, exchange), lowest preference first.
    pub fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, DnsError> {
        let (msg, records) = self.query(name, TYPE_MX)?;
        let mut out = records
            .iter()
            .filter(|r| r.rtype == TYPE_MX)
            .map(|r| {
                let preference = u16_at(&msg, r.data.start)?;
                let (host, _) = read_name(&msg, r.data.start + 2)?;
                Ok((preference, host))
            })
            .collect::<Result<Vec<_>, DnsError>>()?;
        out.sort();
        Ok(out)
    }

    /// Sends one question; returns the answer message and its answer records.
    fn query(&self, name: &str, qtype: u16) -> Result<(Vec<u8>, Vec<Record>), DnsError> {
        let id =
            u16::from_be_bytes(store::random_bytes::<2>().map_err(|_| {
                DnsError::Io(std::io::Error::other("no randomness for the query id"))
            })?);
        let question = build_query(id, name, qtype)?;
        let mut answer = self.exchange_udp(&question, id)?;
        if truncated(&answer) {
            answer = self.exchange_tcp(&question, id)?;
        }
        let records = parse_answer(&answer, id)?;
        Ok((answer, records))
    }

    fn exchange_udp(&self, question: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
        let local: SocketAddr = if self.server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(self.server)?;
        let deadline = Instant::now() + self.timeout;
        for attempt in 0..2 {
            socket.send(question)?;
            let wait_until = if attempt == 0 {
                Instant::now() + self.timeout / 2
            } else {
                deadline
            };
            if let Some(answer) = receive(&socket, id, wait_until)? {
                return Ok(answer);
            }
        }
        Err(DnsError::Timeout(self.timeout))
    }

    fn exchange_tcp(&self, question: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
        let mut stream = TcpStream::connect_timeout(&self.server, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let len =
            u16::try_from(question.len()).map_err(|_| DnsError::Malformed("query too long"))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(question);
        stream.write_all(&framed)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer)?;
        if u16_at(&answer, 0)? != id {
            return Err(DnsError::Malformed("answer id does not match the query"));
        }
        Ok(answer)
    }
}

/// Waits for the answer with `id`, ignoring stray datagrams, until `until`.
fn receive(socket: &UdpSocket, id: u16, until: Instant) -> Result<Option<Vec<u8>>, DnsError> {
    let mut buf = vec![0u8; 65_535];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv(&mut buf) {
            Ok(n) if n >= 2 && buf[..2] == id.to_be_bytes() => return Ok(Some(buf[..n].to_vec())),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A standard query with recursion desired and an EDNS0 OPT record.
fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut msg = Vec::with_capacity(64);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&[0x01, 0x00]); // RD
    msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // QD=1, AN=0, NS=0, AR=1
    encode_name(name, &mut msg)?;
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    msg.push(0); // OPT: root name
    msg.extend_from_slice(&TYPE_OPT.to_be_bytes());
    msg.extend_from_slice(&UDP_PAYLOAD.to_be_bytes());
    msg.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // extended rcode/flags, no data
    Ok(msg)
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), DnsError> {
    let invalid = || DnsError::InvalidName(name.to_string());
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(invalid());
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(invalid());
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

fn truncated(msg: &[u8]) -> bool {
    msg.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// Checks the header and returns the answer section's records. NXDOMAIN is an
/// empty answer; other failure codes are errors.
fn parse_answer(msg: &[u8], id: u16) -> Result<Vec<Record>, DnsError> {
    if u16_at(msg, 0)? != id {
        return Err(DnsError::Malformed("answer id does not match the query"));
    }
    let flags = u16_at(msg, 2)?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::Malformed("not a response"));
    }
    match (flags & 0x000f) as u8 {
        0 => {}
        3 => return Ok(Vec::new()),
        rcode => return Err(DnsError::ServerFailure(rcode)),
    }
    let questions = u16_at(msg, 4)?;
    let answers = u16_at(msg, 6)?;
    let mut pos = 12;
    for _ in 0..questions {
        pos = skip_name(msg, pos)? + 4;
    }
    let mut records = Vec::new();
    for _ in 0..answers {
        pos = skip_name(msg, pos)?;
        let rtype = u16_at(msg, pos)?;
        let len = usize::from(u16_at(msg, pos + 8)?);
        let start = pos + 10;
        let end = start + len;
        if end > msg.len() {
            return Err(DnsError::Malformed("record data runs past the message"));
        }
        records.push(Record {
            rtype,
            data: start..end,
        });
        pos = end;
    }
    Ok(records)
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, DnsError> {
    match msg.get(pos..pos + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(DnsError::Malformed("message too short")),
    }
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, DnsError> {
    loop {
        let len = *msg
            .get(pos)
            .ok_or(DnsError::Malformed("name runs past the message"))?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => return Ok(pos + 2),
            l if l & 0xc0 != 0 => return Err(DnsError::Malformed("bad label type")),
            l => pos += 1 + usize::from(l),
        }
    }
}

/// Reads the name at `pos`, following compression pointers; returns it in lower
/// case without the final dot, and the position after it in place.
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut labels: Vec<String> = Vec::new();
    let mut pos = start;
    let mut after = None;
    let mut jumps = 0;
    let mut total = 0usize;
    loop {
        let len = *msg
            .get(pos)
            .ok_or(DnsError::Malformed("name runs past the message"))?;
        if len & 0xc0 == 0xc0 {
            let low = *msg
                .get(pos + 1)
                .ok_or(DnsError::Malformed("name runs past the message"))?;
            after.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > MAX_JUMPS {
                return Err(DnsError::Malformed("compression loop"));
            }
            pos = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            continue;
        }
        if len & 0xc0 != 0 {
            return Err(DnsError::Malformed("bad label type"));
        }
        if len == 0 {
            return Ok((labels.join("."), after.unwrap_or(pos + 1)));
        }
        let label = msg
            .get(pos + 1..pos + 1 + usize::from(len))
            .ok_or(DnsError::Malformed("label runs past the message"))?;
        total += label.len() + 1;
        if total > 255 {
            return Err(DnsError::Malformed("name longer than 255 bytes"));
        }
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += 1 + usize::from(len);
    }
}

/// The character-strings of one TXT record, joined.
fn txt_strings(data: &[u8]) -> Result<String, DnsError> {
    let mut out = Vec::with_capacity(data.len());
    let mut pos = 0;
    while pos < data.len() {
        let len = usize::from(data[pos]);
        let s = data
            .get(pos + 1..pos + 1 + len)
            .ok_or(DnsError::Malformed("TXT string runs past the record"))?;
        out.extend_from_slice(s);
        pos += 1 + len;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_with(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut msg = vec![
            0x12,
            0x34,
            0x81,
            0x80,
            0,
            1,
            0,
            records.len() as u8,
            0,
            0,
            0,
            0,
        ];
        encode_name("example.com", &mut msg).unwrap();
        msg.extend_from_slice(&[0, 16, 0, 1]);
        for (rtype, data) in records {
            msg.extend_from_slice(&[0xc0, 12]);
            msg.extend_from_slice(&rtype.to_be_bytes());
            msg.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            msg.extend_from_slice(&(data.len() as u16).to_be_bytes());
            msg.extend_from_slice(data);
        }
        msg
    }

    #[test]
    fn parses_txt_cname_and_pointers() {
        let txt = vec![3, b'a', b'b', b'c', 2, b'd', b'e'];
        let cname = vec![3, b'W', b'w', b'w', 0xc0, 12];
        let msg = answer_with(&[(TYPE_TXT, txt), (TYPE_CNAME, cname)]);
        let records = parse_answer(&msg, 0x1234).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(txt_strings(&msg[records[0].data.clone()]).unwrap(), "abcde");
        let (name, _) = read_name(&msg, records[1].data.start).unwrap();
        assert_eq!(name, "www.example.com");
    }

    #[test]
    fn rejects_hostile_answers_without_panicking() {
        let looped = vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12];
        assert!(parse_answer(&looped, 0x1234).is_err());
        assert!(read_name(&[0xc0, 0], 0).is_err(), "pointer to itself");
        assert!(parse_answer(&[0x12], 0x1234).is_err());
        assert!(txt_strings(&[5, b'a']).is_err());
        let wrong_id = answer_with(&[]);
        assert!(parse_answer(&wrong_id, 1).is_err());
        for len in 0..wrong_id.len() {
            let _ = parse_answer(&wrong_id[..len], 0x1234);
        }
        let mut nx = answer_with(&[]);
        nx[3] = 0x83;
        assert!(parse_answer(&nx, 0x1234).unwrap().is_empty());
        assert!(encode_name("a..b", &mut Vec::new()).is_err());
        assert!(encode_name(&"x".repeat(64), &mut Vec::new()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_u32;
        for _ in 0..2000 {
            let len = (seed % 80) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = parse_answer(&bytes, u16_at(&bytes, 0).unwrap_or(0));
            let _ = read_name(&bytes, 0);
            let _ = txt_strings(&bytes);
        }
    }
}
