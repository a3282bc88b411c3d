//! A small DNS stub resolver (RFC 1035) over UDP against one configured server:
//! A, AAAA, MX, TXT and CNAME lookups. Responses are parsed defensively (bounds
//! checked, compression loops limited). No TCP fallback for truncated answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;

const TRIES: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("DNS server unreachable: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer from the DNS server")]
    Timeout,
    #[error("malformed DNS response")]
    Malformed,
    #[error("DNS server failure (rcode {0})")]
    ServerFailure(u8),
    #[error("invalid domain name")]
    BadName,
}

/// One answer record: type and decoded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Txt(String),
    Cname(String),
    Other(u16),
}

pub struct Resolver {
    server: SocketAddr,
}

impl Resolver {
    pub fn new(server: SocketAddr) -> Resolver {
        Resolver { server }
    }

    /// MX records as (preference, exchange); empty when there are none.
    pub async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsError> {
        Ok(self
            .query(domain, TYPE_MX)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Record::Mx(p, name) => Some((p, name)),
                _ => None,
            })
            .collect())
    }

    /// A then AAAA addresses of `name`.
    pub async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let mut out = Vec::new();
        for qtype in [TYPE_A, TYPE_AAAA] {
            for r in self.query(name, qtype).await? {
                match r {
                    Record::A(ip) => out.push(IpAddr::V4(ip)),
                    Record::Aaaa(ip) => out.push(IpAddr::V6(ip)),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// TXT strings of `name` (each record's strings joined).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        Ok(self
            .query(name, TYPE_TXT)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Record::Txt(t) => Some(t),
                _ => None,
            })
            .collect())
    }

    /// The answer records of one query; NXDOMAIN is an empty answer.
    pub async fn query(&self, name: &str, qtype: u16) -> Result<Vec<Record>, DnsError> {
        let id = u16::from_be_bytes(store::random_bytes::<2>().map_err(|_| DnsError::Malformed)?);
        let packet = build_query(id, name, qtype)?;
        let bind: SocketAddr = if self.server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(self.server).await?;
        let mut buf = vec![0u8; 4096];
        for _ in 0..TRIES {
            socket.send(&packet).await?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            loop {
                match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(e)) => return Err(e.into()),
                    Ok(Ok(n)) => {
                        if let Some(records) = parse_response(&buf[..n], id)? {
                            return Ok(records);
                        }
                    }
                }
            }
        }
        Err(DnsError::Timeout)
    }
}

fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::BadName);
        }
        p.push(u8::try_from(label.len()).map_err(|_| DnsError::BadName)?);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if p.len() > 512 {
        return Err(DnsError::BadName);
    }
    Ok(p)
}

/// `None` when the packet is not the answer to query `id` (ignored, keep waiting).
fn parse_response(p: &[u8], id: u16) -> Result<Option<Vec<Record>>, DnsError> {
    if p.len() < 12 || u16::from_be_bytes([p[0], p[1]]) != id || p[2] & 0x80 == 0 {
        return Ok(None);
    }
    let rcode = p[3] & 0x0f;
    if rcode == 3 {
        return Ok(Some(Vec::new()));
    }
    if rcode != 0 {
        return Err(DnsError::ServerFailure(rcode));
    }
    let qdcount = u16::from_be_bytes([p[4], p[5]]);
    let ancount = u16::from_be_bytes([p[6], p[7]]);
    let mut pos = 12;
    for _ in 0..qdcount {
        let (_, next) = read_name(p, pos)?;
        pos = next + 4;
    }
    let mut records = Vec::new();
    for _ in 0..ancount {
        let (_, next) = read_name(p, pos)?;
        let header = p.get(next..next + 10).ok_or(DnsError::Malformed)?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let rdlen = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let start = next + 10;
        let data = p.get(start..start + rdlen).ok_or(DnsError::Malformed)?;
        records.push(parse_rdata(p, rtype, start, data)?);
        pos = start + rdlen;
    }
    Ok(Some(records))
}

fn parse_rdata(p: &[u8], rtype: u16, start: usize, data: &[u8]) -> Result<Record, DnsError> {
    Ok(match rtype {
        TYPE_A => {
            let b: [u8; 4] = data.try_into().map_err(|_| DnsError::Malformed)?;
            Record::A(Ipv4Addr::from(b))
        }
        TYPE_AAAA => {
            let b: [u8; 16] = data.try_into().map_err(|_| DnsError::Malformed)?;
            Record::Aaaa(Ipv6Addr::from(b))
        }
        TYPE_MX => {
            let pref = data.get(..2).ok_or(DnsError::Malformed)?;
            let (name, _) = read_name(p, start + 2)?;
            Record::Mx(u16::from_be_bytes([pref[0], pref[1]]), name)
        }
        TYPE_CNAME => Record::Cname(read_name(p, start)?.0),
        TYPE_TXT => {
            let mut text = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let len = usize::from(data[i]);
                text.extend_from_slice(data.get(i + 1..i + 1 + len).ok_or(DnsError::Malformed)?);
                i += 1 + len;
            }
            Record::Txt(String::from_utf8_lossy(&text).into_owned())
        }
        other => Record::Other(other),
    })
}

/// Reads a possibly compressed name at `pos`: (name, position after it).
fn read_name(p: &[u8], mut pos: usize) -> Result<(String, usize), DnsError> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *p.get(pos).ok_or(DnsError::Malformed)?;
        match len {
            0 => {
                let after = end.unwrap_or(pos + 1);
                let name = if labels.is_empty() {
                    ".".to_string()
                } else {
                    labels.join(".").to_ascii_lowercase()
                };
                return Ok((name, after));
            }
            l if l & 0xc0 == 0xc0 => {
                let low = *p.get(pos + 1).ok_or(DnsError::Malformed)?;
                end.get_or_insert(pos + 2);
                pos = (usize::from(l & 0x3f) << 8) | usize::from(low);
            }
            l if l & 0xc0 == 0 => {
                let l = usize::from(l);
                let label = p.get(pos + 1..pos + 1 + l).ok_or(DnsError::Malformed)?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += 1 + l;
            }
            _ => return Err(DnsError::Malformed),
        }
    }
    Err(DnsError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_mx_answer_with_compression() {
        let mut p = build_query(7, "example.com", TYPE_MX).unwrap();
        p[2] |= 0x80; // response
        p[7] = 1; // one answer
        p.extend_from_slice(&[0xc0, 12]); // name -> question
        p.extend_from_slice(&[0, 15, 0, 1, 0, 0, 0, 60, 0, 7]);
        p.extend_from_slice(&[0, 10, 2, b'm', b'x', 0xc0, 12]);
        let records = parse_response(&p, 7).unwrap().unwrap();
        assert_eq!(records, vec![Record::Mx(10, "mx.example.com".into())]);
        assert_eq!(parse_response(&p, 8).unwrap(), None);
    }

    #[test]
    fn rejects_loops_and_truncation() {
        let mut p = build_query(1, "a.b", TYPE_A).unwrap();
        p[2] |= 0x80;
        p[7] = 1;
        p.extend_from_slice(&[0xc0, 0x20]);
        p.extend_from_slice(&[0xc0, 0x20]);
        assert!(parse_response(&p, 1).is_err());
    }
}
