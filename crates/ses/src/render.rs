//! Template rendering: the Handlebars subset SES documents for stored templates —
//! `{{name}}` and nested `{{a.b}}` attributes, `{{#each}}` over lists (with `this`,
//! `@index`, `@first`, `@last`, `@key`, `../`), `{{#if}}` / `{{#unless}}` /
//! `{{else}}` / `{{else if}}`, `{{#with}}`, inline partials (`{{#* inline "n"}}` …
//! `{{/inline}}`, `{{> n}}`), comments, `~` whitespace control and Handlebars'
//! standalone-line rule. As in SES, values are not HTML-escaped, and an attribute
//! that a `{{…}}` expression prints but the data lacks is a rendering failure.

use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest block nesting (and partial recursion) a template may use.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template text is not valid (unclosed block, unknown helper, …).
    #[error("{0}")]
    Syntax(String),
    /// An expression prints an attribute the rendering data does not have.
    #[error("Attribute '{0}' is not present in the rendering data.")]
    MissingAttribute(String),
}

/// A parsed template part (subject, text or HTML).
#[derive(Debug, Clone)]
pub struct Compiled {
    nodes: Vec<Node>,
    partials: HashMap<String, Vec<Node>>,
}

/// Parses and renders one template part.
pub fn render(template: &str, data: &Value) -> Result<String, RenderError> {
    compile(template)?.render(data)
}

/// Parses a template part, reporting syntax errors and partials that are used but
/// never defined.
pub fn compile(template: &str) -> Result<Compiled, RenderError> {
    let tokens = whitespace_control(tokenize(template)?);
    let mut partials = HashMap::new();
    let nodes = parse(tokens, &mut partials)?;
    let compiled = Compiled { nodes, partials };
    compiled.check_partials(&compiled.nodes)?;
    Ok(compiled)
}

impl Compiled {
    pub fn render(&self, data: &Value) -> Result<String, RenderError> {
        let mut out = String::new();
        let root = Frame {
            value: data,
            vars: Vars::default(),
        };
        self.render_nodes(&self.nodes, &mut vec![root], &mut out, 0)?;
        Ok(out)
    }

    fn check_partials(&self, nodes: &[Node]) -> Result<(), RenderError> {
        for node in nodes {
            match node {
                Node::Partial(name) if !self.partials.contains_key(name) => {
                    return Err(RenderError::Syntax(format!(
                        "The partial {name} could not be found"
                    )))
                }
                Node::Block(block) => {
                    self.check_partials(&block.body)?;
                    self.check_partials(&block.otherwise)?;
                }
                _ => {}
            }
        }
        for body in self.partials.values() {
            if body
                .iter()
                .any(|n| matches!(n, Node::Partial(p) if !self.partials.contains_key(p)))
            {
                return Err(RenderError::Syntax(
                    "A partial refers to a partial that could not be found".into(),
                ));
            }
        }
        Ok(())
    }

    fn render_nodes<'v>(
        &self,
        nodes: &[Node],
        stack: &mut Vec<Frame<'v>>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), RenderError> {
        if depth > MAX_DEPTH {
            return Err(RenderError::Syntax(
                "Template nesting is too deep (recursive partial?)".into(),
            ));
        }
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Var(path) => match lookup(stack, path) {
                    Some(v) => print_value(&v, out),
                    None => return Err(RenderError::MissingAttribute(path.text.clone())),
                },
                Node::Partial(name) => {
                    if let Some(body) = self.partials.get(name) {
                        self.render_nodes(body, stack, out, depth + 1)?;
                    }
                }
                Node::Block(block) => self.render_block(block, stack, out, depth)?,
            }
        }
        Ok(())
    }

    fn render_block<'v>(
        &self,
        block: &Block,
        stack: &mut Vec<Frame<'v>>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), RenderError> {
        let (body, otherwise) = (&block.body, &block.otherwise);
        match block.helper {
            Helper::If | Helper::Unless => {
                let wanted = block.helper == Helper::If;
                let chosen = if truthy(lookup(stack, &block.path).as_deref()) == wanted {
                    body
                } else {
                    otherwise
                };
                self.render_nodes(chosen, stack, out, depth + 1)
            }
            // Arguments of `each` and `with` are never `@` variables (see `open_block`).
            Helper::With => match lookup_ref(stack, &block.path).filter(|v| truthy(Some(v))) {
                Some(v) => self.with_frame(stack, v, Vars::default(), body, out, depth),
                None => self.render_nodes(otherwise, stack, out, depth + 1),
            },
            Helper::Each => {
                let items = each_items(lookup_ref(stack, &block.path));
                if items.is_empty() {
                    return self.render_nodes(otherwise, stack, out, depth + 1);
                }
                let last = items.len() - 1;
                for (index, (key, item)) in items.into_iter().enumerate() {
                    let vars = Vars {
                        index: Some(index),
                        key,
                        first: index == 0,
                        last: index == last,
                    };
                    self.with_frame(stack, item, vars, body, out, depth)?;
                }
                Ok(())
            }
        }
    }

    fn with_frame<'v>(
        &self,
        stack: &mut Vec<Frame<'v>>,
        value: &'v Value,
        vars: Vars,
        body: &[Node],
        out: &mut String,
        depth: usize,
    ) -> Result<(), RenderError> {
        stack.push(Frame { value, vars });
        let result = self.render_nodes(body, stack, out, depth + 1);
        stack.pop();
        result
    }
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Var(Path),
    Partial(String),
    Block(Block),
}

