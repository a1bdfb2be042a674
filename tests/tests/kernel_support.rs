//! What the agent needs from the kernel, checked on the kernel these tests run on (this host,
//! and Debian's 6.1 and 6.12 in `cargo xtask test-kernels`): every feature the start-up probe
//! asks for is there, the master-down watchdog runs in the kernel (its timer re-arms itself
//! with a relative timeout, which 6.1 has; the absolute flag came in 6.4), and the
//! large-message checksum path (scratch copy, 512-byte chunks, a tail) that older verifiers
//! rejected is right across chunk boundaries. Needs root (CAP_BPF).
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    dataplane::{probe, Dataplane, WatchdogPath},
    runtime::parse_event,
    units::{Centisecs, MonoTime},
    wire::{
        frame::FrameBuilder,
        vrrp::{Auth, Repr, Version},
        Endpoints,
    },
};
use vrrp_common::{
    Counters, InstanceConfig, InstanceKey, AUTH_NONE, EV_MASTER_DOWN, FAMILY_IPV4, FAMILY_IPV6,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
/// BPF_PROG_TEST_RUN runs on the loopback device's receive queue.
const LO: u32 = 1;
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

fn v3_cfg() -> InstanceConfig {
    InstanceConfig {
        version: 3,
        auth_type: AUTH_NONE,
        adver_int_cs: 10,
        ..Default::default()
    }
}

fn counters(dp: &Dataplane, key: InstanceKey) -> Counters {
    dp.counters()
        .unwrap()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| c)
        .unwrap_or_default()
}

#[test]
fn every_probed_feature_is_present_and_the_watchdog_runs_in_the_kernel() {
    let support = probe::probe_kernel();
    let missing: Vec<&str> = support.missing.iter().map(|f| f.name).collect();
    assert!(missing.is_empty(), "missing on this kernel: {missing:?}");
    assert_eq!(support.refusal(), None);
    let dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dp.watchdog_path(),
        &WatchdogPath::Kernel,
        "the start-up probe of the watchdog failed on {}",
        probe::kernel_release()
    );
    // The probe's arming fired (on a slow guest its first run may already be past the
    // deadline; the next test makes the timer restart itself), and no restart failed.
    let stats = dp.watch_timer_stats().unwrap();
    assert!(stats.runs >= 1, "{stats:?}");
    assert_eq!(stats.start_failures, 0);
}

#[test]
fn the_watchdog_restarts_itself_until_the_deadline_and_fires_once() {
    let mut dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    let key = InstanceKey::new(LO, 60, FAMILY_IPV4);
    dp.set_instance(key, v3_cfg()).unwrap();
    let mut events = dp.take_events().unwrap();
    let before = dp.watch_timer_stats().unwrap();
    // Long enough that the timer's first run (at arming) finds it in the future and must
    // start itself again for it.
    let down_after = Duration::from_millis(500);
    let armed_at = MonoTime::now();
    dp.arm_master_down(&key, down_after, armed_at, 1).unwrap();
    let started = Instant::now();
    let ev = loop {
        if let Some(item) = events.next() {
            break parse_event(&item).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no EV_MASTER_DOWN within 20 s: {:?}",
            dp.master_down_watch(&key).unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let seen = MonoTime::now();
    assert_eq!(ev.kind, EV_MASTER_DOWN);
    assert_eq!(ev.peer.instance(), key);
    assert_eq!(ev.ts_ns, armed_at.as_nanos() + down_after.as_nanos() as u64);
    assert!(
        seen.as_nanos() >= ev.ts_ns,
        "fired before its deadline: {} < {}",
        seen.as_nanos(),
        ev.ts_ns
    );
    let after = dp.watch_timer_stats().unwrap();
    assert!(after.runs >= before.runs + 2, "{before:?} -> {after:?}");
    assert_eq!(after.start_failures, 0);
    assert!(dp.master_down_watch(&key).unwrap().unwrap().fired());
    // Once per arming: nothing more comes.
    std::thread::sleep(Duration::from_millis(300));
    assert!(events.next().is_none());
}

/// A v3 advert of `count` addresses (IPv4 or IPv6) for `vrid`.
fn advert(vrid: u8, count: usize, v6: bool) -> Vec<u8> {
    let addresses: Vec<IpAddr> = (0..count)
        .map(|i| {
            if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i as u16))
            } else {
                IpAddr::V4(Ipv4Addr::new(198, 19, (i / 256) as u8, i as u8))
            }
        })
        .collect();
    let repr = Repr {
        version: Version::V3,
        vrid,
        priority: 100,
        max_adver_int: Centisecs::new(10),
        addresses,
        auth: Auth::None,
    };
    let src = if v6 {
        IpAddr::V6(SRC6)
    } else {
        IpAddr::V4(SRC)
    };
    FrameBuilder::new(&repr, Endpoints::multicast(src))
        .expect("emit")
        .build()
}

#[test]
fn large_messages_are_checksummed_across_chunk_boundaries() {
    // Message lengths around the 512-byte chunks of the scratch path: a tail only, exactly
    // one and two chunks (no tail), chunks plus a tail; frames stay within what
    // BPF_PROG_TEST_RUN takes in one buffer.
    let cases: &[(bool, usize)] = &[
        (false, 15),  // 68 bytes: the first past the inline path
        (false, 126), // 512: one chunk, empty tail
        (false, 127), // 516: one chunk, 4-byte tail
        (false, 254), // 1024: two chunks
        (false, 255), // 1028
        (true, 31),   // 504: tail only
        (true, 32),   // 520
        (true, 63),   // 1016
        (true, 64),   // 1032
        (true, 127),  // 2040
        (true, 128),  // 2056: four chunks, 8-byte tail
        (true, 200),  // 3208: six chunks, 136-byte tail
    ];
    let mut dp = Dataplane::load(None).unwrap_or_else(|e| panic!("{e}"));
    let k4 = InstanceKey::new(LO, 70, FAMILY_IPV4);
    let k6 = InstanceKey::new(LO, 70, FAMILY_IPV6);
    dp.set_instance(k4, v3_cfg()).unwrap();
    dp.set_instance(k6, v3_cfg()).unwrap();
    let (mut valid4, mut valid6, mut bad4, mut bad6) = (0, 0, 0, 0);
    for &(v6, count) in cases {
        let frame = advert(70, count, v6);
        let what = format!("{} addresses (IPv{})", count, if v6 { 6 } else { 4 });
        assert_eq!(dp.test_run(&frame, 1).unwrap().0, XDP_PASS, "valid, {what}");
        // One flipped bit in the first chunk, and one in the last bytes (the tail, or the
        // last whole chunk): both must fail the checksum.
        let hdr = 14 + if v6 { 40 } else { 20 };
        for at in [hdr + 9, frame.len() - 1] {
            let mut bad = frame.clone();
            bad[at] ^= 0x10;
            assert_eq!(
                dp.test_run(&bad, 1).unwrap().0,
                XDP_DROP,
                "byte {at} flipped, {what}"
            );
        }
        if v6 {
            valid6 += 1;
            bad6 += 2;
        } else {
            valid4 += 1;
            bad4 += 2;
        }
    }
    let (c4, c6) = (counters(&dp, k4), counters(&dp, k6));
    assert_eq!((c4.valid, c4.bad_checksum), (valid4, bad4), "{c4:?}");
    assert_eq!((c6.valid, c6.bad_checksum), (valid6, bad6), "{c6:?}");
    assert_eq!(
        c4.discards() + c6.discards(),
        bad4 + bad6,
        "only checksum discards"
    );
}
