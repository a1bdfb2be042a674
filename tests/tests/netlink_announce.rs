//! `vrrp_agent::netlink` and `vrrp_agent::announce` against the kernel, in network
//! namespaces joined by a veth pair: VIPs added and removed as `ip -o addr show` sees them,
//! link lookups and link events, gratuitous ARP and unsolicited NA frames captured on the
//! other end, and what the peer's neighbour table does with them. Needs root.
//!
//! The agent's code runs inside a namespace from a short-lived thread that enters it with
//! setns(CLONE_NEWNET); the test process itself stays where it is.
use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, ensure, Context, Result};
use vrrp_agent::{
    announce::{AnnounceError, Announcer},
    config::{Location, VirtualAddress},
    netlink::{self, Errno, NetlinkError, VipProblem},
    wire::{arp::GarpRepr, nd::NaRepr, MacAddr},
};
use vrrp_tests::{unique, veth, wait_for, Netns};

/// Upper bound for anything that should take milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

/// Enters `ns` on the current thread (only this thread moves).
fn enter(ns_name: &str) -> Result<()> {
    let path = format!("/run/netns/{ns_name}");
    let f = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    // SAFETY: setns on this thread only, with a namespace fd we own.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns {path}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a new thread inside `ns`.
fn in_ns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let name = ns.name().to_owned();
    std::thread::spawn(move || {
        enter(&name)?;
        f()
    })
    .join()
    .map_err(|_| anyhow!("the thread in the namespace panicked"))?
}

/// Runs `f` with a `Netlink` of `ns`, on a current_thread runtime inside the namespace.
fn with_netlink<T, F, Fut>(ns: &Netns, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(netlink::Netlink) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    in_ns(ns, move || {
        netlink::block_on(async move {
            let nl = netlink::Netlink::connect().await?;
            f(nl).await
        })?
    })
}

fn vip(addr: &str, prefix_len: u8) -> VirtualAddress {
    VirtualAddress {
        addr: addr.parse().expect("test address"),
        prefix_len,
        dev: None,
        label: None,
        scope: None,
        brd: None,
        location: Location {
            file: "netlink_announce.rs".into(),
            line: 1,
            column: 1,
        },
    }
}

/// One line of `ip -o addr show dev IF`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IpLine {
    addr: IpAddr,
    prefix_len: u8,
    brd: Option<Ipv4Addr>,
    scope: String,
    secondary: bool,
    tentative: bool,
    nodad: bool,
    /// The IPv4 label (`ip` prints the interface name when there is none).
    label: Option<String>,
}

/// `ip -n NS -o addr show dev IF`, parsed. A line reads
/// `3: d0    inet 198.18.0.100/24 brd 198.18.0.255 scope global secondary d0:vip\   valid_lft ...`.
fn ip_addrs(ns: &Netns, dev: &str) -> Result<Vec<IpLine>> {
    let out = ns.ip(&["-o", "addr", "show", "dev", dev])?;
    let mut lines = Vec::new();
    for line in out.lines() {
        let head = line.split('\\').next().unwrap_or("");
        let words: Vec<&str> = head.split_whitespace().collect();
        let Some(fam) = words.iter().position(|w| *w == "inet" || *w == "inet6") else {
            continue;
        };
        let (addr, prefix) = words
            .get(fam + 1)
            .and_then(|w| w.split_once('/'))
            .with_context(|| format!("no address in {line:?}"))?;
        let after = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .map(|w| w.to_string())
        };
        let scope = after("scope").unwrap_or_default();
        // The label is the last word when it is not a flag (IPv4 only).
        let last = words.last().copied().unwrap_or("");
        let flags = [
            "secondary",
            "tentative",
            "nodad",
            "global",
            "link",
            "host",
            "site",
            "dynamic",
            "noprefixroute",
            "permanent",
            "deprecated",
            "dadfailed",
            "mngtmpaddr",
        ];
        let label = (words[fam] == "inet" && !flags.contains(&last) && last != scope)
            .then(|| last.to_string());
        lines.push(IpLine {
            addr: addr.parse()?,
            prefix_len: prefix.parse()?,
            brd: after("brd").map(|b| b.parse()).transpose()?,
            scope,
            secondary: words.contains(&"secondary"),
            tentative: words.contains(&"tentative"),
            nodad: words.contains(&"nodad"),
            label,
        });
    }
    Ok(lines)
}

