//! MX resolution for `--delivery mx`: the domain's MX hosts by preference, each
//! host's addresses, or the domain's own A/AAAA records when it has no MX
//! (RFC 5321 §5.1).

use crate::client::ClientError;
use crate::dns::{self, Resolver};
use std::net::SocketAddr;

/// `ip:port` candidates for `domain`, best first.
pub async fn hosts(
    server: SocketAddr,
    domain: &str,
    port: u16,
) -> Result<Vec<String>, ClientError> {
    let resolver = Resolver::new(server);
    let to_client = |e: dns::DnsError| ClientError::Protocol(format!("DNS: {e}"));
    let mut exchanges = resolver.mx(domain).await.map_err(to_client)?;
    exchanges.sort_by_key(|(preference, _)| *preference);
    let names: Vec<String> = if exchanges.is_empty() {
        vec![domain.to_string()]
    } else if exchanges.len() == 1 && exchanges[0].1 == "." {
        // Null MX (RFC 7505): the domain accepts no mail.
        return Err(ClientError::Rejected(crate::reply::Reply {
            code: 556,
            text: "5.1.10 Recipient address has null MX".into(),
            lines: Vec::new(),
        }));
    } else {
        exchanges.into_iter().map(|(_, name)| name).collect()
    };
    let mut out = Vec::new();
    for name in names {
        for ip in resolver.addresses(&name).await.map_err(to_client)? {
            out.push(SocketAddr::new(ip, port).to_string());
        }
    }
    Ok(out)
}
