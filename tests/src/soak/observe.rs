//! What the checker looks at: the adverts crossing the bridge (a raw capture on `br0`),
//! every node's IPv4 addresses (an rtnetlink dump on a socket inside its namespace), and the
//! client's view (ICMP echo to every VIP). Timestamps are the kernel's (seconds since the
//! epoch), so a checker that is scheduled late still sees when things happened.
use std::{
    collections::HashMap,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{bail, Result};
use vrrp_agent::wire::{frame::parse_frame, vrrp::Repr, MacAddr};

use crate::{in_netns, Netns};

/// `SIOCGSTAMP`: the kernel's receive time of the last packet read from a socket.
const SIOCGSTAMP: libc::c_ulong = 0x8906;

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Wall-clock time of day (UTC) of an epoch time, as the agents' logs print it.
pub fn clock(t: f64) -> String {
    let day = t.rem_euclid(86_400.0);
    let (h, m) = ((day / 3600.0) as u32, ((day % 3600.0) / 60.0) as u32);
    format!("{h:02}:{m:02}:{:06.3}", day % 60.0)
}

/// SCHED_FIFO at `prio` for the calling thread, so that the observers keep up on a busy
/// machine (no effect without CAP_SYS_NICE).
pub fn realtime(prio: i32) {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: sets this thread's own policy.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
}

/// A socket opened inside `ns`'s network namespace.
pub fn socket_in(ns: &Netns, domain: i32, ty: i32, proto: i32) -> Result<OwnedFd> {
    in_netns(ns, || {
        // SAFETY: socket(2) with plain arguments; the descriptor is owned right away.
        let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
        if raw < 0 {
            bail!("socket: {}", std::io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    })
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, val: &T) -> Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() bytes from `val`.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if rc != 0 {
        bail!(
            "setsockopt({level}, {name}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// A receive timeout on `fd`.
pub fn set_rcvtimeo(fd: &OwnedFd, d: Duration) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// An AF_PACKET socket bound to `iface` in `ns` (all protocols), that does not see what
/// it sends itself.
pub fn packet_socket(ns: &Netns, iface: &str) -> Result<OwnedFd> {
    let ifindex = ns.ifindex(iface)?;
    let fd = socket_in(
        ns,
        libc::AF_PACKET,
        libc::SOCK_RAW,
        i32::from((libc::ETH_P_ALL as u16).to_be()),
    )?;
    setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1i32)?;
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &(4i32 << 20))?;
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sa.sll_ifindex = ifindex as i32;
    // SAFETY: bind reads `sa`, valid for the length given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        bail!(
            "bind(AF_PACKET, {iface}): {}",
            std::io::Error::last_os_error()
        );
    }
    // What was queued before bind() may come from any interface.
    let mut buf = [0u8; 2048];
    // SAFETY: recv writes at most buf.len() bytes into buf.
    while unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    } >= 0
    {}
    Ok(fd)
}

/// Reads one packet (blocking up to the socket's timeout): its length and kernel receive
/// time, or `None` on timeout.
pub fn recv_stamped(fd: &OwnedFd, buf: &mut [u8], flags: i32) -> Result<Option<(usize, f64)>> {
    // SAFETY: recv writes at most buf.len() bytes into buf.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(e.into()),
        };
    }
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: SIOCGSTAMP writes one timeval.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGSTAMP as _, &mut tv) };
    let at = if rc == 0 {
        tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
    } else {
        now()
    };
    Ok(Some((n as usize, at)))
}

/// Sends one frame on a bound AF_PACKET socket.
pub fn send_frame(fd: &OwnedFd, frame: &[u8]) -> bool {
    // SAFETY: send reads frame.len() bytes from frame.
    unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) >= 0 }
}

/// Every IPv4 address configured in a namespace, from an rtnetlink dump.
pub struct AddrDump {
    fd: OwnedFd,
    seq: u32,
}