#[derive(Debug, Clone)]
struct Block {
    helper: Helper,
    path: Path,
    body: Vec<Node>,
    otherwise: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    If,
    Unless,
    Each,
    With,
}

/// A path expression: `a.b`, `this`, `../a`, `@index`, `@root.a`.
#[derive(Debug, Clone)]
struct Path {
    text: String,
    /// How many `../` steps up the context stack.
    up: usize,
    /// `@root.…`: from the outermost context.
    root: bool,
    /// `@index`, `@key`, `@first`, `@last`.
    data: Option<String>,
    segments: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct Vars {
    index: Option<usize>,
    key: Option<String>,
    first: bool,
    last: bool,
}

struct Frame<'v> {
    value: &'v Value,
    vars: Vars,
}

/// The value a path names: a reference into the data, or an `@` variable.
fn lookup<'v>(stack: &[Frame<'v>], path: &Path) -> Option<Cow<'v, Value>> {
    match &path.data {
        Some(name) => data_var(stack.last()?, name).map(Cow::Owned),
        None => lookup_ref(stack, path).map(Cow::Borrowed),
    }
}

fn lookup_ref<'v>(stack: &[Frame<'v>], path: &Path) -> Option<&'v Value> {
    if path.data.is_some() {
        return None;
    }
    let frame = if path.root {
        stack.first()?
    } else {
        stack.get(stack.len().checked_sub(1 + path.up)?)?
    };
    let mut value = frame.value;
    for segment in &path.segments {
        value = match value {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `@index`, `@key`, `@first` and `@last` of the innermost `each`.
fn data_var(frame: &Frame<'_>, name: &str) -> Option<Value> {
    match name {
        "index" => frame.vars.index.map(Value::from),
        "key" => frame.vars.key.clone().map(Value::String),
        "first" => frame.vars.index.map(|_| Value::Bool(frame.vars.first)),
        "last" => frame.vars.index.map(|_| Value::Bool(frame.vars.last)),
        _ => None,
    }
}

fn each_items(value: Option<&Value>) -> Vec<(Option<String>, &Value)> {
    match value {
        Some(Value::Array(items)) => items.iter().map(|v| (None, v)).collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
        _ => Vec::new(),
    }
}

/// Handlebars' truthiness: false, null, missing, "", 0 and [] are false.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(_)) => true,
    }
}

/// Prints a value as JavaScript would convert it to a string.
fn print_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                print_value(item, out);
            }
        }
        Value::Object(_) => out.push_str("[object Object]"),
    }
}

// ---- tokens -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Tag(Tag),
}

#[derive(Debug, Clone, PartialEq)]
struct Tag {
    /// The text between the braces, without `~` markers and surrounding spaces.
    body: String,
    strip_before: bool,
    strip_after: bool,
}

impl Tag {
    /// Tags that produce no text of their own and so may stand alone on a line.
    fn is_standalone_kind(&self) -> bool {
        self.body.starts_with(['#', '/', '!', '>', '^']) || is_else(&self.body)
    }
}

fn is_else(body: &str) -> bool {
    body == "else" || body == "^" || body.starts_with("else ")
}