fn find(lines: &[IpLine], addr: &str) -> Option<IpLine> {
    let a: IpAddr = addr.parse().ok()?;
    lines.iter().find(|l| l.addr == a).cloned()
}

/// The MAC `ip -o link show` prints for `dev`.
fn ip_mac(ns: &Netns, dev: &str) -> Result<MacAddr> {
    let out = ns.ip(&["-o", "link", "show", dev])?;
    let text = out
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .context("no link/ether in ip link output")?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    ensure!(parts.len() == 6, "bad MAC {text}");
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16)?;
    }
    Ok(MacAddr(mac))
}

/// Two namespaces joined by a veth pair, with 198.18.0.1/24 on A and 198.18.0.2/24 on B.
struct Lab {
    a: Netns,
    b: Netns,
    a_if: String,
    b_if: String,
}

impl Lab {
    fn new() -> Result<Lab> {
        let a = Netns::new("nla")?;
        let b = Netns::new("nlb")?;
        let a_if = unique("va");
        let b_if = unique("vb");
        veth(&a, &a_if, &b, &b_if)?;
        a.ip(&["addr", "add", "198.18.0.1/24", "dev", &a_if])?;
        b.ip(&["addr", "add", "198.18.0.2/24", "dev", &b_if])?;
        b.ip(&["addr", "add", "2001:db8::2/64", "dev", &b_if, "nodad"])?;
        Ok(Lab { a, b, a_if, b_if })
    }
}

#[test]
fn links_and_addresses_match_ip() -> Result<()> {
    let lab = Lab::new()?;
    let index = lab.a.ifindex(&lab.a_if)?;
    let mac = ip_mac(&lab.a, &lab.a_if)?;
    // Wait (bounded) for the IPv6 link-local address to finish DAD, so both views agree.
    let ll = wait_for(PATIENCE, || {
        let lines = ip_addrs(&lab.a, &lab.a_if).ok()?;
        lines.into_iter().find_map(|l| match l.addr {
            IpAddr::V6(v6) if l.scope == "link" && !l.tentative => Some(v6),
            _ => None,
        })
    })
    .context("the link-local address stayed tentative")?;
    let name = lab.a_if.clone();
    let (link, missing, addrs, primary, link_local, has) =
        with_netlink(&lab.a, move |nl| async move {
            let link = nl.link(&name).await?;
            let missing = nl.link("nosuchlink0").await;
            let addrs = nl.addresses(index).await?;
            let primary = nl.primary_ipv4(index).await?;
            let link_local = nl.link_local_ipv6(index).await?;
            let has = (
                nl.has_address(index, "198.18.0.1".parse()?).await?,
                nl.has_address(index, "198.18.0.2".parse()?).await?,
            );
            Ok((link, missing, addrs, primary, link_local, has))
        })?;
    assert_eq!(link.index, index);
    assert_eq!(link.name, lab.a_if);
    assert_eq!(link.mac, mac);
    assert!(link.up && link.running, "{link:?}");
    assert_eq!(link.mtu, 1500);
    match missing {
        Err(e @ NetlinkError::LinkByName { .. }) => assert_eq!(
            e.to_string(),
            "looking up interface nosuchlink0: No such device (ENODEV)"
        ),
        other => panic!("a missing link gave {other:?}"),
    }
    assert_eq!(primary, Some(Ipv4Addr::new(198, 18, 0, 1)));
    assert_eq!(link_local, Some(ll));
    assert_eq!(has, (true, false));
    let ip_view: Vec<(IpAddr, u8)> = ip_addrs(&lab.a, &lab.a_if)?
        .iter()
        .map(|l| (l.addr, l.prefix_len))
        .collect();
    let ours: Vec<(IpAddr, u8)> = addrs.iter().map(|a| (a.addr, a.prefix_len)).collect();
    assert_eq!(ours, ip_view, "addresses() and `ip -o addr show` differ");
    Ok(())
}

