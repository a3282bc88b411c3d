//! A small XML writer for Query-protocol responses.

/// Builds an XML document; text is escaped.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>`.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.out, text);
        self.close(tag)
    }

    /// `<tag>text</tag>` only when `text` is present.
    pub fn leaf_opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Wraps a Query action's result: `<ActionResponse xmlns=…><ActionResult>…</ActionResult>
/// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>`.
pub fn query_response(namespace: &str, action: &str, result: &str, request_id: &str) -> String {
    let mut x = Xml::default();
    x.out.extend([
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><",
        action,
        "Response xmlns=\"",
        namespace,
        "\">",
    ]);
    // botocore reads `<ActionResult>` even when it is empty, as AWS always sends it.
    x.out
        .extend(["<", action, "Result>", result, "</", action, "Result>"]);
    x.open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata");
    x.out.extend(["</", action, "Response>"]);
    x.into_string()
}

/// The Query error document.
pub fn query_error(
    namespace: &str,
    sender_fault: bool,
    code: &str,
    message: &str,
    request_id: &str,
) -> String {
    let mut x = Xml::default();
    x.out.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"{namespace}\">"
    ));
    x.open("Error")
        .leaf("Type", if sender_fault { "Sender" } else { "Receiver" })
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id);
    x.out.push_str("</ErrorResponse>");
    x.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_wraps() {
        let mut x = Xml::default();
        x.leaf("Name", "a<b&\"c\"");
        assert_eq!(x.into_string(), "<Name>a&lt;b&amp;&quot;c&quot;</Name>");
        let r = query_response("ns", "GetUser", "<User/>", "rid");
        assert!(r.contains("<GetUserResponse xmlns=\"ns\"><GetUserResult><User/></GetUserResult>"));
        assert!(r.ends_with(
            "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetUserResponse>"
        ));
    }
}
