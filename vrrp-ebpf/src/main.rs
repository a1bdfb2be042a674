//! XDP data plane of vrrp-agent.
//!
//! Parses Ethernet (up to two VLAN tags), IPv4 and IPv6; every packet that is not IP
//! protocol 112 passes untouched after at most a few loads. A VRRP packet goes through the
//! receive checks that need no election state, in the order of RFC 9568 §7.1 / RFC 3768
//! §7.1; one that fails is counted under its reason, and dropped if it was for a configured
//! instance. What is not ours (no configured instance, or not sent to us) goes on untouched
//! unless the interface's settings say to drop unknown VRIDs (see `discard`). A valid advert updates the
//! record of its source in its instance's peer table and passes, so that `tcpdump` and any
//! other listener still see it. The agent is woken through the ring buffer only when
//! something the election acts on changed: a new source, a priority change, priority 0, an
//! interval change.
//!
//! On an interface where an instance runs in no_accept mode (RFC 9568 §6.4.3), a packet that
//! is not VRRP and is sent to a VIP of a no_accept Master (`VRRP_VIPS`) is dropped and
//! counted; ARP and IPv6 Neighbour Solicitations / Advertisements go on. Elsewhere a non-VRRP
//! packet costs one inlined array load more (the `VRRP_NO_ACCEPT_IFACES` bitmap).
//!
//! Cost: one hash lookup per VRRP packet (the instance); everything else on the valid path
//! is an array slot the agent assigned to the instance, and small messages are checksummed
//! straight from packet memory.
//!
//! A second program, `vrrp_watch_arm`, is never attached: the agent runs it with
//! BPF_PROG_TEST_RUN to arm a Backup's master-down watchdog. One kernel timer then checks
//! every armed watchdog against the peer records XDP keeps, and sends `EV_MASTER_DOWN` when a
//! Master went silent, so the agent does not wake at each Master_Down deadline. The XDP path
//! does not touch the timer.
#![no_std]
#![no_main]

use core::ffi::c_void;

use aya_ebpf::{
    bindings::{bpf_timer, xdp_action, BPF_F_MMAPABLE},
    btf_maps::{lpm_trie::Key, Array, HashMap, LpmTrie, PerCpuArray, PerCpuHashMap, RingBuf},
    helpers::{
        bpf_csum_diff, bpf_ktime_get_ns,
        generated::{
            bpf_loop, bpf_timer_init, bpf_timer_set_callback, bpf_timer_start, bpf_xdp_load_bytes,
        },
    },
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use aya_log_ebpf::{
    debug,
    macro_support::{level_enabled, Level},
};
use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
};
use vrrp_common::vlan::{
    vlan_net_data, VlanNetData, MAX_VLAN_NETS, VLAN_NET_BITS, VLAN_PARENT_BITS,
};
use vrrp_common::{
    AddrKey, Counters, Discard, IfaceConfig, InstanceConfig, InstanceKey, MasterDownWatch,
    PeerEvent, PeerKey, PeerTable, UnicastPeer, WatchCommand, WatchTimer, AUTH_PASS, CFG_CONSUME,
    CFG_OWNER, CFG_UNICAST, CFG_UNICAST_TTL, EVENTS_RING_BYTES, EV_INTERVAL, EV_MASTER_DOWN,
    EV_NEW_SOURCE, EV_OWNER_CONFLICT, EV_PRIORITY, EV_PRIORITY_ZERO, FAMILY_IPV4, FAMILY_IPV6,
    IFACE_DROP_UNKNOWN, IFACE_NO_ACCEPT, INLINE_CSUM_BYTES, IPPROTO_VRRP, MAX_IFACES,
    MAX_INSTANCES, MAX_LOCAL_ADDRS, MAX_UNICAST_PEERS, MAX_UNKNOWN_KEYS, MAX_VIPS, MAX_VRRP_LEN,
    NO_ACCEPT_WORDS, OWNER_CONFLICT_EVENT_EVERY, PEERS_PER_INSTANCE, SCRATCH_BYTES,
    WATCH_BAD_COMMAND, WATCH_OK, WATCH_RETRY_NS, WATCH_SLACK_NS, WATCH_TIMER_FAILED,
};

/// Instance settings, written by the agent.
#[btf_map]
static VRRP_INSTANCES: HashMap<InstanceKey, InstanceConfig, { MAX_INSTANCES as usize }> =
    HashMap::new();

/// Allowed unicast sources per instance and their TTL range, written by the agent.
#[btf_map]
static VRRP_UNICAST: HashMap<PeerKey, UnicastPeer, { MAX_UNICAST_PEERS as usize }> = HashMap::new();

/// Per-interface settings (key 0: every interface without its own entry), written by the
/// agent. Read only for packets that are not for a configured instance.
#[btf_map]
static VRRP_IFACES: HashMap<u32, IfaceConfig, { MAX_IFACES as usize }> = HashMap::new();

/// This host's addresses, which unicast adverts must be sent to; written by the agent.
#[btf_map]
static VRRP_LOCAL_ADDRS: HashMap<AddrKey, u32, { MAX_LOCAL_ADDRS as usize }> = HashMap::new();

/// VIPs of the instances that are Master in no_accept mode -> the instance's slot; written
/// by the agent on each transition.
#[btf_map]
static VRRP_VIPS: HashMap<AddrKey, u32, { MAX_VIPS as usize }> = HashMap::new();

/// Bitmap of the interfaces with `IFACE_NO_ACCEPT` (bit `ifindex % NO_ACCEPT_BITS`), written
/// by the agent: the one test a non-VRRP packet pays on other interfaces.
#[btf_map]
static VRRP_NO_ACCEPT_IFACES: Array<u64, { NO_ACCEPT_WORDS as usize }> = Array::new();

/// Who is advertising, per instance slot. Memory-mappable, so the agent reads last-seen
/// times without a syscall.
#[btf_map]
static VRRP_PEERS: Array<PeerTable, { MAX_INSTANCES as usize }, { BPF_F_MMAPABLE as usize }> =
    Array::new();

/// Per-CPU counters per instance slot.
#[btf_map]
static VRRP_STATS: PerCpuArray<Counters, { MAX_INSTANCES as usize }> = PerCpuArray::new();

/// Per-CPU counters of VRRP packets that match no configured instance.
#[btf_map]
static VRRP_UNKNOWN: PerCpuHashMap<InstanceKey, Counters, { MAX_UNKNOWN_KEYS as usize }> =
    PerCpuHashMap::new();

/// Interfaces with VLAN devices on them, and those VLAN devices' IPv4 subnets, written by
/// the agent: (parent ifindex, IPv4 prefix) -> VLAN ifindex, or 0 for the parent's own entry.
#[btf_map]
static VRRP_VLAN_NETS: LpmTrie<VlanNetData, u32, { MAX_VLAN_NETS as usize }> = LpmTrie::new();

/// Changes the election must act on.
#[btf_map]
static VRRP_EVENTS: RingBuf<PeerEvent, { EVENTS_RING_BYTES as usize }> = RingBuf::new();

