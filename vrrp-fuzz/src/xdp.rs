//! Differential: each frame goes through the real XDP program (BPF_PROG_TEST_RUN on the
//! loopback device) and through the agent's model of it ([`vrrp_agent::wire::receive`]),
//! with the same instance table in both. They must give the same verdict and the same
//! discard reason (seen as the counter that moved), and for a valid advert the same record:
//! priority, interval, version, count, source address and MAC. Needs root (CAP_BPF).
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_agent::dataplane::{Dataplane, DataplaneError};
use vrrp_agent::runtime::addr_bytes;
use vrrp_agent::wire::receive::{judge, Outcome, ReceiveTable, Verdict};
use vrrp_common::{
    AddrKey, Counters, Discard, InstanceConfig, InstanceKey, PeerKey, UnicastPeer, AUTH_NONE,
    AUTH_PASS, CFG_CONSUME, CFG_OWNER, CFG_UNICAST, CFG_UNICAST_TTL, FAMILY_IPV4, FAMILY_IPV6,
};

/// BPF_PROG_TEST_RUN runs on the loopback device's receive queue.
pub const LO: u32 = 1;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

/// This host's address (unicast destination) and the allowed unicast peers.
pub const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// A unicast peer with any TTL.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// A unicast peer whose adverts must arrive with TTL 250..=255.
pub const PEER_TTL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
/// This host's IPv6 address.
pub const LOCAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// An IPv6 unicast peer.
pub const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The instance table both sides judge by: one instance of every kind the program tells
/// apart (v2 PASS, v2 none, v3 both families, unicast with and without TTL rules, unicast
/// IPv6, an address owner, one that consumes its adverts).
pub fn table() -> ReceiveTable {
    let mut t = ReceiveTable::default();
    let mut pass = [0u8; 8];
    pass.copy_from_slice(b"secret12");
    let v2 = |auth_type, auth_pass| InstanceConfig {
        version: 2,
        auth_type,
        adver_int_cs: 100,
        auth_pass,
        ..Default::default()
    };
    let v3 = |flags| InstanceConfig {
        version: 3,
        auth_type: AUTH_NONE,
        adver_int_cs: 10,
        flags,
        ..Default::default()
    };
    let k4 = |vrid| InstanceKey::new(LO, vrid, FAMILY_IPV4);
    let k6 = |vrid| InstanceKey::new(LO, vrid, FAMILY_IPV6);
    t.instances.insert(k4(51), v2(AUTH_PASS, pass));
    t.instances.insert(k4(53), v2(AUTH_NONE, [0; 8]));
    t.instances.insert(k4(52), v3(0));
    t.instances.insert(k6(52), v3(0));
    t.instances.insert(k4(54), v3(CFG_UNICAST));
    t.instances
        .insert(k4(55), v3(CFG_UNICAST | CFG_UNICAST_TTL));
    t.instances.insert(k6(54), v3(CFG_UNICAST));
    t.instances.insert(k4(56), v3(CFG_OWNER));
    t.instances.insert(k4(57), v3(CFG_CONSUME));
    // keepalived's mcast_dst_ip: adverts go to another group.
    t.instances.insert(
        k4(58),
        InstanceConfig {
            group4: [239, 18, 0, 18],
            ..v3(0)
        },
    );
    // ... and its IPv6 form (or vrrp_mcast_group6): ff02::1:12.
    t.instances.insert(
        k6(58),
        InstanceConfig {
            group6: [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x12],
            ..v3(0)
        },
    );
    for vrid in [54, 55] {
        t.unicast.insert(
            PeerKey::new(k4(vrid), addr_bytes(PEER.into())),
            UnicastPeer::default(),
        );
        t.unicast.insert(
            PeerKey::new(k4(vrid), addr_bytes(PEER_TTL.into())),
            UnicastPeer::new(250, 255),
        );
    }
    t.unicast.insert(
        PeerKey::new(k6(54), addr_bytes(PEER6.into())),
        UnicastPeer::default(),
    );
    t.local_addrs
        .insert(AddrKey::new(FAMILY_IPV4, addr_bytes(LOCAL.into())));
    t.local_addrs
        .insert(AddrKey::new(FAMILY_IPV6, addr_bytes(LOCAL6.into())));
    t
}

