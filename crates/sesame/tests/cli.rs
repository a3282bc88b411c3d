//! `sesame policy simulate | validate` driven as a user drives them: the built
//! binary, files and standard input, output lines and exit codes (CONTRACT §3–§4).

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SESAME: &str = env!("CARGO_BIN_EXE_sesame");

fn cases_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/cases")
        .join(name)
}

fn read_cases(name: &str) -> (String, Vec<Value>) {
    let path = cases_path(name);
    let text = std::fs::read_to_string(&path).expect("read cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("parse cases");
    assert!(!cases.is_empty());
    (text, cases)
}

/// A file under the system temp directory, unique to this test process and `name`.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sesame-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(SESAME)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sesame");
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("wait for sesame");
    writer.join().expect("stdin writer").expect("write stdin");
    output
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .expect("UTF-8 output")
        .lines()
        .map(str::to_string)
        .collect()
}

fn decisions(output: &Output) -> Vec<Value> {
    stdout_lines(output)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}")))
        .collect()
}

/// Checks one output object against one case: name, decision, deniedBy, message, trace.
#[track_caller]
fn check_decision(got: &Value, case: &Value, with_trace: bool) {
    let name = &case["name"];
    assert_eq!(&got["name"], name, "names in input order");
    let want = &case["expected"];
    assert_eq!(got["decision"], want["decision"], "{name}: decision");
    if let Some(by) = want.get("deniedBy") {
        assert_eq!(&got["deniedBy"], by, "{name}: deniedBy");
    }
    let allowed = got["decision"] == "allowed";
    assert!(
        got.get("deniedBy").is_some(),
        "{name}: deniedBy is always present"
    );
    if allowed {
        assert!(got["deniedBy"].is_null(), "{name}: allowed has no deniedBy");
        assert!(
            got.get("message").is_none(),
            "{name}: allowed has no message"
        );
    } else {
        let message = got["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("is not authorized to perform"),
            "{name}: denial message {message:?}"
        );
        assert!(message.contains(case["request"]["action"].as_str().unwrap()));
    }
    match got.get("trace") {
        Some(Value::Array(lines)) if with_trace => assert!(!lines.is_empty(), "{name}: trace"),
        None if !with_trace => {}
        other => panic!("{name}: trace {other:?} (with_trace {with_trace})"),
    }
}

#[track_caller]
fn check_all(output: &Output, cases: &[Value], with_trace: bool) {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let got = decisions(output);
    assert_eq!(got.len(), cases.len(), "one line per document");
    for (g, c) in got.iter().zip(cases) {
        check_decision(g, c, with_trace);
    }
}

// ---------------------------------------------------------------- simulate

#[test]
fn simulate_visible_cases_from_a_file() {
    let (_, cases) = read_cases("visible.json");
    let path = cases_path("visible.json");
    let output = run(&["policy", "simulate", path.to_str().unwrap()], None);
    check_all(&output, &cases, true);
}

#[test]
fn simulate_without_trace() {
    let (_, cases) = read_cases("visible.json");
    let path = cases_path("visible.json");
    let output = run(
        &["policy", "simulate", "--no-trace", path.to_str().unwrap()],
        None,
    );
    check_all(&output, &cases, false);
}

#[test]
fn simulate_rule_cases() {
    let (_, cases) = read_cases("rules.json");
    let path = cases_path("rules.json");
    let output = run(&["policy", "simulate", path.to_str().unwrap()], None);
    check_all(&output, &cases, true);
}