fn tokenize(template: &str) -> Result<Vec<Token>, RenderError> {
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if rest[..start].ends_with('\\') {
            text.push_str(&rest[..start - 1]);
            text.push_str("{{");
            rest = &rest[start + 2..];
            continue;
        }
        text.push_str(&rest[..start]);
        let (tag, consumed) = read_tag(&rest[start..])?;
        if !text.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut text)));
        }
        tokens.push(Token::Tag(tag));
        rest = &rest[start + consumed..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

/// Reads one `{{…}}` (or `{{{…}}}`, `{{!-- … --}}`) at the start of `s`; returns the
/// tag and how many bytes it spans.
fn read_tag(s: &str) -> Result<(Tag, usize), RenderError> {
    let unclosed = || RenderError::Syntax("Unclosed '{{' in template".into());
    let mut i = 2;
    let strip_before = s[i..].starts_with('~');
    if strip_before {
        i += 1;
    }
    let rest = &s[i..];
    if rest.starts_with("!--") {
        let end = rest
            .find("--}}")
            .or_else(|| rest.find("--~}}"))
            .ok_or_else(unclosed)?;
        let strip_after = rest[end..].starts_with("--~");
        let close = if strip_after { 5 } else { 4 };
        let tag = Tag {
            body: "!".into(),
            strip_before,
            strip_after,
        };
        return Ok((tag, i + end + close));
    }
    let triple = rest.starts_with('{');
    let (inner_start, close) = if triple { (1, "}}}") } else { (0, "}}") };
    let end = rest[inner_start..].find(close).ok_or_else(unclosed)? + inner_start;
    let mut inner = &rest[inner_start..end];
    let strip_after = inner.ends_with('~');
    inner = inner.trim_end_matches('~');
    let inner = inner.trim();
    if inner.is_empty() {
        return Err(RenderError::Syntax("Empty expression '{{}}'".into()));
    }
    let body = if triple {
        format!("&{inner}")
    } else {
        inner.to_string()
    };
    let tag = Tag {
        body,
        strip_before,
        strip_after,
    };
    Ok((tag, i + end + close.len()))
}

/// Applies `~` markers, then removes the lines of standalone block tags (decided on
/// the text as written, then cut).
fn whitespace_control(mut tokens: Vec<Token>) -> Vec<Token> {
    for i in 0..tokens.len() {
        let (before, after) = match &tokens[i] {
            Token::Tag(t) => (t.strip_before, t.strip_after),
            Token::Text(_) => continue,
        };
        if before && i > 0 {
            if let Token::Text(t) = &mut tokens[i - 1] {
                t.truncate(t.trim_end().len());
            }
        }
        if after {
            if let Some(Token::Text(t)) = tokens.get_mut(i + 1) {
                *t = t.trim_start().to_string();
            }
        }
    }
    let standalone: Vec<bool> = (0..tokens.len())
        .map(|i| match &tokens[i] {
            Token::Tag(t) => t.is_standalone_kind() && alone_on_line(&tokens, i),
            Token::Text(_) => false,
        })
        .collect();
    // SES: "The newline character is required to separate the {{inline}} block from
    // the content in your template. The newline isn't rendered."
    let mut after_inline = vec![false; tokens.len()];
    for i in 1..tokens.len() {
        after_inline[i] =
            matches!(&tokens[i - 1], Token::Tag(t) if t.body.replace(' ', "") == "/inline");
    }
    for (i, token) in tokens.iter_mut().enumerate() {
        let Token::Text(t) = token else { continue };
        if after_inline[i] && !standalone[i - 1] {
            let cut = if t.starts_with("\r\n") {
                2
            } else {
                usize::from(t.starts_with('\n'))
            };
            t.drain(..cut);
        }
        let after_standalone = i > 0 && standalone[i - 1];
        let before_standalone = standalone.get(i + 1).copied().unwrap_or(false);
        let start = if after_standalone {
            t.find('\n').map_or(t.len(), |n| n + 1)
        } else {
            0
        };
        let end = if before_standalone {
            t.rfind('\n').map_or(0, |n| n + 1)
        } else {
            t.len()
        };
        *t = t.get(start..end.max(start)).unwrap_or("").to_string();
    }
    tokens
}

fn alone_on_line(tokens: &[Token], i: usize) -> bool {
    let blank = |s: &str| s.chars().all(|c| c == ' ' || c == '\t');
    let before_ok = match i.checked_sub(1).map(|p| &tokens[p]) {
        None => true,
        Some(Token::Tag(_)) => false,
        Some(Token::Text(t)) => match t.rfind('\n') {
            Some(n) => blank(&t[n + 1..]),
            None => i == 1 && blank(t),
        },
    };
    let after_ok = match tokens.get(i + 1) {
        None => true,
        Some(Token::Tag(_)) => false,
        Some(Token::Text(t)) => match t.find('\n') {
            Some(n) => blank(t[..n].trim_end_matches('\r')),
            None => i + 2 == tokens.len() && blank(t),
        },
    };
    before_ok && after_ok
}

// ---- parser -------------------------------------------------------------------

/// An open block while parsing: what closes it and where its nodes go.
struct Open {
    kind: OpenKind,
    body: Vec<Node>,
    otherwise: Vec<Node>,
    in_else: bool,
    /// `{{else if}}` chains: how many nested ifs the closing `{{/if}}` also closes.
    chained: usize,
}

enum OpenKind {
    Block(Helper, Path),
    Inline(String),
}

fn parse(
    tokens: Vec<Token>,
    partials: &mut HashMap<String, Vec<Node>>,
) -> Result<Vec<Node>, RenderError> {
    let mut stack: Vec<Open> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    for token in tokens {
        let tag = match token {
            Token::Text(t) => {
                push_node(&mut stack, &mut top, Node::Text(t));
                continue;
            }
            Token::Tag(tag) => tag,
        };
        let body = tag.body.as_str();
        if body.starts_with('!') {
            continue;
        }
        if let Some(rest) = body.strip_prefix('#') {
            if stack.len() >= MAX_DEPTH {
                return Err(RenderError::Syntax("Blocks are nested too deeply".into()));
            }
            stack.push(open_block(rest.trim())?);
        } else if let Some(rest) = body.strip_prefix('/') {
            close_block(rest.trim(), &mut stack, &mut top, partials)?;
        } else if is_else(body) {
            else_branch(body, &mut stack)?;
        } else if let Some(rest) = body.strip_prefix('>') {
            let name = rest.trim().trim_matches(['"', '\'']);
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(RenderError::Syntax(format!(
                    "Unsupported partial call '{{{{{body}}}}}'"
                )));
            }
            push_node(&mut stack, &mut top, Node::Partial(name.to_string()));
        } else {
            let expr = body.strip_prefix('&').unwrap_or(body).trim();
            push_node(&mut stack, &mut top, Node::Var(parse_path(expr)?));
        }
    }
    if let Some(open) = stack.last() {
        let name = match &open.kind {
            OpenKind::Block(h, _) => helper_name(*h),
            OpenKind::Inline(_) => "inline",
        };
        return Err(RenderError::Syntax(format!(
            "Block '{{{{#{name}}}}}' is not closed"
        )));
    }
    Ok(top)
}

