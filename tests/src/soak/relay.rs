//! The impaired switch port: this host's kernel has no netem, so one router reaches the
//! bridge through a relay in the soak process. Two AF_PACKET sockets in the switch
//! namespace copy frames between the router's veth end and a veth whose peer is the bridge
//! port, and drop, delay or reorder them on command. Idle, a frame is copied as soon as it
//! is read (tens of microseconds); the relay thread runs SCHED_FIFO so that a busy machine
//! does not stall the router's link.
use std::{
    collections::BinaryHeap,
    os::fd::{AsRawFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Result;

use super::{observe::packet_socket, rng::Rng};
use crate::Netns;

/// What the relay does to each frame, both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Drop probability (1.0: a partition).
    pub loss: f64,
    /// Fixed delay.
    pub delay: Duration,
    /// Extra random delay, uniform in `[0, jitter)`, per frame: frames overtake each other.
    pub jitter: Duration,
}

/// Counters of the relay.
#[derive(Clone, Copy, Debug, Default)]
pub struct RelayStats {
    pub forwarded: u64,
    pub dropped: u64,
    pub delayed: u64,
}

struct Shared {
    imp: Impairment,
    stats: RelayStats,
}

/// A running relay.
pub struct Relay {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Pending {
    due: Instant,
    order: u64,
    to_b: bool,
    frame: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.due == o.due && self.order == o.order
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Min-heap on (due, order).
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.due.cmp(&self.due).then(o.order.cmp(&self.order))
    }
}

impl Relay {
    /// Relays between `a` and `b` (both in `ns`); `seed` drives the drop and jitter draws.
    pub fn start(ns: &Netns, a: &str, b: &str, seed: u64) -> Result<Relay> {
        let fa = packet_socket(ns, a)?;
        let fb = packet_socket(ns, b)?;
        let shared = Arc::new(Mutex::new(Shared {
            imp: Impairment::default(),
            stats: RelayStats::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared2, stop2) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || run(fa, fb, shared2, stop2, Rng::new(seed)));
        Ok(Relay {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Sets the impairment from now on (frames already delayed keep their due time).
    pub fn set(&self, imp: Impairment) {
        if let Ok(mut s) = self.shared.lock() {
            s.imp = imp;
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> RelayStats {
        self.shared.lock().map(|s| s.stats).unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(fa: OwnedFd, fb: OwnedFd, shared: Arc<Mutex<Shared>>, stop: Arc<AtomicBool>, mut rng: Rng) {
    super::observe::realtime(20);
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut order = 0u64;
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while heap.peek().is_some_and(|p| p.due <= now) {
            if let Some(p) = heap.pop() {
                let fd = if p.to_b { &fb } else { &fa };
                super::observe::send_frame(fd, &p.frame);
            }
        }
        let timeout_ms = heap.peek().map_or(20, |p| {
            (p.due.saturating_duration_since(now).as_micros() as i32 / 1000).clamp(0, 20)
        });
        let mut fds = [
            libc::pollfd {
                fd: fa.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: fb.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll reads and writes the two pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        for (i, pfd) in fds.iter().enumerate() {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            let (from, to, to_b) = if i == 0 {
                (&fa, &fb, true)
            } else {
                (&fb, &fa, false)
            };
            loop {
                // SAFETY: recv writes at most buf.len() bytes into buf.
                let n = unsafe {
                    libc::recv(
                        from.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n <= 0 {
                    break;
                }
                let frame = &buf[..n as usize];
                let Ok(mut s) = shared.lock() else { return };
                let imp = s.imp;
                if imp.loss > 0.0 && rng.chance(imp.loss) {
                    s.stats.dropped += 1;
                    continue;
                }
                let extra = if imp.jitter.is_zero() {
                    Duration::ZERO
                } else {
                    imp.jitter.mul_f64(rng.uniform(0.0, 1.0))
                };
                let wait = imp.delay + extra;
                if wait.is_zero() && heap.is_empty() {
                    s.stats.forwarded += 1;
                    drop(s);
                    super::observe::send_frame(to, frame);
                } else {
                    s.stats.delayed += 1;
                    s.stats.forwarded += 1;
                    order += 1;
                    heap.push(Pending {
                        due: Instant::now() + wait,
                        order,
                        to_b,
                        frame: frame.to_vec(),
                    });
                }
            }
        }
    }
}