/// Scratch space to checksum a large VRRP message.
#[btf_map]
static VRRP_SCRATCH: PerCpuArray<Scratch, 1> = PerCpuArray::new();

/// All-zero counters, inserted by pointer so the value never sits on the stack.
#[btf_map]
static VRRP_ZERO: PerCpuArray<Counters, 1> = PerCpuArray::new();

/// Master-down watchdog per instance slot, armed by `vrrp_watch_arm`, checked by the timer.
#[btf_map]
static VRRP_WATCH: Array<MasterDownWatch, { MAX_INSTANCES as usize }> = Array::new();

/// The one timer that checks every armed watchdog. Its value holds a struct named
/// `bpf_timer` in BTF, which is how the verifier finds the timer.
#[btf_map]
static VRRP_WATCH_TIMER: Array<WatchTimer, 1> = Array::new();

/// Rate limit of the debug log of discards, per CPU (see `log_discard`).
#[btf_map]
static VRRP_LOG_LIMIT: PerCpuArray<LogLimit, 1> = PerCpuArray::new();

/// At most one discard log line per CPU per this many nanoseconds (20 per second).
const LOG_INTERVAL_NS: u64 = 50_000_000;

/// This CPU's debug-log rate limit.
#[repr(C)]
struct LogLimit {
    /// `bpf_ktime_get_ns` of the last line logged (0: none yet).
    last_ns: u64,
    /// Discards not logged since that line.
    suppressed: u64,
}

/// `bpf_timer_init` flags: the clock, CLOCK_MONOTONIC (that of `bpf_ktime_get_ns`).
const CLOCK_MONOTONIC: u64 = 1;
/// `bpf_timer_init`'s error for a timer already initialised.
const EBUSY: i64 = 16;

/// Per-CPU working memory kept off the 512-byte BPF stack.
#[repr(C)]
struct Scratch {
    /// Copy of the VRRP message being checksummed.
    buf: [u8; SCRATCH_BYTES],
}

const ETH_HLEN: usize = EthHdr::LEN;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VRRP_HLEN: usize = 8;
/// IPv4 More Fragments, in `Ipv4Hdr::frag_flags` (the 3 flag bits).
const IP_MF: u8 = 0b001;
const V2_AUTH_LEN: usize = 8;
/// bpf_csum_diff accepts at most 512 bytes per call.
const CSUM_CHUNK: usize = 512;

/// 224.0.0.18, the IPv4 VRRP group (RFC 9568 §5.1.1.2).
const VRRP_GROUP_V4: [u8; 4] = [224, 0, 0, 18];
/// ff02::12, the IPv6 VRRP group (RFC 9568 §5.1.2.2).
const VRRP_GROUP_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];

/// `check_vrrp`'s result for an advert that passed every check.
const VALID: u32 = u32::MAX;

/// `process`' verdict for a packet dropped by the no_accept filter: XDP_DROP, whatever
/// VLAN devices the interface has (the VLAN exception below is for adverts).
const NO_ACCEPT_DROP: u32 = 0x100;

#[xdp]
pub fn vrrp_xdp(ctx: XdpContext) -> u32 {
    match process(&ctx) {
        NO_ACCEPT_DROP => xdp_action::XDP_DROP,
        // On an interface with VLAN devices, an advert whose tag was offloaded looks
        // untagged here; dropping it would hide it from the VLAN device. Counted, passed.
        xdp_action::XDP_DROP if vlan_side(&ctx, [0; 4], VLAN_PARENT_BITS) != VLAN_NONE => {
            xdp_action::XDP_PASS
        }
        verdict => verdict,
    }
}

#[inline(always)]
fn load<T: Copy>(ctx: &XdpContext, off: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + core::mem::size_of::<T>() > end {
        return None;
    }
    // SAFETY: the range [start+off, start+off+size_of::<T>()) is inside the packet, as the
    // verifier also checks; read_unaligned because packet data has no alignment.
    Some(unsafe { core::ptr::read_unaligned((start + off) as *const T) })
}

/// A pointer to `len` bytes at `off`, after one bounds check over the whole range (so the
/// compiler cannot split it into checks the verifier cannot follow).
#[inline(always)]
fn ptr_at(ctx: &XdpContext, off: usize, len: usize) -> Option<*const u8> {
    let start = ctx.data();
    if start + off + len > ctx.data_end() {
        return None;
    }
    Some((start + off) as *const u8)
}

#[inline(always)]
fn be16(ctx: &XdpContext, off: usize) -> Option<u16> {
    load::<[u8; 2]>(ctx, off).map(u16::from_be_bytes)
}

/// Where the IP header and the VRRP message are, and what the checks need from the IP header.
struct Ip {
    family: u8,
    ttl: u8,
    multicast: bool,
    /// Source address, IPv4 in bytes 0..4.
    src: [u8; 16],
    /// Destination address, IPv4 in bytes 0..4.
    dst: [u8; 16],
    /// Offset of the VRRP message from the start of the frame.
    vrrp_off: usize,
    /// Length of the IP payload (the VRRP message and anything after it).
    vrrp_len: usize,
    /// Partial sum (host word order) of the pseudo-header without the length, which depends
    /// on the VRRP message length the checks derive.
    pseudo_sum: u32,
}

