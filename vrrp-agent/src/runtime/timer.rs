//! A one-shot timer on CLOCK_MONOTONIC with microsecond precision (timerfd with an
//! absolute deadline), for tokio. tokio's own timer wheel has millisecond granularity,
//! too coarse for adverts every 10 ms with sub-0.2 ms jitter.
use std::{
    io,
    os::fd::{AsFd, AsRawFd, RawFd},
};

use nix::sys::{
    time::TimeSpec,
    timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags},
};
use tokio::io::unix::AsyncFd;

use crate::units::MonoTime;

/// nix's TimerFd with the `AsRawFd` tokio's `AsyncFd` needs.
struct Tfd(TimerFd);

impl AsRawFd for Tfd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A timerfd registered with tokio.
pub struct DeadlineTimer {
    fd: AsyncFd<Tfd>,
    armed: Option<MonoTime>,
}

impl DeadlineTimer {
    /// A disarmed timer.
    pub fn new() -> io::Result<Self> {
        let tfd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // SAFETY: the TimerFd owns its descriptor for as long as the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(Tfd(tfd)) }?;
        Ok(DeadlineTimer { fd, armed: None })
    }

    /// Fires at `at` (at once if `at` has passed); `None` disarms.
    pub fn set(&mut self, at: Option<MonoTime>) -> io::Result<()> {
        if self.armed == at {
            return Ok(());
        }
        let timer = &self.fd.get_ref().0;
        match at {
            Some(t) => {
                // An absolute expiry of zero would disarm; MonoTime is never that early.
                let ns = t.as_nanos().max(1);
                let ts = TimeSpec::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64);
                timer
                    .set(
                        Expiration::OneShot(ts),
                        TimerSetTimeFlags::TFD_TIMER_ABSTIME,
                    )
                    .map_err(io::Error::from)?;
            }
            None => timer.unset().map_err(io::Error::from)?,
        }
        self.armed = at;
        Ok(())
    }

    /// Waits until the armed deadline passes (forever if disarmed).
    pub async fn expired(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            match nix::unistd::read(guard.get_inner().0.as_fd(), &mut buf) {
                Ok(_) => {
                    self.armed = None;
                    return Ok(());
                }
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
