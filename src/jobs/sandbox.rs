//! The sandbox a media child (`transcode-job`, `probe-upload`) puts itself
//! in before it touches an untrusted file.
//!
//! What it guarantees, where the kernel offers it (each layer that is
//! missing is named in one `warn!` line, and the child runs without it):
//! - **rlimits** (always): address space, CPU seconds, open files, no core
//!   dumps (a core would hold decoded frames and content keys).
//! - **`no_new_privs`** (always): no set-uid binary can raise privileges.
//! - **Landlock** (Linux ≥ 5.13; network rules ≥ 6.7, scoping ≥ 6.12): the
//!   only files the child can open are its inputs (read) and the system
//!   libraries and a few device nodes ffmpeg needs; it can create or write
//!   no file anywhere, so the data dir, `secrets/` and the database are out
//!   of reach; no TCP bind or connect; no signals or abstract Unix sockets
//!   outside the sandbox.
//! - **seccomp** (x86_64, aarch64): socket creation and every socket call,
//!   `ptrace` and cross-process memory access, `execve`, new processes
//!   (only threads may be cloned), namespaces, mounts, keyrings, BPF,
//!   `perf_event_open`, `io_uring` and module loading fail with `EPERM`.
//!
//! What it does not do: it is a deny list, not an allow list of syscalls,
//! so a kernel bug in an allowed syscall is still reachable; the child runs
//! as the server's user (unprivileged, it cannot switch); it keeps the pipes
//! and the inherited stderr its parent gave it; its output is whatever it
//! writes to the parent, which the parent validates (see `jobs::protocol`).
//! It must be applied on the main thread before any other thread starts:
//! Landlock and seccomp bind the calling thread and its future children.

use std::collections::BTreeMap;
use std::path::PathBuf;

use landlock::{
    Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// The Landlock ABI whose rights are requested; newer kernels enforce all of
/// them, older ones a subset (reported as partial).
const TARGET_ABI: ABI = ABI::V6;

/// System paths a media child may read: shared libraries ffmpeg may load
/// lazily, and what libc reads to know the time zone and the CPUs.
const SYSTEM_READ: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/sys/devices/system/cpu",
    "/dev/urandom",
];

/// Device nodes a media child may also write to.
const SYSTEM_WRITE: &[&str] = &["/dev/null"];

/// Open files a media child needs: stdio, its input, a few for libav.
pub const MEDIA_OPEN_FILES: u64 = 64;

/// Resource limits of one child.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Address-space limit, in bytes.
    pub memory_bytes: u64,
    /// CPU time of all threads together, in seconds (SIGXCPU, then SIGKILL).
    pub cpu_seconds: u64,
    /// Open file descriptors.
    pub open_files: u64,
}

/// What a child may touch.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Files the child reads (its input); nothing else outside the system paths.
    pub read_files: Vec<PathBuf>,
    pub limits: Limits,
}

/// Which layers are in force after [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// `"full"`, `"partial"` or `"off"`.
    pub landlock: &'static str,
    /// The Landlock ABI the kernel offers (0: none).
    pub landlock_abi: i32,
    pub seccomp: bool,
    pub no_new_privs: bool,
}

/// A sandbox that could not be set up although the kernel supports it.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("setting the {0} limit: {1}")]
    Limit(&'static str, std::io::Error),
    #[error("no_new_privs: {0}")]
    NoNewPrivs(std::io::Error),
    #[error("landlock: {0}")]
    Landlock(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
}

/// Puts the calling process in the sandbox; see the module doc.
pub fn apply(policy: &Policy) -> Result<Applied, SandboxError> {
    set_limits(&policy.limits)?;
    rustix::thread::set_no_new_privs(true).map_err(|e| SandboxError::NoNewPrivs(e.into()))?;
    let (landlock, landlock_abi) = restrict_filesystem(policy)?;
    let seccomp = match deny_syscalls() {
        Ok(()) => true,
        Err(SandboxError::Seccomp(reason)) => {
            tracing::warn!(%reason, "SANDBOX DEGRADED: seccomp is unavailable; network, exec and ptrace syscalls are not filtered");
            false
        }
        Err(other) => return Err(other),
    };
    let applied = Applied {
        landlock,
        landlock_abi,
        seccomp,
        no_new_privs: true,
    };
    tracing::debug!(?applied, "sandbox applied");
    Ok(applied)
}

/// Dies with the parent: SIGKILL when the thread that spawned us exits, and
/// an error if the parent is already gone (the race before prctl). The
/// signal follows the spawning *thread*: parents spawn from async runtime
/// worker threads, which live as long as the runtime, never from
/// `spawn_blocking` threads, which retire when idle.
pub fn die_with_parent(parent_pid: u32) -> std::io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32);
    if parent != Some(parent_pid) {
        return Err(std::io::Error::other("the parent process is gone"));
    }
    Ok(())
}