#[inline(always)]
fn process(ctx: &XdpContext) -> u32 {
    let Some(proto) = be16(ctx, 12) else {
        return xdp_action::XDP_PASS;
    };
    // VLAN block. A tag still in the frame means the advert belongs to a VLAN device on this
    // interface, whose own hook keys it (the agent attaches there, in SKB mode, when the
    // VLAN carries an instance): pass it untouched, never count or drop it here. The kernel
    // removes the tag (`skb_vlan_untag`, `vlan_do_receive`) and runs generic XDP again on
    // the VLAN device (`__netif_receive_skb_core`, `another_round`), which sees the frame
    // untagged and with the VLAN device's ifindex. One place keys every VLAN advert, whether
    // its tag was in the frame or offloaded: no double count.
    if proto == ETH_P_8021Q || proto == ETH_P_8021AD {
        return xdp_action::XDP_PASS;
    }
    let off = ETH_HLEN;
    let ip = if proto == ETH_P_IP {
        // The protocol byte first: everything that is not VRRP leaves here.
        match load::<u8>(ctx, off + core::mem::offset_of!(Ipv4Hdr, proto)) {
            Some(IPPROTO_VRRP) => {}
            Some(_) => return no_accept(ctx, FAMILY_IPV4, off),
            None => return xdp_action::XDP_PASS,
        }
        match parse_ipv4(ctx, off) {
            Ok(ip) => ip,
            Err(reason) => return discard(ctx, FAMILY_IPV4, 0, 0, reason),
        }
    } else if proto == ETH_P_IPV6 {
        match load::<u8>(ctx, off + core::mem::offset_of!(Ipv6Hdr, next_hdr)) {
            Some(IPPROTO_VRRP) => {}
            Some(_) => return no_accept(ctx, FAMILY_IPV6, off),
            None => return xdp_action::XDP_PASS,
        }
        match parse_ipv6(ctx, off) {
            Ok(ip) => ip,
            Err(reason) => return discard(ctx, FAMILY_IPV6, 0, 0, reason),
        }
    } else {
        return xdp_action::XDP_PASS;
    };
    let Some(hdr) = load::<[u8; VRRP_HLEN]>(ctx, ip.vrrp_off) else {
        return discard(ctx, ip.family, 0, 0, Discard::Truncated as u32);
    };
    if ip.vrrp_len < VRRP_HLEN {
        return discard(ctx, ip.family, 0, 0, Discard::Truncated as u32);
    }
    // A tag offloaded by the NIC (or by the sending veth) is not in the frame: on an
    // interface with VLAN devices, an advert from a VLAN device's subnet is that VLAN's.
    if ip.family == FAMILY_IPV4
        && vlan_side(
            ctx,
            [ip.src[0], ip.src[1], ip.src[2], ip.src[3]],
            VLAN_NET_BITS,
        ) == VLAN_SOURCE
    {
        return xdp_action::XDP_PASS;
    }
    let key = InstanceKey::new(ifindex(ctx), hdr[1], ip.family);
    // SAFETY: the agent writes whole values; a concurrent update is a plain 16-byte copy.
    let cfg: Option<&InstanceConfig> = unsafe { VRRP_INSTANCES.get(&key) };
    let slot = cfg.map_or(0, |c| c.slot as u32);
    let reason = check_vrrp(ctx, &ip, &hdr, &key, cfg);
    if reason == VALID {
        // Recorded; the agent reads it from the maps. The IP stack needs it only for packet
        // captures (and costs more than this program per advert).
        return if cfg.is_some_and(|c| c.flags & CFG_CONSUME != 0) {
            xdp_action::XDP_DROP
        } else {
            xdp_action::XDP_PASS
        };
    }
    log_discard(ctx, &ip, hdr[1], reason);
    discard(ctx, ip.family, hdr[1], slot, reason)
}

/// The no_accept filter of a non-VRRP IP packet whose header starts at `off`: PASS, unless
/// the interface is marked `IFACE_NO_ACCEPT` and the destination is a VIP of a no_accept
/// Master (then [`NO_ACCEPT_DROP`], counted under that instance). Interfaces whose bit in
/// `VRRP_NO_ACCEPT_IFACES` is clear leave after one inlined array load.
#[inline(always)]
fn no_accept(ctx: &XdpContext, family: u8, off: usize) -> u32 {
    let ifindex = ifindex(ctx);
    let (word, mask) = vrrp_common::no_accept_bit(ifindex);
    match VRRP_NO_ACCEPT_IFACES.get(word) {
        Some(w) if *w & mask != 0 => no_accept_filter(ctx, family, off),
        _ => xdp_action::XDP_PASS,
    }
}

/// ICMPv6 (IPv6 next header 58).
const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 Neighbor Solicitation (RFC 4861 §4.3).
const ND_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 Neighbor Advertisement (RFC 4861 §4.4).
const ND_NEIGHBOR_ADVERT: u8 = 136;

/// See [`no_accept`]: the interface's bit is set.
#[inline(never)]
fn no_accept_filter(ctx: &XdpContext, family: u8, off: usize) -> u32 {
    let mut key = AddrKey::new(family, [0; 16]);
    if family == FAMILY_IPV4 {
        let Some(dst) = load::<[u8; 4]>(ctx, off + core::mem::offset_of!(Ipv4Hdr, dst_addr)) else {
            return xdp_action::XDP_PASS;
        };
        key.addr[..4].copy_from_slice(&dst);
    } else {
        let Some(dst) = load::<[u8; 16]>(ctx, off + core::mem::offset_of!(Ipv6Hdr, dst_addr))
        else {
            return xdp_action::XDP_PASS;
        };
        key.addr = dst;
        // Neighbour Discovery for the VIP must go on (RFC 9568 §6.4.3: the Master answers
        // for it), as keepalived's `neighbor-discovery` rule lets it through.
        let next = load::<u8>(ctx, off + core::mem::offset_of!(Ipv6Hdr, next_hdr));
        if next == Some(IPPROTO_ICMPV6) {
            let kind = load::<u8>(ctx, off + Ipv6Hdr::LEN);
            if kind == Some(ND_NEIGHBOR_SOLICIT) || kind == Some(ND_NEIGHBOR_ADVERT) {
                return xdp_action::XDP_PASS;
            }
        }
    }
    // SAFETY: read-only lookup of a u32 the agent writes whole.
    let Some(slot) = (unsafe { VRRP_VIPS.get(&key) }).copied() else {
        return xdp_action::XDP_PASS;
    };
    // Interfaces share a bit when their indexes are equal modulo the bitmap's size: the
    // interface's own entry decides (looked up only for a packet to a VIP, so that other
    // traffic on a marked interface pays one hash lookup).
    // SAFETY: read-only lookup of a plain value the agent writes whole.
    let marked =
        unsafe { VRRP_IFACES.get(&ifindex(ctx)) }.is_some_and(|c| c.flags & IFACE_NO_ACCEPT != 0);
    if !marked {
        return xdp_action::XDP_PASS;
    }
    if let Some(c) = VRRP_STATS.get_ptr_mut(slot) {
        // SAFETY: this CPU's counters, as in `discard`.
        unsafe { (*c).no_accept += 1 };
    }
    NO_ACCEPT_DROP
}

/// `vlan_side`: the interface has no VLAN devices the agent knows of.
const VLAN_NONE: u32 = 0;
/// `vlan_side`: VLAN devices sit on the interface; the source is not in their subnets.
const VLAN_PARENT: u32 = 1;
/// `vlan_side`: the source is in the subnet of a VLAN device on the interface.
const VLAN_SOURCE: u32 = 2;

/// What the agent told us about VLAN devices on the receiving interface and the source
/// `v4_src` (matched on its first `bits` - 32 bits; `VLAN_PARENT_BITS` ignores it). One
/// longest-prefix lookup, which misses at once on an interface without VLAN devices.
#[inline(always)]
fn vlan_side(ctx: &XdpContext, v4_src: [u8; 4], bits: u32) -> u32 {
    let data = vlan_net_data(ifindex(ctx), v4_src);
    match VRRP_VLAN_NETS.get(&Key::new(bits, data)) {
        None => VLAN_NONE,
        Some(&0) => VLAN_PARENT,
        Some(_) => VLAN_SOURCE,
    }
}

