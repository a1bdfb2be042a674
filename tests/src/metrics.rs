//! Reading an agent's `/metrics` from a test or benchmark: scraping with curl inside the
//! agent's namespace, checking the text with `promtool check metrics`, and picking samples.
use std::{
    io::Write,
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

use crate::Netns;

/// Where the agents of the tests and benchmarks listen (inside their own namespaces).
pub const LISTEN: &str = "127.0.0.1:9165";

/// `curl http://ADDR/metrics` inside `ns`: the body, or an error with curl's message.
pub fn scrape(ns: &Netns, addr: &str) -> Result<String> {
    let url = format!("http://{addr}/metrics");
    let out = ns.output("curl", &["-sS", "--fail", "--max-time", "5", &url])?;
    if !out.status.success() {
        bail!(
            "curl {url} in {}: {} ({})",
            ns.name(),
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `promtool check metrics` on `text`: Ok, or its complaints.
pub fn promtool_check(text: &str) -> Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting promtool (Debian package prometheus; cargo xtask setup)")?;
    child
        .stdin
        .take()
        .context("promtool's stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "promtool check metrics ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A sample line split up: name, labels, value.
type Sample<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64);

/// One sample line split up.
fn parse(line: &str) -> Option<Sample<'_>> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series, Vec::new(), value));
    };
    let body = rest.strip_suffix('}')?;
    let labels = body
        .split("\",")
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once("=\"")?;
            Some((k, v.trim_end_matches('"')))
        })
        .collect();
    Some((name, labels, value))
}

/// The value of the sample `name` whose labels include every one of `labels`; `None` if
/// there is no such sample, an error if there are several.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Result<Option<f64>> {
    let found: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse)
        .filter(|(n, ls, _)| *n == name && labels.iter().all(|want| ls.contains(want)))
        .map(|(_, _, v)| v)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [v] => Ok(Some(*v)),
        _ => bail!("{} samples of {name} match {labels:?}", found.len()),
    }
}

/// Every sample of `name`: its labels and value.
pub fn samples(text: &str, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse)
        .filter(|(n, _, _)| *n == name)
        .map(|(_, ls, v)| {
            let ls = ls
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (ls, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_a_subset_of_their_labels() {
        let t = "# TYPE x counter\nx{a=\"1\",b=\"two\"} 3\nx{a=\"2\",b=\"two\"} 4\ny 5\n";
        assert_eq!(sample(t, "x", &[("a", "2")]).unwrap(), Some(4.0));
        assert_eq!(sample(t, "y", &[]).unwrap(), Some(5.0));
        assert_eq!(sample(t, "x", &[("a", "3")]).unwrap(), None);
        assert!(sample(t, "x", &[("b", "two")]).is_err());
        assert_eq!(samples(t, "x").len(), 2);
    }
}