#[test]
fn simulate_json_lines() {
    let (_, cases) = read_cases("visible.json");
    let lines: String = cases
        .iter()
        .map(|c| format!("{}\n", serde_json::to_string(c).unwrap()))
        .collect();
    let path = temp_file("cases.jsonl", &lines);
    let output = run(&["policy", "simulate", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).ok();
    check_all(&output, &cases, true);
}

#[test]
fn simulate_single_object_and_standard_input() {
    let (text, cases) = read_cases("visible.json");
    let output = run(&["policy", "simulate", "-"], Some(&text));
    check_all(&output, &cases, true);

    let one = serde_json::to_string_pretty(&cases[0]).unwrap();
    let output = run(&["policy", "simulate", "--no-trace", "-"], Some(&one));
    check_all(&output, &cases[..1], false);
}

#[test]
fn simulate_reports_a_broken_document_and_decides_the_others() {
    let (_, cases) = read_cases("visible.json");
    let first = serde_json::to_string(&cases[0]).unwrap();
    let last = serde_json::to_string(&cases[1]).unwrap();
    // Line 2 is cut off in the middle of the request object.
    let text = format!("{first}\n{{\"name\": \"cut\", \"request\": {{\"principal\": \"arn:aws:iam::111122223333:user/alice\",\n{last}\n");
    let output = run(&["policy", "simulate", "-"], Some(&text));
    assert_eq!(output.status.code(), Some(2));
    let got = decisions(&output);
    assert_eq!(got.len(), 3, "{got:?}");
    check_decision(&got[0], &cases[0], true);
    check_decision(&got[2], &cases[1], true);
    let error = got[1]["error"].as_str().expect("error text");
    assert!(
        error.starts_with("2:") || error.starts_with("3:"),
        "error has line:col: {error}"
    );
    assert!(got[1].get("decision").is_none());
}

#[test]
fn simulate_reports_an_unreadable_document_by_name() {
    let (_, cases) = read_cases("visible.json");
    let mut bad = cases[0].clone();
    bad["name"] = "bad-principal".into();
    bad["request"]["principal"] = "alice".into();
    let docs = Value::Array(vec![cases[0].clone(), bad, cases[1].clone()]);
    let text = serde_json::to_string_pretty(&docs).unwrap();
    let output = run(&["policy", "simulate", "--no-trace", "-"], Some(&text));
    assert_eq!(output.status.code(), Some(2));
    let got = decisions(&output);
    assert_eq!(got.len(), 3);
    check_decision(&got[0], &cases[0], false);
    check_decision(&got[2], &cases[1], false);
    assert_eq!(got[1]["name"], "bad-principal");
    let error = got[1]["error"].as_str().expect("error text");
    assert!(error.contains("is not a principal"), "{error}");
    let (line, col) = error.split_once(": ").unwrap().0.split_once(':').unwrap();
    assert!(
        line.parse::<u32>().unwrap() > 1 && col.parse::<u32>().unwrap() > 1,
        "{error}"
    );
}

#[test]
fn simulate_missing_file_fails() {
    let output = run(
        &["policy", "simulate", "/nonexistent/sesame-cases.json"],
        None,
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(!output.stderr.is_empty());
}

// ---------------------------------------------------------------- validate

/// Every line is `LINE:COL: error|warning: text`.
#[track_caller]
fn assert_finding_lines(output: &Output) -> Vec<(u32, u32, String, String)> {
    stdout_lines(output)
        .iter()
        .map(|l| {
            let mut parts = l.splitn(4, ':');
            let line = parts.next().and_then(|s| s.parse::<u32>().ok());
            let col = parts.next().and_then(|s| s.parse::<u32>().ok());
            let severity = parts.next().map(str::trim).unwrap_or_default().to_string();
            let text = parts.next().unwrap_or_default();
            assert!(
                line.is_some_and(|n| n > 0)
                    && col.is_some_and(|n| n > 0)
                    && (severity == "error" || severity == "warning")
                    && text.starts_with(' ')
                    && text.len() > 1,
                "not LINE:COL: severity: text: {l:?}"
            );
            (line.unwrap(), col.unwrap(), severity, text[1..].to_string())
        })
        .collect()
}

const VALID: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "*"}]
}
"#;

#[test]
fn validate_valid_policy_exits_0() {
    let path = temp_file("valid.json", VALID);
    let output = run(&["policy", "validate", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).ok();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn validate_warnings_only_exits_0() {
    let old = VALID.replace("2012-10-17", "2008-10-17");
    let output = run(&["policy", "validate", "-"], Some(&old));
    assert_eq!(output.status.code(), Some(0));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].0, findings[0].1), (2, 14));
    assert_eq!(findings[0].2, "warning");
}

#[test]
fn validate_invalid_policy_exits_1() {
    let pasted = VALID.replace("\"Allow\"", "“Allow”");
    let output = run(&["policy", "validate", "-"], Some(&pasted));
    assert_eq!(output.status.code(), Some(1));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].0, findings[0].1), (3, 28));
    assert_eq!(findings[0].2, "error");
    assert!(findings[0].3.contains("typographic quote “"));
    assert!(findings[0].3.contains("replace “ and ” with \""));

    let broken = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Permit", "Action": "ses:SendEmail", "Resource": "*", "Conditon": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]
}
"#;
    let path = temp_file("broken.json", broken);
    let output = run(&["policy", "validate", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).ok();
    assert_eq!(output.status.code(), Some(1));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!((findings[0].0, findings[0].1), (3, 28));
    assert!(findings[0].3.contains("Effect must be"));
    assert_eq!((findings[1].0, findings[1].1), (3, 82));
    assert!(findings[1]
        .3
        .contains("unknown statement element `Conditon`"));

    let bad_cidr = VALID.replace(
        "\"Resource\": \"*\"",
        "\"Resource\": \"*\", \"Condition\": {\"IpAddress\": {\"aws:SourceIp\": \"10.0.0.0/40\"}}",
    );
    let output = run(&["policy", "validate", "-"], Some(&bad_cidr));
    assert_eq!(output.status.code(), Some(1));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].0, findings[0].1), (3, 147));
    assert!(findings[0]
        .3
        .contains("`10.0.0.0/40` is not a valid IP address or CIDR block"));
}

#[test]
fn validate_kind_flag() {
    let resource = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "ses:SendEmail", "Resource": "*"}]
}
"#;
    let output = run(&["policy", "validate", "-"], Some(resource));
    assert_eq!(output.status.code(), Some(0));
    let output = run(
        &["policy", "validate", "--kind", "resource", "-"],
        Some(resource),
    );
    assert_eq!(output.status.code(), Some(0));
    let output = run(
        &["policy", "validate", "--kind", "identity", "-"],
        Some(resource),
    );
    assert_eq!(output.status.code(), Some(1));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].0, findings[0].1), (3, 50));
    assert!(findings[0].3.contains("cannot name a Principal"));

    let output = run(
        &["policy", "validate", "--kind", "resource", "-"],
        Some(VALID),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(assert_finding_lines(&output)[0]
        .3
        .contains("needs a Principal"));
}

#[test]
fn validate_invalid_json_exits_1_with_position() {
    let output = run(
        &["policy", "validate", "-"],
        Some("{\n  \"Version\": \"2012-10-17\",\n}\n"),
    );
    assert_eq!(output.status.code(), Some(1));
    let findings = assert_finding_lines(&output);
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].0, findings[0].1), (2, 26));
    assert!(findings[0].3.contains("trailing comma"));
}