fn set_limits(limits: &Limits) -> Result<(), SandboxError> {
    use rlimit::Resource;
    let set = |name, resource: Resource, soft: u64, hard: u64| {
        rlimit::setrlimit(resource, soft, hard).map_err(|e| SandboxError::Limit(name, e))
    };
    set(
        "memory",
        Resource::AS,
        limits.memory_bytes,
        limits.memory_bytes,
    )?;
    // Soft: SIGXCPU; the hard limit a few seconds later is SIGKILL.
    let cpu = limits.cpu_seconds.max(1);
    set("cpu", Resource::CPU, cpu, cpu.saturating_add(5))?;
    set(
        "open files",
        Resource::NOFILE,
        limits.open_files,
        limits.open_files,
    )?;
    set("core", Resource::CORE, 0, 0)
}

fn restrict_filesystem(policy: &Policy) -> Result<(&'static str, i32), SandboxError> {
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .map_err(err)?
        .handle_access(AccessNet::from_all(TARGET_ABI))
        .map_err(err)?
        .scope(Scope::from_all(TARGET_ABI))
        .map_err(err)?
        .create()
        .map_err(err)?;
    for path in SYSTEM_READ {
        // Directory rights on a file would make the rule only partial.
        let read = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => AccessFs::from_read(TARGET_ABI),
            Ok(_) => AccessFs::ReadFile.into(),
            Err(_) => continue,
        };
        let fd = PathFd::new(path).map_err(|e| SandboxError::Landlock(e.to_string()))?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, read)).map_err(err)?;
    }
    for path in SYSTEM_WRITE
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
    {
        let fd = PathFd::new(path).map_err(|e| SandboxError::Landlock(e.to_string()))?;
        let access = AccessFs::ReadFile | AccessFs::WriteFile;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(err)?;
    }
    for path in &policy.read_files {
        let fd = PathFd::new(path).map_err(|e| SandboxError::Landlock(e.to_string()))?;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, AccessFs::ReadFile))
            .map_err(err)?;
    }
    let status = ruleset.restrict_self().map_err(err)?;
    let abi = match status.landlock {
        landlock::LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => kernel_abi.unwrap_or(effective_abi as i32),
        _ => 0,
    };
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => ("full", abi),
        RulesetStatus::PartiallyEnforced => {
            tracing::warn!(landlock_abi = abi, "SANDBOX DEGRADED: this kernel's Landlock enforces only part of the rules (TCP rules need ABI 4, signal and abstract-socket scoping ABI 6)");
            ("partial", abi)
        }
        RulesetStatus::NotEnforced => {
            tracing::warn!("SANDBOX DEGRADED: Landlock is unavailable; the media child can read any file its user can");
            ("off", abi)
        }
    })
}

/// Syscalls no media child needs, refused with `EPERM`.
fn denied_syscalls() -> Vec<i64> {
    let mut denied = vec![
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_sendto,
        libc::SYS_sendmsg,
        libc::SYS_sendmmsg,
        libc::SYS_recvfrom,
        libc::SYS_recvmsg,
        libc::SYS_recvmmsg,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
    ];
    #[cfg(target_arch = "x86_64")]
    denied.extend([libc::SYS_fork, libc::SYS_vfork]);
    denied
}

fn deny_syscalls() -> Result<(), SandboxError> {
    let err = |e: seccompiler::Error| SandboxError::Seccomp(e.to_string());
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp(e.to_string()))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied_syscalls()
        .into_iter()
        .map(|nr| (nr, vec![]))
        .collect();
    // clone: threads only (a new process lacks CLONE_THREAD).
    let no_thread_flag = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        0,
    )
    .map_err(|e| SandboxError::Seccomp(e.to_string()))?;
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![no_thread_flag])
            .map_err(|e| SandboxError::Seccomp(e.to_string()))?],
    );
    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| SandboxError::Seccomp(e.to_string()))?;
    // clone3 hides its flags behind a pointer: ENOSYS makes libc fall back to
    // clone, whose flags the filter above can see.
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, vec![])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| SandboxError::Seccomp(e.to_string()))?;
    for filter in [deny, clone3] {
        let program: seccompiler::BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp(e.to_string()))?;
        seccompiler::apply_filter_all_threads(&program).map_err(err)?;
    }
    Ok(())
}