/// With debug logging on (`run --log-level debug` or `RUST_LOG=vrrp=debug`: the agent sets
/// aya-log's level before loading), one line per discarded advert with its reason and
/// source, at most one per [`LOG_INTERVAL_NS`] per CPU (the line counts those left out). At
/// the default level the level is a constant of the read-only data the verifier sees, and
/// this whole function is dead code it removes.
#[inline(always)]
fn log_discard(ctx: &XdpContext, ip: &Ip, vrid: u8, reason: u32) {
    if !level_enabled(Level::Debug) {
        return;
    }
    let Some(limit) = VRRP_LOG_LIMIT.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's value; XDP runs to completion on it.
    let limit = unsafe { &mut *limit };
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if limit.last_ns != 0 && now.wrapping_sub(limit.last_ns) < LOG_INTERVAL_NS {
        limit.suppressed += 1;
        return;
    }
    let suppressed = limit.suppressed;
    limit.last_ns = now;
    limit.suppressed = 0;
    let name = reason_of(reason).name();
    let ifindex = ifindex(ctx);
    if ip.family == FAMILY_IPV4 {
        let src = [ip.src[0], ip.src[1], ip.src[2], ip.src[3]];
        debug!(
            ctx,
            target: "vrrp_xdp",
            "discarded {} vrid {} from {:i} ifindex {} ({} not logged before)",
            name,
            vrid,
            src,
            ifindex,
            suppressed
        );
    } else {
        let src = ip.src;
        debug!(
            ctx,
            target: "vrrp_xdp",
            "discarded {} vrid {} from {:i} ifindex {} ({} not logged before)",
            name,
            vrid,
            src,
            ifindex,
            suppressed
        );
    }
}

/// The [`Discard`] a reason number stands for (unknown numbers: `Truncated`).
#[inline(always)]
fn reason_of(reason: u32) -> Discard {
    match reason {
        1 => Discard::Ttl,
        2 => Discard::Version,
        3 => Discard::Type,
        4 => Discard::Length,
        5 => Discard::Checksum,
        6 => Discard::UnknownVrid,
        7 => Discard::AuthType,
        8 => Discard::AuthPass,
        9 => Discard::Interval,
        10 => Discard::UnicastSrc,
        11 => Discard::IpHeader,
        12 => Discard::Destination,
        13 => Discard::Source,
        14 => Discard::OwnerConflict,
        _ => Discard::Truncated,
    }
}

#[inline(always)]
fn ifindex(ctx: &XdpContext) -> u32 {
    ctx.ingress_ifindex() as u32
}

/// Counts a discard (under the instance's slot, or by key for unconfigured instances) and
/// returns the verdict:
/// - a packet for a configured instance (`slot` set) is dropped, except one not sent to us
///   ([`Discard::Destination`], e.g. seen in promiscuous mode), which goes on untouched;
/// - a packet for no configured instance (`slot` 0: unknown VRID, unreadable header) is not
///   ours to judge: it goes on to the stack, where another VRRP speaker (keepalived during a
///   migration) may want it, unless the interface's [`IFACE_DROP_UNKNOWN`] is set.
#[inline(never)]
fn discard(ctx: &XdpContext, family: u8, vrid: u8, slot: u32, reason: u32) -> u32 {
    let reason = reason_of(reason);
    let counters = if slot != 0 {
        VRRP_STATS.get_ptr_mut(slot)
    } else {
        unknown_counters(&InstanceKey::new(ifindex(ctx), vrid, family))
    };
    if let Some(c) = counters {
        // SAFETY: per-CPU value of this CPU; XDP runs to completion without preemption on it.
        *unsafe { &mut *c }.discard_mut(reason) += 1;
    }
    let drop = if slot != 0 {
        !matches!(reason, Discard::Destination)
    } else {
        drop_unknown(ifindex(ctx))
    };
    if drop {
        xdp_action::XDP_DROP
    } else {
        xdp_action::XDP_PASS
    }
}

/// Whether VRRP packets for no configured instance are dropped on this interface: its own
/// `VRRP_IFACES` entry, else that of key 0, else not.
#[inline(always)]
fn drop_unknown(ifindex: u32) -> bool {
    // SAFETY: read-only lookups of plain values the agent writes whole.
    let cfg = unsafe { VRRP_IFACES.get(&ifindex).or_else(|| VRRP_IFACES.get(&0)) };
    cfg.is_some_and(|c| c.flags & IFACE_DROP_UNKNOWN != 0)
}

/// This CPU's counters for an unconfigured instance key, created on first use.
#[inline(always)]
fn unknown_counters(key: &InstanceKey) -> Option<*mut Counters> {
    if let Some(p) = VRRP_UNKNOWN.get_ptr_mut(key) {
        return Some(p);
    }
    let zero = VRRP_ZERO.get_ptr(0)?;
    // SAFETY: a live map value; passing it by pointer keeps it off the stack.
    let _ = VRRP_UNKNOWN.insert(key, unsafe { &*zero }, 0);
    VRRP_UNKNOWN.get_ptr_mut(key)
}

/// The IPv4 header at `off`, checked as the IP stack would before delivering it: version 4,
/// IHL of at least 5 words, total length within the frame, header checksum, not a fragment.
/// Errs with [`Discard::Truncated`] when the frame is shorter than 20 bytes or than the
/// total length, else [`Discard::IpHeader`].
#[inline(always)]
fn parse_ipv4(ctx: &XdpContext, off: usize) -> Result<Ip, u32> {
    let p = ptr_at(ctx, off, Ipv4Hdr::LEN).ok_or(Discard::Truncated as u32)?;
    // SAFETY: the 20 bytes at `p` are inside the packet; Ipv4Hdr is 20 bytes of byte fields
    // (alignment 1), valid for any bit pattern.
    let h: Ipv4Hdr = unsafe { core::ptr::read_unaligned(p as *const Ipv4Hdr) };
    let ihl = h.ihl() as usize;
    let total = h.tot_len() as usize;
    let frame_len = ctx.data_end() - ctx.data();
    // A fragment cannot be checked on its own; VRRP messages are never fragmented.
    let fragment = h.frag_offset() != 0 || h.frag_flags() & IP_MF != 0;
    if h.version() != 4 || ihl < Ipv4Hdr::LEN || total < ihl || fragment {
        return Err(Discard::IpHeader as u32);
    }
    if off + total > frame_len {
        return Err(Discard::Truncated as u32);
    }
    if ipv4_header_sum(ctx, off, &h, ihl) != Some(0xffff) {
        return Err(Discard::IpHeader as u32);
    }
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&h.src_addr);
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&h.dst_addr);
    // IPv4 pseudo-header: source, destination, zero, protocol (RFC 768 form, as keepalived).
    let pseudo_sum = sum_words(&h.src_addr) + sum_words(&h.dst_addr) + proto_word();
    Ok(Ip {
        family: FAMILY_IPV4,
        ttl: h.ttl,
        multicast: (h.dst_addr[0] & 0xf0) == 0xe0,
        src,
        dst,
        vrrp_off: off + ihl,
        vrrp_len: total - ihl,
        pseudo_sum,
    })
}

/// Folded one's complement sum of the IPv4 header (0xffff when its checksum is right): the
/// 20 fixed bytes already read, then any options (up to 40 bytes) from the packet.
#[inline(always)]
fn ipv4_header_sum(ctx: &XdpContext, off: usize, h: &Ipv4Hdr, ihl: usize) -> Option<u16> {
    // SAFETY: Ipv4Hdr is 20 bytes of byte fields, without padding.
    let bytes = unsafe { &*(h as *const Ipv4Hdr as *const [u8; Ipv4Hdr::LEN]) };
    let mut sum = sum_words(bytes) as u64;
    let mut i = 5;
    while i < 15 {
        if i * 4 >= ihl {
            break;
        }
        let w: u32 = load(ctx, off + i * 4)?;
        sum += (w & 0xffff) as u64 + (w >> 16) as u64;
        i += 1;
    }
    Some(fold(sum))
}

