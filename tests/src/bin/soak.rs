//! `cargo xtask soak [--minutes N] [--seed S] [--margin SECS]`: the chaos soak (see
//! `vrrp_tests::soak`). Prints the table; exits 1 on any violation. Ctrl-C stops early,
//! cleans up and still prints the table. Needs root.
use std::{sync::atomic::Ordering, time::Duration};

use vrrp_tests::soak::{self, Options};

extern "C" fn on_signal(_: libc::c_int) {
    soak::STOP.store(true, Ordering::Relaxed);
}

fn main() {
    // SAFETY: installing handlers that only store to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |what: &str| -> f64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{what} needs a number")))
        };
        match a.as_str() {
            "--minutes" => opts.duration = Duration::from_secs_f64(val("--minutes") * 60.0),
            "--secs" => opts.duration = Duration::from_secs_f64(val("--secs")),
            "--seed" => opts.seed = val("--seed") as u64,
            "--margin" => opts.margin = val("--margin"),
            "--warmup" => opts.warmup = val("--warmup"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    match soak::run(opts) {
        Ok(r) if r.violations.is_empty() => {}
        Ok(r) => {
            eprintln!("soak: {} violation(s)", r.violations.len());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("soak stopped: {e:#}");
            std::process::exit(2);
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: soak [--minutes N | --secs N] [--seed S] [--margin SECS] [--warmup SECS]"
    );
    std::process::exit(2)
}
