//! `cargo xtask bench-metrics`: does serving /metrics delay adverts? A Master at advert_int
//! 0.01 (VRRPv3) on a veth pair (namespaces `mx*`), its adverts captured by tcpdump on the
//! other end; windows of N seconds alternate idle / scraped 50 times a second (an HTTP/1.1
//! GET of /metrics from a thread inside the Master's namespace, one connection per scrape,
//! every response checked). Jitter: |interval - 10 ms| between consecutive adverts.
//!
//! Usage: `bench-metrics [SECS]` (default 10). Addresses: 198.18.0.0/24.
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{bail, ensure, Context, Result};
use vrrp_tests::{
    in_netns,
    lab::{self, epoch_secs},
    metrics::LISTEN,
    start_agent_with, Netns, Proc, TempDir, VethPair,
};

const SCRAPES_PER_SEC: u32 = 50;
const ROUNDS: usize = 2;

/// A bounded tcpdump of VRRP on one interface, with epoch timestamps.
fn capture(ns: &Netns, iface: &str, secs: u64, log: &std::path::Path) -> Result<Proc> {
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg(secs.to_string()).args([
        "ip",
        "netns",
        "exec",
        ns.name(),
        "tcpdump",
        "--immediate-mode",
        "-l",
        "-n",
        "-tt",
        "-i",
        iface,
        "proto",
        "112",
    ]);
    let mut p = Proc::spawn("tcpdump", &mut cmd, log)?;
    p.wait_log("listening on", Duration::from_secs(20))?;
    Ok(p)
}

/// Advert times (epoch seconds) from `src` in the capture log.
fn adverts(log: &std::path::Path, src: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let at = w.next()?.parse::<f64>().ok()?;
            (w.nth(1)? == src).then_some(at)
        })
        .collect()
}

/// One GET /metrics over a fresh connection; the time it took and the answer.
fn scrape_once() -> Result<(Duration, String)> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(LISTEN)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body).into_owned();
    ensure!(
        text.starts_with("HTTP/1.1 200") && text.contains("\nkeepalived_up 1\n"),
        "bad answer: {}",
        text.lines().next().unwrap_or("")
    );
    Ok((t0.elapsed(), text))
}

/// Scrapes at `SCRAPES_PER_SEC` for `secs` from inside `ns`; the latencies.
fn scrape_for(ns: &Netns, secs: u32) -> Result<Vec<f64>> {
    in_netns(ns, || {
        let period = Duration::from_secs(1) / SCRAPES_PER_SEC;
        let t0 = Instant::now();
        let mut out = Vec::new();
        for k in 0..SCRAPES_PER_SEC * secs {
            let due = t0 + period * k;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            out.push(scrape_once()?.0.as_secs_f64() * 1000.0);
        }
        Ok(out)
    })
}

struct Window {
    scraped: bool,
    adverts: usize,
    jitter_ms: Vec<f64>,
    scrape_ms: Vec<f64>,
}