/// The XDP program loaded with [`table`], and the model's copy of it.
pub struct Harness {
    dp: Dataplane,
    table: ReceiveTable,
    /// Outcomes both sides agreed on so far: `None` a valid advert, else the reason.
    seen: std::collections::BTreeSet<Option<Discard>>,
}

impl Harness {
    /// Loads the program (not attached, no pins) and writes the table into its maps.
    pub fn new() -> Result<Harness, DataplaneError> {
        let mut dp = Dataplane::load(None)?;
        let mut table = table();
        for (key, cfg) in table.instances.iter_mut() {
            dp.set_instance(*key, *cfg)?;
            // The slot the agent assigned, so both sides hold the same configuration.
            cfg.slot = dp.slot(key).unwrap_or(0);
        }
        for (key, peer) in &table.unicast {
            dp.allow_unicast_peer_ttl(*key, *peer)?;
        }
        dp.set_local_addrs(&table.local_addrs)?;
        Ok(Harness {
            dp,
            table,
            seen: Default::default(),
        })
    }

    /// Runs one frame through both and panics if they disagree.
    pub fn run(&mut self, frame: &[u8]) {
        // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header or longer than
        // a page.
        if frame.len() < 14 || frame.len() > 3000 {
            return;
        }
        let want = judge(frame, LO, &self.table);
        let before = self.counters();
        let verdict = match self.dp.test_run(frame, 1) {
            Ok((v, _)) => v,
            Err(e) => panic!("BPF_PROG_TEST_RUN failed: {e}"),
        };
        let after = self.counters();
        let moved = moved(&before, &after);
        let want_verdict = match want.verdict {
            Verdict::Pass => XDP_PASS,
            Verdict::Drop => XDP_DROP,
        };
        let ctx = || {
            format!("frame {frame:02x?}: model {want:?}, kernel verdict {verdict}, counters moved {moved:?}")
        };
        assert_eq!(verdict, want_verdict, "verdicts differ: {}", ctx());
        match want.outcome {
            Outcome::NotVrrp => assert!(moved.is_empty(), "{}", ctx()),
            Outcome::Discarded { key, reason } => {
                assert_eq!(moved, vec![(key, Some(reason))], "{}", ctx());
                self.seen.insert(Some(reason));
            }
            Outcome::Valid(r) => {
                assert_eq!(moved, vec![(r.peer.instance(), None)], "{}", ctx());
                let got = self
                    .dp
                    .peer(&r.peer)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| panic!("no kernel record: {}", ctx()));
                assert_eq!(
                    (
                        got.priority,
                        got.adver_int_cs,
                        got.version,
                        got.addr_count,
                        got.src_mac
                    ),
                    (
                        r.priority,
                        r.adver_int_cs,
                        r.version,
                        r.addr_count,
                        r.src_mac
                    ),
                    "records differ: {}",
                    ctx()
                );
                self.seen.insert(None);
            }
        }
    }

    /// The outcomes seen so far (`None`: a valid advert), for tests that must show they
    /// exercised every path.
    pub fn seen(&self) -> &std::collections::BTreeSet<Option<Discard>> {
        &self.seen
    }

    fn counters(&self) -> BTreeMap<InstanceKey, Counters> {
        match self.dp.counters() {
            Ok(v) => v.into_iter().collect(),
            Err(e) => panic!("reading the counters: {e}"),
        }
    }
}

/// Which counters moved between two readings: per key, `None` for `valid`, else the
/// discard reason.
fn moved(
    before: &BTreeMap<InstanceKey, Counters>,
    after: &BTreeMap<InstanceKey, Counters>,
) -> Vec<(InstanceKey, Option<Discard>)> {
    let zero = Counters::default();
    let mut out = Vec::new();
    for (key, a) in after {
        let b = before.get(key).unwrap_or(&zero);
        if a.valid != b.valid {
            out.push((*key, None));
        }
        for reason in Discard::ALL {
            if a.discard(reason) != b.discard(reason) {
                out.push((*key, Some(reason)));
            }
        }
    }
    out
}

