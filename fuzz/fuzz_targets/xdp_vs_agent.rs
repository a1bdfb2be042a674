#![no_main]
use std::cell::RefCell;

thread_local! {
    static HARNESS: RefCell<vrrp_fuzz::xdp::Harness> = RefCell::new(
        vrrp_fuzz::xdp::Harness::new().expect("loading the XDP program (needs root)"),
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| HARNESS.with(|h| h.borrow_mut().run(data)));
