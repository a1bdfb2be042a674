//! Process tuning from `global_defs` (`vrrp_priority`, `vrrp_no_swap`, `vrrp_rt_priority`,
//! `vrrp_cpu_affinity`, `vrrp_rlimit_rttime`), applied once at start-up as keepalived 2.2.7's
//! VRRP process does (`set_process_priorities`, `set_process_cpu_affinity`):
//! - a real-time priority: `SCHED_RR | SCHED_RESET_ON_FORK` (scripts and helper threads
//!   started later run as normal processes), with RLIMIT_RTTIME hard = the limit (default
//!   10 ms of CPU without blocking), soft = half; the nice value is then NOT applied;
//! - otherwise the nice value, if set;
//! - `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`;
//! - the CPU affinity (every CPU must be online, else none is set).
//!
//! The runtime applies it once the XDP program is loaded and the instances are set up: the
//! verifier's work runs in the agent's process without blocking, and under a real-time
//! policy counts against RLIMIT_RTTIME, whose hard limit kills the process (SIGKILL).
//!
//! The agent's event loop (which sends the adverts) runs on the thread that calls [`apply`];
//! scheduling policy, nice value and affinity are per thread on Linux and are inherited by
//! threads it starts later (the real-time policy is not, by `SCHED_RESET_ON_FORK`). A step
//! that fails is a warning with the reason (EPERM without CAP_SYS_NICE, ...), never fatal:
//! keepalived logs and carries on too.
use std::io;

use crate::config::ProcessTuning;

/// One thing to do to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `setpriority(PRIO_PROCESS, 0, nice)`.
    Nice(i32),
    /// `sched_setscheduler(SCHED_RR | SCHED_RESET_ON_FORK, priority)`, then RLIMIT_RTTIME
    /// (microseconds: soft = half, hard = all).
    RealTime {
        priority: u32,
        rlimit_rttime_us: u64,
    },
    /// `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`.
    LockMemory,
    /// `sched_setaffinity(0, cpus)`.
    Affinity(Vec<usize>),
}

/// What will be done, in order, and what is left out (with why), for `online_cpus` CPUs.
pub fn plan(t: &ProcessTuning, online_cpus: usize) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    match (t.rt_priority, t.effective_rlimit_rttime_us()) {
        (Some(priority), Some(rlimit_rttime_us)) => {
            steps.push(Step::RealTime {
                priority,
                rlimit_rttime_us,
            });
            if let Some(nice) = t.nice {
                notes.push(format!(
                    "vrrp_priority {nice} is not applied: with vrrp_rt_priority the process is \
                     real-time and keepalived does not set its nice value either"
                ));
            }
        }
        _ => {
            if let Some(nice) = t.nice {
                steps.push(Step::Nice(nice));
            }
            if let Some(us) = t.rlimit_rttime_us {
                notes.push(format!(
                    "vrrp_rlimit_rttime {us} is not applied: it limits a real-time process, and \
                     vrrp_rt_priority is not set (keepalived keeps it for later too)"
                ));
            }
        }
    }
    if t.no_swap {
        steps.push(Step::LockMemory);
    }
    if !t.cpu_affinity.is_empty() {
        match t.cpu_affinity.iter().find(|c| **c >= online_cpus) {
            Some(bad) => notes.push(format!(
                "vrrp_cpu_affinity is not applied: CPU {bad} is not one of the {online_cpus} \
                 online CPUs (0..{}); keepalived drops the whole set too",
                online_cpus.saturating_sub(1)
            )),
            None => steps.push(Step::Affinity(t.cpu_affinity.clone())),
        }
    }
    (steps, notes)
}