/// Seed frames: keepalived's captures, then a valid advert for every instance of
/// [`table`] and one frame per discard reason.
pub fn seeds() -> Vec<Vec<u8>> {
    use vrrp_agent::units::Centisecs;
    use vrrp_agent::wire::fixtures::ALL_FRAMES;
    use vrrp_agent::wire::{Auth, Endpoints, FrameBuilder, Version, VrrpRepr};
    let mut out: Vec<Vec<u8>> = ALL_FRAMES.iter().map(|f| f.to_vec()).collect();
    let v4 = IpAddr::V4(PEER);
    let ll = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2));
    let vip4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100));
    let vip6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));
    let repr = |version, vrid, priority, cs, addr, auth| VrrpRepr {
        version,
        vrid,
        priority,
        max_adver_int: Centisecs::new(cs),
        addresses: vec![addr],
        auth,
    };
    let build = |r: &VrrpRepr, ip: Endpoints| FrameBuilder::new(r, ip).map(|b| b.build());
    let mcast4 = Endpoints::multicast(v4);
    let mcast6 = Endpoints::multicast(ll);
    let uni4 = |src: Ipv4Addr| Endpoints::new(IpAddr::V4(src), IpAddr::V4(LOCAL)).expect("v4");
    let uni6 = Endpoints::new(IpAddr::V6(PEER6), IpAddr::V6(LOCAL6)).expect("v6");
    let cases = [
        (
            repr(Version::V2, 51, 100, 100, vip4, Auth::pass(b"secret12")),
            mcast4,
        ),
        (
            repr(Version::V2, 51, 100, 100, vip4, Auth::pass(b"wrong")),
            mcast4,
        ),
        (repr(Version::V2, 51, 100, 100, vip4, Auth::None), mcast4),
        (repr(Version::V2, 53, 100, 100, vip4, Auth::None), mcast4),
        (repr(Version::V2, 53, 100, 200, vip4, Auth::None), mcast4),
        (repr(Version::V3, 52, 100, 10, vip4, Auth::None), mcast4),
        (repr(Version::V3, 52, 0, 10, vip6, Auth::None), mcast6),
        (repr(Version::V3, 54, 100, 10, vip4, Auth::None), uni4(PEER)),
        (
            repr(Version::V3, 54, 100, 10, vip4, Auth::None),
            uni4(PEER_TTL),
        ),
        (
            repr(Version::V3, 54, 100, 10, vip4, Auth::None),
            uni4(Ipv4Addr::new(198, 18, 0, 9)),
        ),
        (repr(Version::V3, 55, 100, 10, vip4, Auth::None), uni4(PEER)),
        (repr(Version::V3, 54, 100, 10, vip6, Auth::None), uni6),
        (repr(Version::V3, 56, 255, 10, vip4, Auth::None), mcast4),
        (repr(Version::V3, 57, 100, 10, vip4, Auth::None), mcast4),
        (repr(Version::V3, 99, 100, 10, vip4, Auth::None), mcast4),
        (repr(Version::V3, 58, 100, 10, vip4, Auth::None), mcast4),
        (
            repr(Version::V3, 58, 100, 10, vip4, Auth::None),
            Endpoints::new(v4, IpAddr::V4(Ipv4Addr::new(239, 18, 0, 18))).expect("v4"),
        ),
        (repr(Version::V3, 58, 100, 10, vip6, Auth::None), mcast6),
        (
            repr(Version::V3, 58, 100, 10, vip6, Auth::None),
            Endpoints::new(
                ll,
                IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 0x12)),
            )
            .expect("v6"),
        ),
    ];
    for (r, ip) in cases {
        if let Ok(f) = build(&r, ip) {
            out.push(f);
        }
    }
    out
}