fn push_node(stack: &mut [Open], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut() {
        Some(open) if open.in_else => open.otherwise.push(node),
        Some(open) => open.body.push(node),
        None => top.push(node),
    }
}

fn open_block(rest: &str) -> Result<Open, RenderError> {
    let kind = if let Some(inline) = rest.strip_prefix('*') {
        let inline = inline.trim();
        let name = inline
            .strip_prefix("inline")
            .map(|n| n.trim().trim_matches(['"', '\'']))
            .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
            .ok_or_else(|| {
                RenderError::Syntax(format!("Unsupported decorator '{{{{#*{inline}}}}}'"))
            })?;
        OpenKind::Inline(name.to_string())
    } else {
        let (name, arg) = rest.split_once(char::is_whitespace).ok_or_else(|| {
            RenderError::Syntax(format!("Block '{{{{#{rest}}}}}' needs an argument"))
        })?;
        let helper = match name {
            "if" => Helper::If,
            "unless" => Helper::Unless,
            "each" => Helper::Each,
            "with" => Helper::With,
            other => return Err(RenderError::Syntax(format!("Missing helper: \"{other}\""))),
        };
        let path = parse_path(arg.trim())?;
        if path.data.is_some() && matches!(helper, Helper::Each | Helper::With) {
            return Err(RenderError::Syntax(format!(
                "'{{{{#{name}}}}}' cannot iterate over '{}'",
                path.text
            )));
        }
        OpenKind::Block(helper, path)
    };
    Ok(Open {
        kind,
        body: Vec::new(),
        otherwise: Vec::new(),
        in_else: false,
        chained: 0,
    })
}