#[test]
fn vips_are_added_and_removed_exactly() -> Result<()> {
    let lab = Lab::new()?;
    let index = lab.a.ifindex(&lab.a_if)?;
    let a_if = lab.a_if.clone();

    let mut v1 = vip("198.18.0.100", 24);
    v1.label = Some(format!("{a_if}:vip"));
    v1.scope = Some("global".into());
    v1.brd = Some(Ipv4Addr::new(198, 18, 0, 255));
    // Another subnet, so that its scope may differ from the primary's (the kernel wants
    // one scope per subnet).
    let mut v2 = vip("198.18.1.100", 24);
    v2.scope = Some("link".into());
    let v6 = vip("2001:db8::100", 64);

    let (c1, c2, c6) = (v1.clone(), v2.clone(), v6.clone());
    with_netlink(&lab.a, move |nl| async move {
        nl.add_vip(index, &c1).await?;
        nl.add_vip(index, &c1).await?; // EEXIST is success
        nl.add_vip(index, &c2).await?;
        nl.add_vip(index, &c6).await?;
        nl.add_vip(index, &c6).await?;
        ensure!(nl.has_address(index, c1.addr).await?);
        Ok(())
    })?;
    let lines = ip_addrs(&lab.a, &lab.a_if)?;
    let l1 = find(&lines, "198.18.0.100").context("VIP 1 missing")?;
    assert_eq!(l1.prefix_len, 24);
    assert_eq!(l1.label.as_deref(), Some(format!("{a_if}:vip").as_str()));
    assert_eq!(l1.scope, "global");
    assert_eq!(l1.brd, Some(Ipv4Addr::new(198, 18, 0, 255)));
    assert!(l1.secondary, "{l1:?}");
    assert_eq!(lines.iter().filter(|l| l.addr == v1.addr).count(), 1);
    let l2 = find(&lines, "198.18.1.100").context("VIP 2 missing")?;
    assert_eq!((l2.scope.as_str(), l2.brd), ("link", None));
    let l6 = find(&lines, "2001:db8::100").context("IPv6 VIP missing")?;
    assert_eq!(l6.prefix_len, 64);
    assert!(l6.nodad && !l6.tentative, "{l6:?}");

    // The AddrInfo view of the same addresses.
    let infos = with_netlink(
        &lab.a,
        move |nl| async move { Ok(nl.addresses(index).await?) },
    )?;
    let info = infos
        .iter()
        .find(|a| a.addr == v1.addr)
        .context("VIP 1 not in addresses()")?;
    assert_eq!(info.label.as_deref(), Some(format!("{a_if}:vip").as_str()));
    assert!(info.secondary && info.scope == 0 && info.prefix_len == 24);
    let info = infos.iter().find(|a| a.addr == v2.addr).context("VIP 2")?;
    assert_eq!(info.scope, 253);

    // A different prefix length is another address: removing it leaves VIP 1 alone.
    let (c1, c2, c6) = (v1.clone(), v2.clone(), v6.clone());
    with_netlink(&lab.a, move |nl| async move {
        nl.remove_vip(index, &vip("198.18.0.100", 25)).await?;
        nl.remove_vip(index, &vip("198.18.0.100", 32)).await?;
        ensure!(
            nl.has_address(index, c1.addr).await?,
            "wrong prefix removed the VIP"
        );
        nl.remove_vip(index, &c1).await?;
        nl.remove_vip(index, &c1).await?; // not present: success
        nl.remove_vip(index, &c2).await?;
        nl.remove_vip(index, &c6).await?;
        nl.remove_vip(index, &c6).await?;
        Ok(())
    })?;
    let lines = ip_addrs(&lab.a, &lab.a_if)?;
    for gone in ["198.18.0.100", "198.18.1.100", "2001:db8::100"] {
        assert!(
            find(&lines, gone).is_none(),
            "{gone} still there: {lines:?}"
        );
    }
    let primary = find(&lines, "198.18.0.1").context("the interface's own address went")?;
    assert_eq!((primary.prefix_len, primary.secondary), (24, false));
    assert!(lines.iter().any(|l| l.scope == "link" && l.addr.is_ipv6()));
    Ok(())
}