#[inline(always)]
fn parse_ipv6(ctx: &XdpContext, off: usize) -> Result<Ip, u32> {
    let p = ptr_at(ctx, off, Ipv6Hdr::LEN).ok_or(Discard::Truncated as u32)?;
    // SAFETY: the 40 bytes at `p` are inside the packet; Ipv6Hdr is 40 bytes of byte fields
    // (alignment 1), valid for any bit pattern.
    let h: Ipv6Hdr = unsafe { core::ptr::read_unaligned(p as *const Ipv6Hdr) };
    let payload = h.payload_len() as usize;
    let frame_len = ctx.data_end() - ctx.data();
    if h.version() != 6 {
        return Err(Discard::IpHeader as u32);
    }
    if off + Ipv6Hdr::LEN + payload > frame_len {
        return Err(Discard::Truncated as u32);
    }
    // IPv6 pseudo-header (RFC 8200 §8.1): source, destination, length, next header.
    let pseudo_sum = sum_words(&h.src_addr) + sum_words(&h.dst_addr) + proto_word();
    Ok(Ip {
        family: FAMILY_IPV6,
        ttl: h.hop_limit,
        multicast: h.dst_addr[0] == 0xff,
        src: h.src_addr,
        dst: h.dst_addr,
        vrrp_off: off + Ipv6Hdr::LEN,
        vrrp_len: payload,
        pseudo_sum,
    })
}

/// Sum of 16-bit words in host (little-endian) order, the order `bpf_csum_diff`
/// (`csum_partial`) sums in; the one's complement sum is byte-order independent as long as
/// every part uses the same order (RFC 1071 §2(B)). `data.len()` is even and constant here.
#[inline(always)]
fn sum_words(data: &[u8]) -> u32 {
    let mut s = 0u32;
    let mut i = 0;
    while i + 1 < data.len() {
        s += u16::from_le_bytes([data[i], data[i + 1]]) as u32;
        i += 2;
    }
    s
}

/// The pseudo-header's zero byte and protocol byte as one word in host order.
#[inline(always)]
fn proto_word() -> u32 {
    u16::from_le_bytes([0, IPPROTO_VRRP]) as u32
}