fn else_branch(body: &str, stack: &mut Vec<Open>) -> Result<(), RenderError> {
    let open = stack
        .last_mut()
        .ok_or_else(|| RenderError::Syntax("'{{else}}' outside a block".into()))?;
    if open.in_else || matches!(open.kind, OpenKind::Inline(_)) {
        return Err(RenderError::Syntax("Unexpected '{{else}}'".into()));
    }
    open.in_else = true;
    let chained = body.strip_prefix("else").map(str::trim).unwrap_or("");
    if chained.is_empty() || body == "^" {
        return Ok(());
    }
    // `{{else if x}}`: a nested block in the else branch, closed by the outer close.
    let chain = open.chained + 1;
    if stack.len() >= MAX_DEPTH {
        return Err(RenderError::Syntax("Blocks are nested too deeply".into()));
    }
    let mut inner = open_block(chained)?;
    inner.chained = chain;
    stack.push(inner);
    Ok(())
}

fn close_block(
    name: &str,
    stack: &mut Vec<Open>,
    top: &mut Vec<Node>,
    partials: &mut HashMap<String, Vec<Node>>,
) -> Result<(), RenderError> {
    loop {
        let open = stack
            .pop()
            .ok_or_else(|| RenderError::Syntax(format!("Unexpected '{{{{/{name}}}}}'")))?;
        let chained = open.chained;
        let expected = match &open.kind {
            OpenKind::Block(h, _) => helper_name(*h),
            OpenKind::Inline(_) => "inline",
        };
        if chained == 0 && expected != name {
            return Err(RenderError::Syntax(format!(
                "'{{{{#{expected}}}}}' does not match '{{{{/{name}}}}}'"
            )));
        }
        match open.kind {
            OpenKind::Inline(partial) => {
                partials.insert(partial, open.body);
            }
            OpenKind::Block(helper, path) => push_node(
                stack,
                top,
                Node::Block(Block {
                    helper,
                    path,
                    body: open.body,
                    otherwise: open.otherwise,
                }),
            ),
        }
        if chained == 0 {
            return Ok(());
        }
        // Closing an `{{else if}}` link also closes the block it hangs from.
        if let Some(parent) = stack.last() {
            if parent.chained + 1 != chained {
                return Err(RenderError::Syntax("Malformed '{{else if}}' chain".into()));
            }
        }
    }
}

fn helper_name(h: Helper) -> &'static str {
    match h {
        Helper::If => "if",
        Helper::Unless => "unless",
        Helper::Each => "each",
        Helper::With => "with",
    }
}