#[test]
fn removing_a_primary_vip_keeps_the_other_addresses_of_its_subnet() -> Result<()> {
    let lab = Lab::new()?;
    let index = lab.a.ifindex(&lab.a_if)?;
    let sysctl = |key: &str, value: &str| -> Result<()> {
        let out = lab
            .a
            .output("sysctl", &["-qw", &format!("{key}={value}")])?;
        ensure!(
            out.status.success(),
            "sysctl {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let promote = format!("net.ipv4.conf.{}.promote_secondaries", lab.a_if);
    sysctl("net.ipv4.conf.all.promote_secondaries", "0")?;
    sysctl(&promote, "0")?;

    // Control: without promote_secondaries the kernel deletes the secondaries with the
    // primary, which is what remove_vip must prevent.
    lab.a
        .ip(&["addr", "add", "198.19.6.1/24", "dev", &lab.a_if])?;
    lab.a
        .ip(&["addr", "add", "198.19.6.2/24", "dev", &lab.a_if])?;
    lab.a
        .ip(&["addr", "del", "198.19.6.1/24", "dev", &lab.a_if])?;
    assert!(
        find(&ip_addrs(&lab.a, &lab.a_if)?, "198.19.6.2").is_none(),
        "the kernel no longer deletes secondaries with their primary; the control is moot"
    );

    // The VIP is the first address of 198.19.5.0/24, so it is the primary; another address
    // of that subnet (added by someone else) is its secondary.
    let v = vip("198.19.5.1", 24);
    let c = v.clone();
    with_netlink(
        &lab.a,
        move |nl| async move { Ok(nl.add_vip(index, &c).await?) },
    )?;
    lab.a
        .ip(&["addr", "add", "198.19.5.2/24", "dev", &lab.a_if])?;
    let lines = ip_addrs(&lab.a, &lab.a_if)?;
    assert_eq!(find(&lines, "198.19.5.1").map(|l| l.secondary), Some(false));
    assert_eq!(find(&lines, "198.19.5.2").map(|l| l.secondary), Some(true));

    let c = v.clone();
    with_netlink(&lab.a, move |nl| async move {
        Ok(nl.remove_vip(index, &c).await?)
    })?;
    let lines = ip_addrs(&lab.a, &lab.a_if)?;
    assert!(
        find(&lines, "198.19.5.1").is_none(),
        "the VIP is still there"
    );
    let kept = find(&lines, "198.19.5.2").context("the other address of the subnet was deleted")?;
    assert!(!kept.secondary, "it should have been promoted: {kept:?}");
    assert!(find(&lines, "198.18.0.1").is_some());
    let out = lab.a.output("sysctl", &["-n", &promote])?;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    Ok(())
}

#[test]
fn vip_errors_name_interface_address_and_errno() -> Result<()> {
    let lab = Lab::new()?;
    let index = lab.a.ifindex(&lab.a_if)?;
    let a_if = lab.a_if.clone();
    let (bad_label, too_long, bad_scope, missing_add, missing_remove) =
        with_netlink(&lab.a, move |nl| async move {
            let mut v = vip("198.18.0.100", 24);
            v.label = Some("other:vip".into());
            let bad_label = nl.add_vip(index, &v).await;
            v.label = Some(format!("{a_if}:0123456789abcdef"));
            let too_long = nl.add_vip(index, &v).await;
            let mut v = vip("198.18.0.100", 24);
            v.scope = Some("galactic".into());
            let bad_scope = nl.add_vip(index, &v).await;
            let missing_add = nl.add_vip(999_999, &vip("198.18.0.100", 24)).await;
            let missing_remove = nl.remove_vip(999_999, &vip("198.18.0.100", 24)).await;
            Ok((bad_label, too_long, bad_scope, missing_add, missing_remove))
        })?;

    let e = bad_label.expect_err("a label not starting with the interface name");
    assert!(
        matches!(&e, NetlinkError::InvalidVip { problem: VipProblem::LabelPrefix { .. }, iface, .. } if iface.index == index),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot add 198.18.0.100/24 to {} (ifindex {index}): label `other:vip` must be the interface name", lab.a_if)),
        "{text}"
    );
    assert!(matches!(
        too_long,
        Err(NetlinkError::InvalidVip {
            problem: VipProblem::LabelTooLong { .. },
            ..
        })
    ));
    assert!(matches!(
        bad_scope,
        Err(NetlinkError::InvalidVip {
            problem: VipProblem::Scope(_),
            ..
        })
    ));
    // Nothing was added by the failed calls.
    assert!(find(&ip_addrs(&lab.a, &lab.a_if)?, "198.18.0.100").is_none());

    let e = missing_add.expect_err("adding to a missing interface");
    assert!(
        matches!(&e, NetlinkError::AddAddress { iface, errno: Errno(libc::ENODEV), .. } if iface.index == 999_999),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "adding 198.18.0.100/24 to ifindex 999999: No such device (ENODEV)"
    );
    let e = missing_remove.expect_err("removing from a missing interface");
    assert_eq!(
        e.to_string(),
        "removing 198.18.0.100/24 from ifindex 999999: No such device (ENODEV)"
    );
    Ok(())
}

#[test]
fn link_events_report_the_peer_going_down_and_up() -> Result<()> {
    let lab = Lab::new()?;
    let index = lab.a.ifindex(&lab.a_if)?;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (go_up_tx, go_up_rx) = mpsc::channel::<()>();
    let a_name = lab.a.name().to_owned();
    // The watcher: subscribe, say so, then wait (bounded) for carrier loss and return.
    let watcher = std::thread::spawn(move || -> Result<_> {
        enter(&a_name)?;
        netlink::block_on(async move {
            let nl = netlink::Netlink::connect().await?;
            let mut events = nl.link_events().await?;
            ready_tx.send(())?;
            let deadline = Instant::now() + PATIENCE;
            let mut down = None;
            while down.is_none() && Instant::now() < deadline {
                match events
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .await
                {
                    Some(e) if e.index == index && !e.running => down = Some(e),
                    Some(_) => {}
                    None => break,
                }
            }
            let down = down.context("no link event for carrier loss")?;
            let after = nl.link_by_index(index).await?;
            go_up_tx.send(())?;
            let mut up = None;
            while up.is_none() && Instant::now() < deadline {
                match events
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .await
                {
                    Some(e) if e.index == index && e.running => up = Some(e),
                    Some(_) => {}
                    None => break,
                }
            }
            let up = up.context("no link event for carrier back")?;
            Ok((down, after, up))
        })?
    });
    ready_rx
        .recv_timeout(PATIENCE)
        .context("the watcher did not subscribe")?;
    lab.b.ip(&["link", "set", &lab.b_if, "down"])?;
    if go_up_rx.recv_timeout(PATIENCE).is_ok() {
        lab.b.ip(&["link", "set", &lab.b_if, "up"])?;
    }
    let (down, after, up) = watcher
        .join()
        .map_err(|_| anyhow!("the watcher panicked"))??;
    assert_eq!(down.name, lab.a_if);
    assert!(down.up && !down.running && !down.removed, "{down:?}");
    assert!(after.up && !after.running, "{after:?}");
    assert!(up.up && up.running, "{up:?}");
    Ok(())
}

/// Frames received on `dev` in `ns` from the moment this returns until `stop` holds for the
/// frames so far, or `PATIENCE` passes.
fn capture(
    ns: &Netns,
    dev: &str,
    stop: impl Fn(&[Vec<u8>]) -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<Vec<Vec<u8>>>>> {
    let index = ns.ifindex(dev)?;
    let name = ns.name().to_owned();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || -> Result<Vec<Vec<u8>>> {
        enter(&name)?;
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: socket(2) with constant arguments; the fd is owned right away.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        ensure!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: raw is a fresh, valid descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = index as i32;
        // SAFETY: bind reads `sa` for its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        ensure!(rc == 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: setsockopt reads `tv` for its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        ready_tx.send(())?;
        let deadline = Instant::now() + PATIENCE;
        let mut frames = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline && frames.len() < 10_000 && !stop(&frames) {
            // SAFETY: recv writes at most buf.len() bytes into buf.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                frames.push(buf[..n as usize].to_vec());
            }
        }
        Ok(frames)
    });
    ready_rx
        .recv_timeout(PATIENCE)
        .context("the capture did not start")?;
    Ok(handle)
}

fn garps(frames: &[Vec<u8>]) -> Vec<GarpRepr> {
    frames
        .iter()
        .filter_map(|f| GarpRepr::parse(f).ok())
        .collect()
}

fn nas(frames: &[Vec<u8>]) -> Vec<NaRepr> {
    frames
        .iter()
        .filter_map(|f| NaRepr::parse(f).ok())
        .collect()
}

/// The MAC `ip -n NS neigh show ADDR dev DEV` has for `addr`, if any.
fn neigh_mac(ns: &Netns, dev: &str, addr: &str) -> Option<String> {
    let out = ns.ip(&["neigh", "show", addr, "dev", dev]).ok()?;
    let mut words = out.split_whitespace().skip_while(|w| *w != "lladdr");
    words.next()?;
    words.next().map(str::to_owned)
}

#[test]
fn garp_and_unsolicited_na_reach_the_peer_and_update_its_neighbours() -> Result<()> {
    let lab = Lab::new()?;
    let a_index = lab.a.ifindex(&lab.a_if)?;
    let a_mac = ip_mac(&lab.a, &lab.a_if)?;
    let stale = "02:00:00:00:00:99";
    // B already has (stale) entries for two VIPs, as after talking to the old Master; it
    // has none for the third and fourth.
    lab.b.ip(&[
        "neigh",
        "add",
        "198.18.0.100",
        "lladdr",
        stale,
        "dev",
        &lab.b_if,
        "nud",
        "stale",
    ])?;
    lab.b.ip(&[
        "neigh",
        "add",
        "2001:db8::100",
        "lladdr",
        stale,
        "dev",
        &lab.b_if,
        "nud",
        "stale",
    ])?;
    let arp_accept = format!("net.ipv4.conf.{}.arp_accept", lab.b_if);
    let out = lab
        .b
        .output("sysctl", &["-qw", &format!("{arp_accept}=0")])?;
    ensure!(out.status.success(), "sysctl arp_accept");

    let vip4: Ipv4Addr = "198.18.0.100".parse()?;
    let vip6: Ipv6Addr = "2001:db8::100".parse()?;
    let unknown4: IpAddr = "198.18.0.101".parse()?;
    let batch6: IpAddr = "2001:db8::101".parse()?;
    let want = move |frames: &[Vec<u8>]| {
        let g = garps(frames);
        let n = nas(frames);
        g.iter().any(|r| r.addr == vip4)
            && g.iter().any(|r| IpAddr::V4(r.addr) == unknown4)
            && n.iter().any(|r| r.target == vip6)
            && n.iter().any(|r| IpAddr::V6(r.target) == batch6)
    };
    let capture = capture(&lab.b, &lab.b_if, want)?;

    let (single, batch, packet_table) = in_ns(&lab.a, move || {
        let announcer = Announcer::new()?;
        let single = (
            announcer.garp(a_index, a_mac, vip4),
            announcer.unsolicited_na(a_index, a_mac, vip6),
        );
        let batch = announcer.announce(a_index, a_mac, &[unknown4, batch6]);
        // This thread's namespace's packet sockets: the announcer's only.
        let table = std::fs::read_to_string("/proc/thread-self/net/packet")?;
        Ok((single, batch, table))
    })?;
    single.0?;
    single.1?;
    assert_eq!(batch.len(), 2);
    for r in &batch {
        assert!(r.is_ok(), "{r:?}");
    }
    // sk RefCnt Type Proto Iface R Rmem User Inode: protocol 0, not hooked ("R" 0), so the
    // kernel queues nothing on it.
    let rows: Vec<Vec<&str>> = packet_table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 1, "{packet_table}");
    assert_eq!(
        (rows[0][3], rows[0][5], rows[0][6]),
        ("0000", "0", "0"),
        "{packet_table}"
    );

    let frames = capture
        .join()
        .map_err(|_| anyhow!("the capture panicked"))??;
    ensure!(
        want(&frames),
        "not every announcement was captured ({} frames)",
        frames.len()
    );
    let g = garps(&frames);
    let garp = g.iter().find(|r| r.addr == vip4).context("GARP")?;
    assert_eq!(*garp, GarpRepr::new(a_mac, vip4), "keepalived's form");
    assert!(g.iter().all(|r| r.sender_mac == a_mac));
    let n = nas(&frames);
    let na = n.iter().find(|r| r.target == vip6).context("NA")?;
    assert_eq!(*na, NaRepr::new(a_mac, vip6));
    assert!(n.iter().all(|r| r.sender_mac == a_mac));

    // Linux updates an existing entry from a gratuitous ARP (arp_process: is_garp forces
    // the override) and from an NA with the Override flag, but does not create one from an
    // unsolicited announcement unless arp_accept (IPv4) / accept_untracked_na (IPv6) says so.
    let want_mac = a_mac.to_string();
    let learned = wait_for(PATIENCE, || {
        (neigh_mac(&lab.b, &lab.b_if, "198.18.0.100").as_deref() == Some(want_mac.as_str())
            && neigh_mac(&lab.b, &lab.b_if, "2001:db8::100").as_deref() == Some(want_mac.as_str()))
        .then_some(())
    });
    assert!(
        learned.is_some(),
        "B's neighbour table did not learn the VIPs' new MAC {want_mac}:\n{}",
        lab.b.ip(&["neigh", "show", "dev", &lab.b_if])?
    );
    assert_eq!(neigh_mac(&lab.b, &lab.b_if, "198.18.0.101"), None);

    // With arp_accept=1, B creates the entry from the GARP too.
    let out = lab
        .b
        .output("sysctl", &["-qw", &format!("{arp_accept}=1")])?;
    ensure!(out.status.success(), "sysctl arp_accept");
    in_ns(&lab.a, move || -> Result<()> {
        Ok(Announcer::new()?.garp(a_index, a_mac, "198.18.0.102".parse()?)?)
    })?;
    let created = wait_for(PATIENCE, || neigh_mac(&lab.b, &lab.b_if, "198.18.0.102"));
    assert_eq!(created.as_deref(), Some(want_mac.as_str()));
    Ok(())
}

#[test]
fn sending_on_a_missing_interface_names_it_and_the_errno() -> Result<()> {
    let lab = Lab::new()?;
    let results = in_ns(&lab.a, move || {
        let announcer = Announcer::new()?;
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        Ok((
            announcer.garp(999_999, mac, Ipv4Addr::new(198, 18, 0, 100)),
            announcer.announce(999_999, mac, &["2001:db8::100".parse()?]),
        ))
    })?;
    let e = results.0.expect_err("no interface 999999");
    assert!(
        matches!(
            &e,
            AnnounceError::Send {
                errno: Errno(libc::ENXIO | libc::ENODEV),
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("sending gratuitous ARP for 198.18.0.100 on ifindex 999999: "),
        "{text}"
    );
    assert_eq!(results.1.len(), 1);
    let text = results.1[0].as_ref().expect_err("no interface").to_string();
    assert!(
        text.starts_with("sending unsolicited NA for 2001:db8::100 on ifindex 999999: "),
        "{text}"
    );
    Ok(())
}
