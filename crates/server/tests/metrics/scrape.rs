//! Scrapes `/metrics` over a real socket and parses it with the Python Prometheus
//! client's parser (`tests/prometheus/parse.py`), in the interpreter of
//! `SWITCHBOARD_TEST_PYTHON` or else `target/promvenv` (scripts/test.sh makes it).

#![allow(dead_code)]

use std::{
    io::Write,
    net::SocketAddr,
    path::PathBuf,
    process::{Command, Stdio},
};

use serde_json::{Map, Value};

use super::common::http_get;

/// The parsed families: `{name: {"type", "help", "samples": [[name, labels, value]]}}`.
pub(crate) struct Families(Map<String, Value>);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("SWITCHBOARD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/promvenv/bin/python"))
}

/// `GET /metrics` at `addr`, parsed by the outside parser.
pub(crate) async fn scrape(addr: SocketAddr) -> Families {
    let (status, head, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let python = python();
    let mut child = Command::new(&python)
        .arg(workspace().join("tests/prometheus/parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {} ({err}): run scripts/test.sh once, or `python3 -m venv target/promvenv && target/promvenv/bin/pip install prometheus-client`",
                python.display()
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus parser refused the text: {}\n{body}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    Families(parsed.as_object().unwrap().clone())
}

impl Families {
    /// The family's type (`counter`, `gauge`, `histogram`); the parser names a counter's
    /// family without `_total`.
    pub(crate) fn kind(&self, family: &str) -> &str {
        self.0
            .get(family)
            .unwrap_or_else(|| panic!("no family {family}: {:?}", self.0.keys()))["type"]
            .as_str()
            .unwrap()
    }

    /// Every family's name.
    pub(crate) fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// Every sample named `sample` (e.g. `x_total`, `x_bucket`), with its labels.
    pub(crate) fn samples(&self, sample: &str) -> Vec<(Map<String, Value>, f64)> {
        self.0
            .values()
            .flat_map(|family| family["samples"].as_array().unwrap())
            .filter(|s| s[0] == sample)
            .map(|s| {
                (
                    s[1].as_object().unwrap().clone(),
                    s[2].as_f64().unwrap_or(f64::INFINITY),
                )
            })
            .collect()
    }

    /// The one sample named `sample` whose labels include `labels`.
    pub(crate) fn value(&self, sample: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .samples(sample)
            .into_iter()
            .filter(|(have, _)| {
                labels
                    .iter()
                    .all(|(k, v)| have.get(*k).and_then(Value::as_str) == Some(*v))
            })
            .map(|(_, value)| value)
            .collect();
        assert_eq!(matching.len(), 1, "{sample} {labels:?}: {matching:?}");
        matching[0]
    }

    /// How much `sample` grew since `before`.
    pub(crate) fn delta(&self, before: &Families, sample: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(sample, labels) - before.value(sample, labels)
    }

    /// `(family, label name)` for every label of every sample.
    pub(crate) fn label_names(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .flat_map(|(name, family)| {
                family["samples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s[1].as_object().unwrap().keys().cloned())
                    .map(|label| (name.clone(), label))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
