//! SMTP command lines, parsed without I/O.

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// `MAIL FROM:<path>` with its ESMTP parameters (e.g. `SIZE=1234`).
    Mail {
        from: String,
        params: Vec<String>,
    },
    Rcpt {
        to: String,
    },
    Data,
    Rset,
    Noop,
    Quit,
    StartTls,
    /// `AUTH MECHANISM [initial-response]`.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    Vrfy,
    Help,
}

/// Why a line is not a command we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("502 5.5.2 Error: command not recognized")]
    Unknown,
    #[error("501 5.5.4 Syntax error in parameters or arguments")]
    Syntax,
}

/// Parses one line (without its CRLF).
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let (verb, rest) = match line.split_once(' ') {
        Some((v, r)) => (v, r.trim()),
        None => (line.trim(), ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" if !rest.is_empty() => Ok(Command::Ehlo(rest.to_string())),
        "HELO" if !rest.is_empty() => Ok(Command::Helo(rest.to_string())),
        "EHLO" | "HELO" => Err(CommandError::Syntax),
        "MAIL" => {
            let (from, params) = path_after(rest, "FROM:")?;
            Ok(Command::Mail { from, params })
        }
        "RCPT" => {
            let (to, _) = path_after(rest, "TO:")?;
            if to.is_empty() {
                return Err(CommandError::Syntax);
            }
            Ok(Command::Rcpt { to })
        }
        "DATA" => Ok(Command::Data),
        "RSET" => Ok(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "STARTTLS" => Ok(Command::StartTls),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        "AUTH" => {
            let mut parts = rest.split_whitespace();
            let mechanism = parts
                .next()
                .ok_or(CommandError::Syntax)?
                .to_ascii_uppercase();
            Ok(Command::Auth {
                mechanism,
                initial: parts.next().map(str::to_string),
            })
        }
        _ => Err(CommandError::Unknown),
    }
}

/// `FROM:<a@b> SIZE=10` → ("a@b", ["SIZE=10"]). Accepts a space after the colon and a
/// bare address without brackets.
fn path_after(rest: &str, keyword: &str) -> Result<(String, Vec<String>), CommandError> {
    let head = rest.get(..keyword.len()).ok_or(CommandError::Syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(CommandError::Syntax);
    }
    let rest = rest[keyword.len()..].trim_start();
    let (path, params) = if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>').ok_or(CommandError::Syntax)?;
        (&inner[..end], &inner[end + 1..])
    } else {
        rest.split_once(' ').unwrap_or((rest, ""))
    };
    if path.contains(['<', '>', ' ']) {
        return Err(CommandError::Syntax);
    }
    Ok((
        path.to_string(),
        params.split_whitespace().map(str::to_string).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse("EHLO client.example").unwrap(),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(
            parse("MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME").unwrap(),
            Command::Mail {
                from: "a@example.com".into(),
                params: vec!["SIZE=100".into(), "BODY=8BITMIME".into()]
            }
        );
        assert_eq!(
            parse("mail from: <>").unwrap(),
            Command::Mail {
                from: String::new(),
                params: vec![]
            }
        );
        assert_eq!(
            parse("RCPT TO:<b@example.org>").unwrap(),
            Command::Rcpt {
                to: "b@example.org".into()
            }
        );
        assert_eq!(
            parse("AUTH PLAIN AGEAYg==").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            }
        );
        assert_eq!(parse("FOO"), Err(CommandError::Unknown));
        assert_eq!(parse("RCPT TO:<>"), Err(CommandError::Syntax));
        assert_eq!(parse("MAIL FROM:<unterminated"), Err(CommandError::Syntax));
        assert_eq!(parse("EHLO"), Err(CommandError::Syntax));
    }
}