/// Applies `t` to the calling thread and the process, logging each step's result.
pub fn apply(t: &ProcessTuning) {
    if t.is_empty() {
        return;
    }
    let at = t
        .location
        .as_ref()
        .map(|l| l.to_string())
        .unwrap_or_default();
    let (steps, notes) = plan(t, online_cpus());
    for note in notes {
        tracing::warn!("{at}: {note}");
    }
    for step in steps {
        match run(&step) {
            Ok(()) => tracing::info!("process tuning applied: {}", describe(&step)),
            Err(e) => tracing::warn!(
                "{at}: process tuning not applied: {}: {e}{}; carrying on without it",
                describe(&step),
                hint(&e)
            ),
        }
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Nice(n) => format!("nice value {n} (vrrp_priority)"),
        Step::RealTime {
            priority,
            rlimit_rttime_us,
        } => format!(
            "SCHED_RR priority {priority} (vrrp_rt_priority) with RLIMIT_RTTIME {} / {rlimit_rttime_us} us (vrrp_rlimit_rttime)",
            rlimit_rttime_us / 2
        ),
        Step::LockMemory => "memory locked, mlockall (vrrp_no_swap)".to_owned(),
        Step::Affinity(cpus) => format!(
            "CPU affinity {} (vrrp_cpu_affinity)",
            cpus.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) => " (needs root or CAP_SYS_NICE / CAP_IPC_LOCK)",
        Some(libc::ENOMEM) | Some(libc::EAGAIN) => " (RLIMIT_MEMLOCK too low?)",
        _ => "",
    }
}

fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn run(step: &Step) -> io::Result<()> {
    match step {
        Step::Nice(n) => {
            // SAFETY: plain syscall on this thread; no pointers.
            check(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, *n) })
        }
        Step::RealTime {
            priority,
            rlimit_rttime_us,
        } => {
            let param = libc::sched_param {
                sched_priority: i32::try_from(*priority).unwrap_or(1),
            };
            // SAFETY: `param` is a valid sched_param for the duration of the call.
            check(unsafe {
                libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param)
            })?;
            // The soft limit sends SIGXCPU, whose default action ends the process;
            // keepalived catches it to log. Ignored here: the hard limit (SIGKILL) is what
            // stops a runaway real-time loop.
            // SAFETY: setting a signal's disposition to SIG_IGN.
            unsafe { libc::signal(libc::SIGXCPU, libc::SIG_IGN) };
            let lim = libc::rlimit {
                rlim_cur: rlimit_rttime_us / 2,
                rlim_max: *rlimit_rttime_us,
            };
            // SAFETY: `lim` is a valid rlimit for the duration of the call.
            check(unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) })
        }
        Step::LockMemory => {
            // SAFETY: plain syscall, no pointers.
            check(unsafe {
                libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT)
            })
        }
        Step::Affinity(cpus) => {
            // SAFETY: an all-zero cpu_set_t is a valid empty set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for cpu in cpus {
                // SAFETY: `plan` checked the CPU is online, hence below CPU_SETSIZE.
                unsafe { libc::CPU_SET(*cpu, &mut set) };
            }
            // SAFETY: `set` is a valid cpu_set_t of the size given.
            check(unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning() -> ProcessTuning {
        ProcessTuning::default()
    }

    #[test]
    fn nothing_configured_nothing_done() {
        assert_eq!(plan(&tuning(), 4), (vec![], vec![]));
    }

    #[test]
    fn real_time_wins_over_nice_with_keepalived_default_rlimit() {
        let t = ProcessTuning {
            nice: Some(-10),
            rt_priority: Some(50),
            ..tuning()
        };
        let (steps, notes) = plan(&t, 4);
        assert_eq!(
            steps,
            vec![Step::RealTime {
                priority: 50,
                rlimit_rttime_us: crate::config::RLIMIT_RTTIME_DEFAULT_US
            }]
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("vrrp_priority -10 is not applied"),
            "{notes:?}"
        );
    }

    #[test]
    fn nice_lock_and_affinity_without_real_time() {
        let t = ProcessTuning {
            nice: Some(-5),
            no_swap: true,
            cpu_affinity: vec![1, 0],
            rlimit_rttime_us: Some(20_000),
            ..tuning()
        };
        let (steps, notes) = plan(&t, 2);
        assert_eq!(
            steps,
            vec![Step::Nice(-5), Step::LockMemory, Step::Affinity(vec![1, 0])]
        );
        assert!(notes[0].contains("vrrp_rlimit_rttime 20000 is not applied"));
    }

    #[test]
    fn offline_cpu_drops_the_whole_affinity() {
        let t = ProcessTuning {
            cpu_affinity: vec![0, 7],
            ..tuning()
        };
        let (steps, notes) = plan(&t, 2);
        assert!(steps.is_empty());
        assert!(notes[0].contains("CPU 7"), "{notes:?}");
    }
}