#[inline(always)]
fn fold(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// One's complement sum (host word order) of the first `len` bytes (a multiple of 4) of the
/// VRRP message.
#[inline(always)]
fn message_sum(ctx: &XdpContext, ip: &Ip, len: usize) -> Option<u64> {
    let mut sum: u64 = 0;
    if len <= INLINE_CSUM_BYTES {
        // Small message (the usual one to a dozen addresses): sum 32-bit words in place.
        let mut i = 0;
        while i < INLINE_CSUM_BYTES / 4 {
            if i * 4 >= len {
                break;
            }
            let w: u32 = load(ctx, ip.vrrp_off + i * 4)?;
            sum += (w & 0xffff) as u64 + (w >> 16) as u64;
            i += 1;
        }
        return Some(sum);
    }
    // Large message: copy into scratch space (bpf_csum_diff cannot take a variable length
    // from packet memory) and sum it there: whole chunks at constant offsets and sizes, then
    // the tail, whose offset and size come from `len` by masks alone. No value depends on a
    // comparison with a running total: 6.1's verifier followed such a loop into a branch it
    // could not rule out and saw a negative size ("R4 min value is negative"), 6.12's lost the
    // buffer pointer there ("R3 type=scalar").
    let scratch = VRRP_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: per-CPU array slot 0 always exists; XDP does not preempt itself on one CPU.
    let buf = unsafe { &mut (*scratch).buf };
    let len = len & 0xffc; // < SCRATCH_BYTES; the caller guarantees len <= MAX_VRRP_LEN
    if len < 4 {
        return None;
    }
    // SAFETY: the helper writes at most `len` <= SCRATCH_BYTES bytes into our buffer.
    let rc = unsafe {
        bpf_xdp_load_bytes(
            ctx.ctx,
            ip.vrrp_off as u32,
            buf.as_mut_ptr() as *mut _,
            len as u32,
        )
    };
    if rc != 0 {
        return None;
    }
    // Whole chunks: at most SCRATCH_BYTES / CSUM_CHUNK - 1 of them, since len < SCRATCH_BYTES.
    let mut i = 0;
    while i < SCRATCH_BYTES / CSUM_CHUNK - 1 {
        if len < (i + 1) * CSUM_CHUNK {
            break;
        }
        // SAFETY: [i * CSUM_CHUNK, (i + 1) * CSUM_CHUNK) is inside the scratch buffer.
        sum += csum_chunk(unsafe { buf.as_ptr().add(i * CSUM_CHUNK) }, CSUM_CHUNK)?;
        i += 1;
    }
    // The tail: fewer than CSUM_CHUNK bytes from the end of the last whole chunk (its offset
    // is at most SCRATCH_BYTES - CSUM_CHUNK, so offset + size < SCRATCH_BYTES).
    let tail_off = len & (SCRATCH_BYTES - CSUM_CHUNK);
    let tail_len = len & (CSUM_CHUNK - 4);
    // SAFETY: [tail_off, tail_off + tail_len) is inside the scratch buffer (see above).
    sum += csum_chunk(unsafe { buf.as_ptr().add(tail_off) }, tail_len)?;
    Some(sum)
}

/// One's complement sum (32-bit, unfolded) of `n` <= CSUM_CHUNK bytes (a multiple of 4) at `p`
/// in the scratch buffer.
#[inline(always)]
fn csum_chunk(p: *const u8, n: usize) -> Option<u64> {
    // SAFETY: the caller passes a range inside the scratch buffer; the helper only reads it.
    let s = unsafe { bpf_csum_diff(core::ptr::null_mut(), 0, p as *mut u32, n as u32, 0) };
    if s < 0 {
        return None;
    }
    Some(s as u32 as u64)
}

/// The receive checks of RFC 9568 §7.1 / RFC 3768 §7.1 that need no election state, then
/// the peer record update. Returns [`VALID`] or a [`Discard`] as u32.
#[inline(always)]
fn check_vrrp(
    ctx: &XdpContext,
    ip: &Ip,
    hdr: &[u8; VRRP_HLEN],
    key: &InstanceKey,
    cfg: Option<&InstanceConfig>,
) -> u32 {
    if let Some(c) = cfg {
        // Only adverts sent to us are ours: the VRRP group for a multicast instance (RFC 9568
        // §5.1.1.2 / §5.1.2.2), one of this host's addresses for a unicast one (what the IP
        // stack would deliver). A frame for another host, seen in promiscuous mode, is not.
        let to_us = if c.flags & CFG_UNICAST != 0 {
            // SAFETY: read-only lookup of a u32 flag.
            unsafe { VRRP_LOCAL_ADDRS.get(&AddrKey::new(ip.family, ip.dst)) }.is_some()
        } else if ip.family == FAMILY_IPV4 {
            // keepalived's mcast_dst_ip / vrrp_mcast_group4, when configured.
            let group = if c.group4 == [0; 4] {
                VRRP_GROUP_V4
            } else {
                c.group4
            };
            ip.dst[..4] == group
        } else {
            // keepalived's mcast_dst_ip / vrrp_mcast_group6, when configured: keepalived
            // binds its receive socket to the group, so it hears no other.
            let group = if c.group6 == [0; 16] {
                VRRP_GROUP_V6
            } else {
                c.group6
            };
            ip.dst == group
        };
        if !to_us {
            return Discard::Destination as u32;
        }
    }
    // RFC 9568 §5.1.2.1: an IPv6 advert's source is the sender's link-local address.
    if ip.family == FAMILY_IPV6 && ip.multicast && !(ip.src[0] == 0xfe && ip.src[1] & 0xc0 == 0x80)
    {
        return Discard::Source as u32;
    }
    // §7.1: a multicast advert must arrive with TTL / hop limit 255 (so it was not routed).
    let check_ttl = ip.multicast || cfg.is_some_and(|c| c.flags & CFG_UNICAST_TTL != 0);
    if check_ttl && ip.ttl != 255 {
        return Discard::Ttl as u32;
    }
    // §7.1: version must be the instance's (v2 and v3 do not interoperate; keepalived also
    // discards). Without an instance, any known version goes on to the VRID check.
    let version = hdr[0] >> 4;
    let version_ok = match cfg {
        Some(c) => version == c.version,
        None => version == 2 || version == 3,
    };
    // VRRPv2 is IPv4 only (RFC 3768 §5.1).
    if !version_ok || (version == 2 && ip.family == FAMILY_IPV6) {
        return Discard::Version as u32;
    }
    // §5.2.2: type 1 (ADVERTISEMENT) is the only type.
    if hdr[0] & 0x0f != 1 {
        return Discard::Type as u32;
    }
    // §7.1: the message must hold its header, `count` addresses (and v2 auth data). A
    // count of 0 is valid (keepalived's adverts for an instance without addresses).
    let count = hdr[3] as usize;
    let addr_len = if ip.family == FAMILY_IPV4 { 4 } else { 16 };
    let auth_len = if version == 2 { V2_AUTH_LEN } else { 0 };
    let msg_len = VRRP_HLEN + count * addr_len + auth_len;
    if ip.vrrp_len < msg_len || msg_len > MAX_VRRP_LEN {
        return Discard::Length as u32;
    }

    // Checksum over the message (header, addresses, auth data; not trailing bytes).
    let Some(sum) = message_sum(ctx, ip, msg_len) else {
        return Discard::Truncated as u32;
    };
    let plain_ok = fold(sum) == 0xffff;
    // The length as the pseudo-header carries it (big-endian), read in host word order.
    let len_word = u16::from_le_bytes((msg_len as u16).to_be_bytes()) as u64;
    let pseudo_ok = || fold(sum + ip.pseudo_sum as u64 + len_word) == 0xffff;
    let csum_ok = if ip.family == FAMILY_IPV6 {
        // RFC 9568 §5.2.8: IPv6 always includes the pseudo-header.
        pseudo_ok()
    } else if version == 3 {
        // IPv4 v3: keepalived and FRR add a pseudo-header, RFC 9568 and most vendors do not;
        // accept either form.
        plain_ok || pseudo_ok()
    } else {
        // RFC 3768 §5.3.8: v2 sums the VRRP message only.
        plain_ok
    };
    if !csum_ok {
        return Discard::Checksum as u32;
    }

    // §7.1: the VRID must be configured on this interface for this family.
    let Some(cfg) = cfg else {
        return Discard::UnknownVrid as u32;
    };
    let priority = hdr[2];
    let adver_int_cs: u16 = if version == 2 {
        // RFC 3768 §5.3.6 / §7.1: auth type must match, PASS data must match, and the
        // interval (whole seconds) must equal ours: v2 does not learn it.
        if hdr[4] != cfg.auth_type {
            return Discard::AuthType as u32;
        }
        if cfg.auth_type == AUTH_PASS {
            let Some(got) = load::<[u8; V2_AUTH_LEN]>(ctx, ip.vrrp_off + VRRP_HLEN + count * 4)
            else {
                return Discard::Length as u32;
            };
            if got != cfg.auth_pass {
                return Discard::AuthPass as u32;
            }
        }
        let cs = hdr[5] as u16 * 100;
        if cs != cfg.adver_int_cs {
            return Discard::Interval as u32;
        }
        cs
    } else {
        // RFC 9568 §5.2.7: 4 reserved bits, then 12 bits of centiseconds.
        u16::from_be_bytes([hdr[4] & 0x0f, hdr[5]])
    };
    // Unicast instances accept adverts only from their configured peers.
    let peer_key = PeerKey::new(*key, ip.src);
    if cfg.flags & CFG_UNICAST != 0 {
        // SAFETY: read-only lookup of a plain value the agent writes whole.
        let Some(peer) = (unsafe { VRRP_UNICAST.get(&peer_key) }) else {
            return Discard::UnicastSrc as u32;
        };
        // keepalived's per-peer `min_ttl` / `max_ttl` (default: any TTL).
        if ip.ttl < peer.min_ttl || ip.ttl > peer.max_ttl {
            return Discard::Ttl as u32;
        }
    }
    // §7.1: two address owners for one VRID is a misconfiguration; the advert is discarded
    // and the agent told (rate-limited), so that it can log the conflict.
    if priority == 255 && cfg.flags & CFG_OWNER != 0 {
        report_owner_conflict(cfg.slot as u32, &peer_key, adver_int_cs);
        return Discard::OwnerConflict as u32;
    }

    let src_mac = load::<[u8; 6]>(ctx, core::mem::offset_of!(EthHdr, src_addr)).unwrap_or([0; 6]);
    record(
        cfg.slot as u32,
        &peer_key,
        priority,
        version,
        hdr[3],
        adver_int_cs,
        src_mac,
    );
    VALID
}

/// Sends [`EV_OWNER_CONFLICT`] for the 1st, 2nd, 4th, 8th... conflicting advert of this CPU
/// and instance, then for every `OWNER_CONFLICT_EVENT_EVERY`th (the counter is bumped after
/// this, by `discard`).
#[inline(never)]
fn report_owner_conflict(slot: u32, peer_key: &PeerKey, adver_int_cs: u16) {
    let Some(counters) = VRRP_STATS.get_ptr_mut(slot) else {
        return;
    };
    // SAFETY: this CPU's counters, as in `discard`.
    let counters = unsafe { &mut *counters };
    let n = counters.owner_conflict + 1;
    if n & (n - 1) != 0 && n % OWNER_CONFLICT_EVENT_EVERY != 0 {
        return;
    }
    if let Some(mut entry) = VRRP_EVENTS.reserve(0) {
        entry.write(PeerEvent {
            peer: *peer_key,
            // SAFETY: bpf_ktime_get_ns has no preconditions.
            ts_ns: unsafe { bpf_ktime_get_ns() },
            kind: EV_OWNER_CONFLICT,
            adver_int_cs,
            priority: 255,
            old_priority: 255,
        });
        entry.submit(0);
        counters.events += 1;
    } else {
        counters.events_lost += 1;
    }
}

/// Updates the source's record in the instance's peer table and sends an event if
/// something the election acts on changed.
#[inline(always)]
fn record(
    slot: u32,
    peer_key: &PeerKey,
    priority: u8,
    version: u8,
    addr_count: u8,
    adver_int_cs: u16,
    src_mac: [u8; 6],
) {
    let (Some(table), Some(counters)) =
        (VRRP_PEERS.get_ptr_mut(slot), VRRP_STATS.get_ptr_mut(slot))
    else {
        return;
    };
    // SAFETY: live map values of the right types. The peer table is shared between CPUs; a
    // concurrent writer could interleave field writes, and every field is written whole, so a
    // reader sees each field either old or new. Adverts of one source arrive on one queue.
    let (table, counters) = unsafe { (&mut *table, &mut *counters) };
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };

    // The source's record, else a free one, else the lowest priority (oldest among equals).
    let mut found = PEERS_PER_INSTANCE;
    let mut victim = 0;
    let mut i = 0;
    while i < PEERS_PER_INSTANCE {
        let r = &table.peers[i];
        if r.last_seen_ns != 0 && r.addr == peer_key.addr {
            found = i;
            break;
        }
        let v = &table.peers[victim];
        let better = if r.last_seen_ns == 0 {
            v.last_seen_ns != 0
        } else {
            v.last_seen_ns != 0
                && (r.priority < v.priority
                    || (r.priority == v.priority && r.last_seen_ns < v.last_seen_ns))
        };
        if better {
            victim = i;
        }
        i += 1;
    }
    let mut kind = 0u32;
    let mut old_priority = priority;
    let idx = if found < PEERS_PER_INSTANCE {
        found
    } else {
        victim
    };
    if idx >= PEERS_PER_INSTANCE {
        return;
    }
    let rec = &mut table.peers[idx];
    if found < PEERS_PER_INSTANCE {
        // A source silent for more than 3 intervals (Master_Down_Interval without skew) was
        // given up for dead by every Backup: its return is news even at an unchanged priority.
        let silence_ns = 3 * 10_000_000 * rec.adver_int_cs as u64;
        if now.saturating_sub(rec.last_seen_ns) > silence_ns {
            kind |= EV_NEW_SOURCE;
        }
        old_priority = rec.priority;
        if rec.priority != priority {
            kind |= EV_PRIORITY;
        }
        if rec.adver_int_cs != adver_int_cs {
            kind |= EV_INTERVAL;
        }
        if kind != 0 {
            rec.changes += 1;
        }
        rec.adverts += 1;
    } else {
        kind |= EV_NEW_SOURCE;
        rec.addr = peer_key.addr;
        rec.first_seen_ns = now;
        rec.adverts = 1;
        rec.changes = 0;
        rec._pad = 0;
    }
    rec.last_seen_ns = now;
    rec.priority = priority;
    rec.adver_int_cs = adver_int_cs;
    rec.version = version;
    rec.addr_count = addr_count;
    rec.src_mac = src_mac;
    if priority == 0 {
        kind |= EV_PRIORITY_ZERO;
    }
    counters.valid += 1;
    if kind != 0 {
        if let Some(mut entry) = VRRP_EVENTS.reserve(0) {
            entry.write(PeerEvent {
                peer: *peer_key,
                ts_ns: now,
                kind,
                adver_int_cs,
                priority,
                old_priority,
            });
            entry.submit(0);
            counters.events += 1;
        } else {
            counters.events_lost += 1;
        }
    }
}