impl AddrDump {
    /// A NETLINK_ROUTE socket in `ns`.
    pub fn open(ns: &Netns) -> Result<AddrDump> {
        let fd = socket_in(ns, libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
        set_rcvtimeo(&fd, Duration::from_secs(2))?;
        Ok(AddrDump { fd, seq: 0 })
    }

    /// The IPv4 addresses of the namespace (every interface).
    pub fn addrs(&mut self) -> Result<Vec<Ipv4Addr>> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = Vec::with_capacity(24);
        req.extend_from_slice(&24u32.to_ne_bytes());
        req.extend_from_slice(&libc::RTM_GETADDR.to_ne_bytes());
        req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
        req.extend_from_slice(&self.seq.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0]);
        // SAFETY: send reads req.len() bytes; the kernel is the default destination.
        if unsafe { libc::send(self.fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
            bail!("netlink send: {}", std::io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: recv writes at most buf.len() bytes into buf.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                bail!("netlink recv: {}", std::io::Error::last_os_error());
            }
            let data = &buf[..n as usize];
            let mut off = 0;
            while off + 16 <= data.len() {
                let len = u32::from_ne_bytes(data[off..off + 4].try_into()?) as usize;
                let ty = u16::from_ne_bytes(data[off + 4..off + 6].try_into()?);
                let seq = u32::from_ne_bytes(data[off + 8..off + 12].try_into()?);
                if len < 16 || off + len > data.len() {
                    bail!("netlink: bad message length {len}");
                }
                if seq == self.seq {
                    match i32::from(ty) {
                        libc::NLMSG_DONE => return Ok(out),
                        libc::NLMSG_ERROR => bail!("netlink dump failed"),
                        _ if ty == libc::RTM_NEWADDR => {
                            parse_addr(&data[off + 16..off + len], &mut out)
                        }
                        _ => {}
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }
}

/// IFA_LOCAL (or IFA_ADDRESS) of one RTM_NEWADDR body (ifaddrmsg + attributes).
fn parse_addr(body: &[u8], out: &mut Vec<Ipv4Addr>) {
    let mut off = 8;
    let mut found = None;
    while off + 4 <= body.len() {
        let len = usize::from(u16::from_ne_bytes([body[off], body[off + 1]]));
        let ty = u16::from_ne_bytes([body[off + 2], body[off + 3]]);
        if len < 4 || off + len > body.len() {
            break;
        }
        if len == 8 && (ty == libc::IFA_LOCAL || (ty == libc::IFA_ADDRESS && found.is_none())) {
            let v = &body[off + 4..off + 8];
            found = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3]));
        }
        off += (len + 3) & !3;
    }
    out.extend(found);
}

/// One source's adverts for one VRID, as the bridge saw them.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    /// First advert of the current run (a run ends at a gap longer than `RUN_GAP` or a
    /// priority-0 advert).
    pub run_start: f64,
    /// Last advert with a priority above 0.
    pub last: f64,
    /// Its priority.
    pub prio: u8,
}

/// A gap in a source's adverts that ends its run.
pub const RUN_GAP: f64 = 0.5;

/// What the bridge capture keeps.
#[derive(Default)]
pub struct WireState {
    /// (VRID, source) -> its current stream.
    pub streams: HashMap<(u8, Ipv4Addr), Stream>,
    /// Every frame up to this time has been read.
    pub drained_at: f64,
    /// Valid adverts seen.
    pub adverts: u64,
}