fn pct(v: &[f64], q: f64) -> f64 {
    // `v` is sorted.
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() -> Result<()> {
    let secs: u32 = match std::env::args().nth(1) {
        Some(s) => s.parse().context("SECS: a number of seconds")?,
        None => 10,
    };
    ensure!((1..=120).contains(&secs), "SECS: 1..=120");
    let pair = VethPair::new("mxj")?;
    let dir = TempDir::new("vrrp-mxj")?;
    let conf = lab::v3_instance("VI_1", &pair.a_if, 51, 150, "0.01", "198.18.0.100");
    let _agent = start_agent_with(
        &pair.a,
        dir.path(),
        "master",
        &conf,
        &[
            "--metrics-listen",
            LISTEN,
            "--control-socket",
            &dir.path().join("master.sock").to_string_lossy(),
        ],
    )?;
    let src = VethPair::A_ADDR.to_string();
    let log = dir.path().join("adverts.txt");
    let total = u64::from(secs) * (2 * ROUNDS as u64) + 30;
    let cap = capture(&pair.b, &pair.b_if, total, &log)?;
    // Master after its Master_Down_Interval; let it settle.
    let t0 = Instant::now();
    while adverts(&log, &src).len() < 50 {
        if t0.elapsed() > Duration::from_secs(15) {
            bail!("no adverts from the Master:\n{}", _agent.proc.log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let mut windows = Vec::new();
    for _ in 0..ROUNDS {
        for scraped in [false, true] {
            let from = epoch_secs(SystemTime::now());
            let scrape_ms = if scraped {
                scrape_for(&pair.a, secs)?
            } else {
                std::thread::sleep(Duration::from_secs(u64::from(secs)));
                Vec::new()
            };
            let to = epoch_secs(SystemTime::now());
            // tcpdump prints as packets come: give the last ones a moment.
            std::thread::sleep(Duration::from_millis(200));
            let ads: Vec<f64> = adverts(&log, &src)
                .into_iter()
                .filter(|t| (from..to).contains(t))
                .collect();
            let jitter_ms = ads
                .windows(2)
                .map(|w| ((w[1] - w[0]) - 0.01).abs() * 1000.0)
                .collect();
            windows.push(Window {
                scraped,
                adverts: ads.len(),
                jitter_ms,
                scrape_ms,
            });
        }
    }
    drop(cap);
    // What answering cost the agent's loop, as it measured itself.
    let (_, text) = in_netns(&pair.a, scrape_once)?;
    let loop_cost =
        vrrp_tests::metrics::sample(&text, "keepalived_metrics_scrape_duration_seconds_sum", &[])?
            .zip(vrrp_tests::metrics::sample(
                &text,
                "keepalived_metrics_scrape_duration_seconds_count",
                &[],
            )?);

    println!(
        "\nAdvert jitter of a Master at advert_int 0.01 (|interval - 10 ms|, ms), idle vs \
         {SCRAPES_PER_SEC} scrapes/s of /metrics, {secs} s windows, captured on the peer's veth\n"
    );
    println!(
        "| window | adverts | jitter median | p95 | p99 | max | scrapes | scrape median | scrape p95 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut all = [Vec::new(), Vec::new()];
    for (n, w) in windows.iter_mut().enumerate() {
        w.jitter_ms.sort_by(f64::total_cmp);
        w.scrape_ms.sort_by(f64::total_cmp);
        all[usize::from(w.scraped)].extend_from_slice(&w.jitter_ms);
        let j = &w.jitter_ms;
        if j.is_empty() {
            println!("| {} | {} | - | - | - | - | - | - | - |", n + 1, w.adverts);
            continue;
        }
        let (s, s50, s95) = if w.scrape_ms.is_empty() {
            ("-".to_string(), "-".to_string(), "-".to_string())
        } else {
            (
                w.scrape_ms.len().to_string(),
                format!("{:.2}", pct(&w.scrape_ms, 0.5)),
                format!("{:.2}", pct(&w.scrape_ms, 0.95)),
            )
        };
        println!(
            "| {} {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {s} | {s50} | {s95} |",
            n + 1,
            if w.scraped { "scraped" } else { "idle" },
            w.adverts,
            pct(j, 0.5),
            pct(j, 0.95),
            pct(j, 0.99),
            j[j.len() - 1],
        );
    }
    if let Some((sum, n)) = loop_cost.filter(|(_, n)| *n > 0.0) {
        println!(
            "\nThe agent's loop spent {:.1} µs per scrape on average ({n} scrapes).",
            sum / n * 1e6
        );
    }
    let [idle, scraped] = &mut all;
    idle.sort_by(f64::total_cmp);
    scraped.sort_by(f64::total_cmp);
    ensure!(
        !idle.is_empty() && !scraped.is_empty(),
        "no adverts captured"
    );
    println!();
    for (name, q) in [("median", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let (i, s) = (pct(idle, q), pct(scraped, q));
        println!(
            "{name}: idle {i:.3} ms, scraped {s:.3} ms, ratio {:.2} ({})",
            s / i.max(1e-6),
            if s <= 2.0 * i {
                "within 2x"
            } else {
                "ABOVE 2x"
            }
        );
    }
    Ok(())
}