/// Arms or disarms the master-down watchdog of one slot. Run by the agent with
/// BPF_PROG_TEST_RUN on a [`WatchCommand`] frame, never attached. Writes the slot under its
/// sequence lock, then starts the timer now so that it takes the slot into account.
#[xdp]
pub fn vrrp_watch_arm(ctx: XdpContext) -> u32 {
    let Some(cmd) = load::<WatchCommand>(&ctx, 0) else {
        return WATCH_BAD_COMMAND;
    };
    if cmd.slot == 0 || cmd.slot >= MAX_INSTANCES {
        return WATCH_BAD_COMMAND;
    }
    let (Some(w), Some(t)) = (
        VRRP_WATCH.get_ptr_mut(cmd.slot),
        VRRP_WATCH_TIMER.get_ptr_mut(0),
    ) else {
        return WATCH_BAD_COMMAND;
    };
    // SAFETY: live map values. The agent runs this program from one thread at a time, so it
    // is the only writer of these fields; the timer reads them under the sequence lock
    // (volatile accesses keep their order; x86 keeps stores in order, and loads too).
    unsafe {
        let seq = core::ptr::addr_of_mut!((*w).seq);
        // Even at rest, odd while written; a new value on every arming.
        let s = seq.read_volatile() & !1;
        seq.write_volatile(s.wrapping_add(1));
        core::ptr::addr_of_mut!((*w).down_after_ns).write_volatile(cmd.down_after_ns);
        core::ptr::addr_of_mut!((*w).from_ns).write_volatile(cmd.from_ns);
        core::ptr::addr_of_mut!((*w).min_priority).write_volatile(cmd.min_priority.max(1));
        seq.write_volatile(s.wrapping_add(2));
        let slots = core::ptr::addr_of_mut!((*t).slots);
        if slots.read_volatile() <= cmd.slot {
            slots.write_volatile(cmd.slot + 1);
        }
        let gen = core::ptr::addr_of_mut!((*t).gen);
        gen.write_volatile(gen.read_volatile().wrapping_add(1));
    }
    if cmd.down_after_ns == 0 {
        // Disarmed: the timer skips the slot from its next run on.
        return WATCH_OK;
    }
    // SAFETY: `t` is a live value of the map holding the timer, as bpf_timer_init requires;
    // the callback is a static function of this object. Init fails with -EBUSY once done.
    let started = unsafe {
        // vrrp-common's `bpf_timer` (named so for the verifier) and aya's binding that the
        // helpers take are the same 16-byte opaque struct.
        let timer = core::ptr::addr_of_mut!((*t).timer) as *mut bpf_timer;
        let map = core::ptr::addr_of!(VRRP_WATCH_TIMER) as *mut c_void;
        let rc = bpf_timer_init(timer, map, CLOCK_MONOTONIC);
        if rc != 0 && rc != -EBUSY {
            return WATCH_TIMER_FAILED;
        }
        bpf_timer_set_callback(timer, watch_timer_fired as *mut c_void) == 0
            && bpf_timer_start(timer, 0, 0) == 0
    };
    if started {
        WATCH_OK
    } else {
        WATCH_TIMER_FAILED
    }
}

/// What one timer run carries through `bpf_loop` over the slots.
#[repr(C)]
struct WatchScan {
    now: u64,
    /// The earliest deadline of a slot still armed (u64::MAX: none).
    next: u64,
}