/// A capture of the valid adverts crossing the bridge, in a thread.
pub struct Wire {
    pub state: Arc<Mutex<WireState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Wire {
    /// Captures on `iface` of `ns`, keeping adverts for `vrids` and ignoring frames from
    /// `ignore_mac` (the invalid adverts the soak itself sends).
    pub fn start(ns: &Netns, iface: &str, vrids: &[u8], ignore_mac: MacAddr) -> Result<Wire> {
        let fd = packet_socket(ns, iface)?;
        set_rcvtimeo(&fd, Duration::from_millis(20))?;
        let state = Arc::new(Mutex::new(WireState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2, vrids) = (state.clone(), stop.clone(), vrids.to_vec());
        let thread = std::thread::spawn(move || {
            realtime(10);
            let mut buf = vec![0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let got = recv_stamped(&fd, &mut buf, 0).unwrap_or_default();
                let Ok(mut st) = state2.lock() else { return };
                let Some((n, at)) = got else {
                    st.drained_at = now();
                    continue;
                };
                // Frames come in order: everything up to this one's time has been read.
                st.drained_at = st.drained_at.max(at);
                let Some((vrid, src, prio)) = advert(&buf[..n], ignore_mac) else {
                    continue;
                };
                if !vrids.contains(&vrid) {
                    continue;
                }
                st.adverts += 1;
                let key = (vrid, src);
                match st.streams.get_mut(&key) {
                    Some(s) if prio == 0 => s.run_start = f64::INFINITY,
                    Some(s) => {
                        if s.run_start.is_infinite() || at - s.last > RUN_GAP {
                            s.run_start = at;
                        }
                        s.last = at;
                        s.prio = prio;
                    }
                    None if prio > 0 => {
                        st.streams.insert(
                            key,
                            Stream {
                                run_start: at,
                                last: at,
                                prio,
                            },
                        );
                    }
                    None => {}
                }
            }
        });
        Ok(Wire {
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// A copy of the streams and the time up to which they are complete.
    pub fn snapshot(&self) -> (HashMap<(u8, Ipv4Addr), Stream>, f64) {
        self.state
            .lock()
            .map(|s| (s.streams.clone(), s.drained_at))
            .unwrap_or_default()
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// (VRID, source, priority) of a valid IPv4 VRRP advert not sent from `ignore_mac`.
fn advert(frame: &[u8], ignore_mac: MacAddr) -> Option<(u8, Ipv4Addr, u8)> {
    let pf = parse_frame(frame).ok()?;
    if pf.protocol != 112 || pf.src_mac == ignore_mac || !pf.vlans.is_empty() {
        return None;
    }
    let repr = Repr::parse_bytes(pf.payload_bytes(frame), &pf.parse_context()).ok()?;
    match pf.ip.src() {
        std::net::IpAddr::V4(src) => Some((repr.vrid, src, repr.priority)),
        std::net::IpAddr::V6(_) => None,
    }
}

/// The client's echo requests and replies for one target.
#[derive(Default)]
pub struct EchoLog {
    /// Send time of each request, by sequence number (counted past 16 bits).
    pub sent: Vec<f64>,
    /// Reply time of each request (`NaN`: none).
    pub replied: Vec<f64>,
}

impl EchoLog {
    /// Whether the target answered: at least one request sent in `[t - 1.2, t - 0.4]` got a
    /// reply (or none was sent then: a stalled prober is no evidence).
    pub fn reachable(&self, t: f64) -> bool {
        let (lo, hi) = (t - 1.2, t - 0.4);
        let mut any = false;
        for i in (0..self.sent.len()).rev() {
            let s = self.sent[i];
            if s > hi {
                continue;
            }
            if s < lo {
                break;
            }
            any = true;
            if !self.replied[i].is_nan() {
                return true;
            }
        }
        !any
    }

    /// Longest time without a reply within `[from, to]`, counting from the last reply before
    /// `from` (replies are ~20 ms apart when all is well).
    pub fn longest_gap(&self, from: f64, to: f64) -> f64 {
        let mut replies: Vec<f64> = self
            .replied
            .iter()
            .copied()
            .filter(|r| !r.is_nan())
            .collect();
        replies.sort_by(f64::total_cmp);
        let mut last = replies
            .iter()
            .copied()
            .rfind(|r| *r <= from)
            .unwrap_or(from);
        let mut gap: f64 = 0.0;
        for r in replies.into_iter().filter(|r| *r > from && *r <= to) {
            gap = gap.max(r - last);
            last = r;
        }
        gap.max(to - last).max(0.0)
    }
}

/// The client pinging every VIP every `interval`, from two threads (sender, receiver).
pub struct Pinger {
    pub logs: Arc<Mutex<Vec<EchoLog>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pinger {
    /// Starts pinging `targets` from `ns`.
    pub fn start(ns: &Netns, targets: &[Ipv4Addr], interval: Duration) -> Result<Pinger> {
        let fd = Arc::new(socket_in(
            ns,
            libc::AF_INET,
            libc::SOCK_RAW,
            libc::IPPROTO_ICMP,
        )?);
        set_rcvtimeo(&fd, Duration::from_millis(50))?;
        let logs = Arc::new(Mutex::new(
            targets
                .iter()
                .map(|_| EchoLog::default())
                .collect::<Vec<_>>(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let ident = (std::process::id() as u16).wrapping_mul(7);
        let mut threads = Vec::new();
        {
            let (fd, logs, stop, targets) =
                (fd.clone(), logs.clone(), stop.clone(), targets.to_vec());
            threads.push(std::thread::spawn(move || {
                realtime(10);
                let mut seq: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    for (i, t) in targets.iter().enumerate() {
                        let id = ident.wrapping_add(i as u16);
                        let msg = echo_request(id, seq as u16);
                        // SAFETY: sockaddr_in is plain data.
                        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                        sa.sin_family = libc::AF_INET as u16;
                        sa.sin_addr.s_addr = u32::from_ne_bytes(t.octets());
                        let at = now();
                        // SAFETY: sendto reads msg and sa, valid for the lengths given.
                        unsafe {
                            libc::sendto(
                                fd.as_raw_fd(),
                                msg.as_ptr().cast(),
                                msg.len(),
                                libc::MSG_DONTWAIT,
                                (&sa as *const libc::sockaddr_in).cast(),
                                std::mem::size_of::<libc::sockaddr_in>() as u32,
                            )
                        };
                        if let Ok(mut l) = logs.lock() {
                            l[i].sent.push(at);
                            l[i].replied.push(f64::NAN);
                        }
                    }
                    seq += 1;
                    std::thread::sleep(interval);
                }
            }));
        }
        {
            let (fd, logs, stop, n) = (fd, logs.clone(), stop.clone(), targets.len());
            threads.push(std::thread::spawn(move || {
                realtime(10);
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some((len, at))) = recv_stamped(&fd, &mut buf, 0) else {
                        continue;
                    };
                    let pkt = &buf[..len];
                    let ihl = usize::from(pkt.first().copied().unwrap_or(0) & 0x0f) * 4;
                    let Some(icmp) = pkt.get(ihl..ihl + 8) else {
                        continue;
                    };
                    if icmp[0] != 0 {
                        continue;
                    }
                    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
                    let seq16 = u16::from_be_bytes([icmp[6], icmp[7]]);
                    let i = usize::from(id.wrapping_sub(ident));
                    if i >= n {
                        continue;
                    }
                    let Ok(mut l) = logs.lock() else { return };
                    let log = &mut l[i];
                    // The newest request with this 16-bit sequence number.
                    let sent = log.sent.len() as u64;
                    if sent == 0 {
                        continue;
                    }
                    let top = sent - 1;
                    let back = (top as u16).wrapping_sub(seq16) as u64;
                    if back <= top {
                        let k = (top - back) as usize;
                        if log.replied[k].is_nan() {
                            log.replied[k] = at;
                        }
                    }
                }
            }));
        }
        Ok(Pinger {
            logs,
            stop,
            threads,
        })
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// An ICMP echo request with a 16-byte payload.
fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![8u8, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"vrrp-agent soak.");
    let sum = vrrp_agent::wire::checksum::fold(vrrp_agent::wire::checksum::sum(&m));
    m[2..4].copy_from_slice(&(!sum).to_be_bytes());
    m
}

/// Helper for messages: "r1, r3".
pub fn names(list: &[usize], all: &[String]) -> String {
    list.iter()
        .map(|i| all.get(*i).map_or("?", String::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}
