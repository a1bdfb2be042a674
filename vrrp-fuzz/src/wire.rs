//! Bytes as a VRRP message (v2/v3, both families, multicast and unicast), as a whole
//! Ethernet frame, as a gratuitous ARP and as a Neighbor Advertisement. Never a panic; what
//! parses emits back to the same message.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_agent::wire::{
    arp::GarpRepr, checksum, nd::NaRepr, parse_frame, vrrp::Repr, EmitContext, Endpoints,
    ParseContext, VrrpRepr,
};

/// The IP headers a message is tried under: IPv4 to the group, IPv4 unicast, IPv6 to the
/// group from a link-local address, IPv6 unicast.
fn contexts() -> [ParseContext; 4] {
    let v4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    let v4_peer = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    let ll = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let v6_peer = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    [
        ParseContext::new(Endpoints::multicast(v4), 255),
        ParseContext::new(Endpoints::new(v4, v4_peer).expect("one family"), 64),
        ParseContext::new(Endpoints::multicast(ll), 255),
        ParseContext::new(Endpoints::new(v6, v6_peer).expect("one family"), 255),
    ]
}

/// Runs one input through every parser.
pub fn run(data: &[u8]) {
    for ctx in contexts() {
        message(data, &ctx);
    }
    if let Ok(f) = parse_frame(data) {
        assert!(
            f.payload.start <= f.payload.end && f.payload.end <= data.len(),
            "payload {:?} outside a {}-byte frame",
            f.payload,
            data.len()
        );
        if let Ok(repr) = VrrpRepr::parse_bytes(f.payload_bytes(data), &f.parse_context()) {
            round_trip(&repr, &f.parse_context(), f.payload_bytes(data));
        }
    }
    if let Ok(garp) = GarpRepr::parse(data) {
        let again = GarpRepr::parse(&garp.to_frame()).expect("an emitted GARP parses");
        assert_eq!(again, garp, "GARP round trip");
    }
    if let Ok(na) = NaRepr::parse(data) {
        let again = NaRepr::parse(&na.to_frame()).expect("an emitted NA parses");
        assert_eq!(again, na, "NA round trip");
    }
}

fn message(data: &[u8], ctx: &ParseContext) {
    if let Ok(repr) = Repr::parse_bytes(data, ctx) {
        round_trip(&repr, ctx, data);
    }
}

/// A parsed message emits back to the bytes it came from (those the emitter owns: not the
/// v3 reserved bits, not v2 authentication data other than a password, not bytes after the
/// message) and parses again to the same value.
fn round_trip(repr: &Repr, ctx: &ParseContext, data: &[u8]) {
    let form = checksum::verify(repr.version.number(), &ctx.ip, data).or_else(|| {
        let len = repr.buffer_len().min(data.len());
        checksum::verify(repr.version.number(), &ctx.ip, &data[..len])
    });
    let Some(form) = form else {
        panic!("{repr}: parsed, but no checksum form verifies");
    };
    let emit = EmitContext::new(ctx.ip).with_v3_ipv4_checksum(form);
    let bytes = match repr.to_bytes(&emit) {
        Ok(b) => b,
        // What the emitter refuses is what a sender must not send (an interval v2 cannot
        // carry, an authentication type it does not know); parsing it is still fine.
        Err(_) => return,
    };
    let again = Repr::parse_bytes(&bytes, ctx)
        .unwrap_or_else(|d| panic!("{repr}: emitted bytes {bytes:02x?} do not parse: {d:?}"));
    assert_eq!(&again, repr, "parse(emit(parse(x))) != parse(x)");
    let original = &data[..bytes.len()];
    // Version/type, VRID, priority, count and the addresses are the sender's bytes.
    assert_eq!(
        bytes[..4],
        original[..4],
        "header bytes differ after a round trip"
    );
    let addrs_end = bytes.len() - if repr.version.number() == 2 { 8 } else { 0 };
    assert_eq!(
        bytes[8..addrs_end],
        original[8..addrs_end],
        "addresses differ after a round trip"
    );
}

/// The seed corpus: every captured keepalived frame and its VRRP message.
pub fn seeds() -> Vec<Vec<u8>> {
    use vrrp_agent::wire::fixtures::*;
    let mut out: Vec<Vec<u8>> = ALL_FRAMES.iter().map(|f| f.to_vec()).collect();
    out.extend([V2_MSG, V2_PRIO0_MSG, V3_IPV4_MSG, V3_IPV6_MSG].map(<[u8]>::to_vec));
    out
}