/// The timer callback: checks every armed slot, sends `EV_MASTER_DOWN` for those whose
/// deadline passed, and starts the timer again for the earliest remaining deadline (plus
/// [`WATCH_SLACK_NS`], so that deadlines microseconds apart are checked in one run). With no
/// slot armed it stops. Runs in softirq context; returns 0 as the verifier requires.
#[inline(never)]
extern "C" fn watch_timer_fired(_map: *mut c_void, _key: *mut u32, t: *mut WatchTimer) -> i32 {
    // SAFETY: the kernel passes the map value holding this timer.
    let t = unsafe { &mut *t };
    let gen = core::ptr::addr_of!(t.gen);
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let start = unsafe { bpf_ktime_get_ns() };
    let mut now = start;
    let mut round = 0;
    while round < 4 {
        // SAFETY: volatile read of our own map value.
        let g0 = unsafe { gen.read_volatile() };
        let mut scan = WatchScan {
            now,
            next: u64::MAX,
        };
        let slots = t.slots.min(MAX_INSTANCES);
        // SAFETY: the callback is a static function of this object; `scan` is on our stack.
        unsafe {
            bpf_loop(
                slots,
                watch_check_slot as *mut c_void,
                core::ptr::addr_of_mut!(scan) as *mut c_void,
                0,
            );
        }
        if scan.next != u64::MAX && !watch_timer_restart(t, scan.next, slots) {
            break;
        }
        // An arming that bumped `gen` after we read it may have written a slot we already
        // passed, and its own timer start may have come before ours: look again.
        // SAFETY: as above.
        if unsafe { gen.read_volatile() } == g0 {
            break;
        }
        round += 1;
        // SAFETY: as above.
        now = unsafe { bpf_ktime_get_ns() };
    }
    // SAFETY: as above. Only this callback writes these fields, and it never runs twice at
    // once.
    let end = unsafe { bpf_ktime_get_ns() };
    t.runs += 1;
    t.run_ns += end.saturating_sub(start);
    0
}

/// Starts the timer again for `deadline` plus [`WATCH_SLACK_NS`]. The timeout is relative,
/// computed from `bpf_ktime_get_ns` (CLOCK_MONOTONIC, the timer's clock) just before: the
/// absolute mode (`BPF_F_TIMER_ABS`) came only in 6.4, and 6.1 refuses any flag. If the
/// kernel refuses, counts it and fires every armed slot now, so that the agent hears of it:
/// it re-arms through `vrrp_watch_arm` (which starts the timer and reports a refusal) and
/// keeps the Master_Down_Timers itself if that fails too. Returns whether the timer runs.
#[inline(always)]
fn watch_timer_restart(t: &mut WatchTimer, deadline: u64, slots: u32) -> bool {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let after = deadline.saturating_add(WATCH_SLACK_NS).saturating_sub(now);
    // SAFETY: our own timer, initialised (it is running).
    let rc =
        unsafe { bpf_timer_start(core::ptr::addr_of_mut!(t.timer) as *mut bpf_timer, after, 0) };
    if rc == 0 {
        return true;
    }
    t.start_failures = t.start_failures.wrapping_add(1);
    // Every armed slot counts as expired: nothing would check it any more.
    let mut scan = WatchScan {
        now: u64::MAX,
        next: u64::MAX,
    };
    // SAFETY: as in the callback: a static function of this object, `scan` on our stack.
    unsafe {
        bpf_loop(
            slots,
            watch_check_slot as *mut c_void,
            core::ptr::addr_of_mut!(scan) as *mut c_void,
            0,
        );
    }
    false
}

/// `bpf_loop` callback: checks slot `index` (0 is never assigned). Returns 0 (go on).
#[inline(never)]
extern "C" fn watch_check_slot(index: u64, scan: *mut WatchScan) -> i64 {
    let slot = index as u32;
    // SAFETY: `scan` is the caller's stack variable.
    let scan = unsafe { &mut *scan };
    let Some(w) = VRRP_WATCH.get_ptr_mut(slot) else {
        return 0;
    };
    // Read the slot under its sequence lock; skip it if an arming is writing it (that arming
    // starts the timer again when done).
    // SAFETY: live map value; volatile reads in program order.
    let (seq, fired_seq, down_after, from, min_priority, seq_after) = unsafe {
        (
            core::ptr::addr_of!((*w).seq).read_volatile(),
            core::ptr::addr_of!((*w).fired_seq).read_volatile(),
            core::ptr::addr_of!((*w).down_after_ns).read_volatile(),
            core::ptr::addr_of!((*w).from_ns).read_volatile(),
            core::ptr::addr_of!((*w).min_priority).read_volatile(),
            core::ptr::addr_of!((*w).seq).read_volatile(),
        )
    };
    if down_after == 0 || seq & 1 != 0 || seq != seq_after || fired_seq == seq {
        return 0;
    }
    let Some(table) = VRRP_PEERS.get_ptr(slot) else {
        return 0;
    };
    // SAFETY: live map value; XDP may be updating it, and every field is read whole.
    let table = unsafe { &*table };
    // The newest advert that holds the watchdog off.
    let mut newest = PEERS_PER_INSTANCE;
    let mut last = 0u64;
    let mut i = 0;
    while i < PEERS_PER_INSTANCE {
        let r = &table.peers[i];
        if r.priority >= min_priority && r.last_seen_ns > last {
            last = r.last_seen_ns;
            newest = i;
        }
        i += 1;
    }
    let deadline = last.max(from).saturating_add(down_after);
    // SAFETY: only the timer writes these fields.
    unsafe { core::ptr::addr_of_mut!((*w).deadline_ns).write_volatile(deadline) };
    if deadline > scan.now {
        scan.next = scan.next.min(deadline);
        return 0;
    }
    let mut ev = PeerEvent {
        peer: PeerKey::new(table.instance(), [0; 16]),
        ts_ns: deadline,
        kind: EV_MASTER_DOWN,
        adver_int_cs: 0,
        priority: 0,
        old_priority: 0,
    };
    if newest < PEERS_PER_INSTANCE {
        let r = &table.peers[newest];
        ev.peer.addr = r.addr;
        ev.adver_int_cs = r.adver_int_cs;
        ev.priority = r.priority;
    }
    let counters = VRRP_STATS.get_ptr_mut(slot);
    if let Some(mut entry) = VRRP_EVENTS.reserve(0) {
        entry.write(ev);
        entry.submit(0);
        // SAFETY: only the timer writes it.
        unsafe { core::ptr::addr_of_mut!((*w).fired_seq).write_volatile(seq) };
        if let Some(c) = counters {
            // SAFETY: this CPU's counters; softirq context is not preempted by XDP here.
            unsafe { (*c).events += 1 };
        }
    } else {
        // Ring full: the slot stays armed and the timer tries again soon.
        scan.next = scan.next.min(scan.now.saturating_add(WATCH_RETRY_NS));
        if let Some(c) = counters {
            // SAFETY: as above.
            unsafe { (*c).events_lost += 1 };
        }
    }
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