fn parse_path(expr: &str) -> Result<Path, RenderError> {
    let unsupported = || {
        RenderError::Syntax(format!(
            "Unsupported expression '{{{{{expr}}}}}': only attribute paths are supported"
        ))
    };
    if expr.is_empty()
        || expr.contains(char::is_whitespace)
        || expr.contains(['(', ')', '=', '"', '\'', '[', ']'])
    {
        return Err(unsupported());
    }
    let mut path = Path {
        text: expr.to_string(),
        up: 0,
        root: false,
        data: None,
        segments: Vec::new(),
    };
    let mut rest = expr;
    if let Some(r) = rest.strip_prefix("@root") {
        path.root = true;
        rest = r.strip_prefix('.').unwrap_or(r);
        if !r.is_empty() && !r.starts_with('.') {
            return Err(unsupported());
        }
    } else if let Some(name) = rest.strip_prefix('@') {
        if !["index", "key", "first", "last"].contains(&name) {
            return Err(unsupported());
        }
        path.data = Some(name.to_string());
        return Ok(path);
    }
    while let Some(r) = rest.strip_prefix("../") {
        path.up += 1;
        rest = r;
    }
    for prefix in ["./", "this.", "this/"] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    if rest == "." || rest == "this" || (rest.is_empty() && (path.root || path.up > 0)) {
        return Ok(path);
    }
    for segment in rest.split(['.', '/']) {
        if segment.is_empty() || segment == "this" {
            return Err(unsupported());
        }
        path.segments.push(segment.to_string());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(template: &str, data: Value) -> Result<String, RenderError> {
        render(template, &data)
    }

    #[test]
    fn variables_and_nested_attributes() {
        let data = json!({"name": "Alejandro", "contact": {"city": "Bengaluru"}, "n": 3, "ok": true, "none": null});
        assert_eq!(
            r("Hi {{name}} from {{ contact.city }}!", data.clone()).unwrap(),
            "Hi Alejandro from Bengaluru!"
        );
        assert_eq!(
            r("{{n}} {{ok}} [{{none}}]", data.clone()).unwrap(),
            "3 true []"
        );
        assert_eq!(
            r("{{{name}}} {{&name}}", data).unwrap(),
            "Alejandro Alejandro"
        );
        assert_eq!(
            r("<b>{{x}}</b>", json!({"x": "<i>&</i>"})).unwrap(),
            "<b><i>&</i></b>",
            "SES does not escape HTML"
        );
    }

    #[test]
    fn missing_attribute_is_a_rendering_failure() {
        let e = r("Dear {{name}}, {{favoriteanimal}}", json!({"name": "A"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Attribute 'favoriteanimal' is not present in the rendering data."
        );
        assert!(matches!(
            r("{{contact.city}}", json!({"contact": {}})),
            Err(RenderError::MissingAttribute(p)) if p == "contact.city"
        ));
        assert_eq!(
            r("{{#if lastName}} {{lastName}}{{/if}}", json!({})).unwrap(),
            "",
            "a guarded attribute may be missing"
        );
    }

    #[test]
    fn each_if_else_unless_with() {
        let data = json!({
            "subscription": [{"interest": "Sports"}, {"interest": "Travel"}],
            "tags": ["a", "b", "c"],
            "user": {"first": "Anaya"},
            "empty": []
        });
        assert_eq!(
            r(
                "{{#each subscription}}<li>{{interest}}</li>{{/each}}",
                data.clone()
            )
            .unwrap(),
            "<li>Sports</li><li>Travel</li>"
        );
        assert_eq!(
            r(
                "{{#each tags}}{{@index}}={{this}}{{#unless @last}},{{/unless}}{{/each}}",
                data.clone()
            )
            .unwrap(),
            "0=a,1=b,2=c"
        );
        assert_eq!(
            r(
                "{{#if empty}}yes{{else}}no{{/if}} {{#if user}}{{user.first}}{{/if}}",
                data.clone()
            )
            .unwrap(),
            "no Anaya"
        );
        assert_eq!(
            r("{{#each empty}}x{{else}}none{{/each}}", data.clone()).unwrap(),
            "none"
        );
        assert_eq!(
            r(
                "{{#with user}}{{first}} {{../tags.1}}{{/with}}",
                data.clone()
            )
            .unwrap(),
            "Anaya b"
        );
        assert_eq!(
            r("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", json!({"b": 1})).unwrap(),
            "B"
        );
        assert_eq!(
            r("{{#each user}}{{@key}}:{{this}}{{/each}}", data).unwrap(),
            "first:Anaya"
        );
    }

    #[test]
    fn inline_partials_and_whitespace_as_in_the_ses_guide() {
        let template = "{{#* inline \"fullName\"}}{{firstName}}{{#if lastName}} {{lastName}}{{/if}}{{/inline}}\nHello {{> fullName}}! Friends:\n{{#each friends}}\n- {{> fullName}}\n{{/each}}";
        let data = json!({
            "firstName": "Anaya", "lastName": "Iyengar",
            "friends": [{"firstName": "Shirley", "lastName": "Rodriguez"}, {"firstName": "Liu"}]
        });
        assert_eq!(
            r(template, data).unwrap(),
            "Hello Anaya Iyengar! Friends:\n- Shirley Rodriguez\n- Liu\n"
        );
        assert_eq!(r("a  {{~x~}}  b", json!({"x": 1})).unwrap(), "a1b");
        let standalone = "{{#* inline \"p\"}}\n{{x}}\n{{/inline}}\nA\n{{> p}}";
        assert_eq!(r(standalone, json!({"x": 1})).unwrap(), "A\n1\n");
        assert_eq!(
            r("{{! comment }}x{{!-- {{y}} --}}", json!({})).unwrap(),
            "x"
        );
        assert_eq!(r("\\{{x}}", json!({})).unwrap(), "{{x}}");
    }

    #[test]
    fn unsupported_syntax_is_rejected_when_compiled() {
        for bad in [
            "{{#if x}}open",
            "{{/if}}",
            "{{#if x}}{{/each}}",
            "{{#custom x}}{{/custom}}",
            "{{helper arg}}",
            "{{> missing}}",
            "{{x",
            "{{}}",
            "{{#each @index}}{{/each}}",
            "{{else}}",
        ] {
            assert!(
                matches!(compile(bad), Err(RenderError::Syntax(_))),
                "{bad} should not compile"
            );
        }
    }

    #[test]
    fn deep_nesting_and_recursive_partials_fail_cleanly() {
        let deep = "{{#if a}}".repeat(200) + &"{{/if}}".repeat(200);
        assert!(compile(&deep).is_err());
        let recursive = "{{#* inline \"p\"}}{{> p}}{{/inline}}{{> p}}";
        assert!(render(recursive, &json!({})).is_err());
    }
}
