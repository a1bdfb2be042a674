//! Embeds the XDP object built by `cargo xtask build-ebpf`.
//!
//! The object is built with nightly and bpf-linker, which a plain `cargo build` cannot
//! drive; instead of a cryptic `include_bytes!` error, a missing object stops the build
//! with one sentence that names the command to run.
use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let object = env::var_os("VRRP_EBPF_OBJECT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/bpf/bpfel-unknown-none/release/vrrp"));
    println!("cargo:rerun-if-env-changed=VRRP_EBPF_OBJECT");
    println!("cargo:rerun-if-changed={}", object.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("vrrp.bpf.o");
    match fs::read(&object) {
        Ok(bytes) => fs::write(&out, bytes).expect("write OUT_DIR/vrrp.bpf.o"),
        Err(_) => {
            eprintln!(
                "error: the XDP object {} is missing: run `cargo xtask build-ebpf` \
                 (or `cargo xtask test`, which builds it) first.",
                object.display()
            );
            std::process::exit(1);
        }
    }
}
