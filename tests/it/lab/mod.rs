//! Live-test harness: runs a test body inside its own network and mount namespace and starts
//! real services there, so that no packet can leave the machine.
//!
//! Use (the whole API):
//! ```ignore
//! #[test]
//! fn my_live_test() {
//!     // Outside: re-runs this very test under `unshare --net --mount --pid` and checks it passed.
//!     // Inside: returns true and the body runs with `lo` as the only interface.
//!     if !lab::enter("my_live_test") { return; }
//!     // `dir` holds a rendered tree (compose/ ...), which the lab may rewrite.
//!     let mut lab = lab::Lab::start(&dir.join("compose"), monitoring_ip, &vm_ips, &routed_hosts);
//!     lab.compose.remap_files("prometheus"); // container paths -> lab paths, printed
//!     let args = lab.command("prometheus");   // the compose command, remapped
//!     lab.spawn("prometheus", Command::new(lab::tool("prometheus").unwrap()).args(&args));
//!     let url = lab.url("prometheus", 9090, "/-/ready");
//!     lab.wait_http("prometheus", &url, 200); // bounded (30 s), panics with the log
//!     let log = lab.log("prometheus");
//! } // Drop: every started PID is killed; the PID namespace takes anything else with it.
//! ```
//! `Lab::start` brings `lo` up, puts the lab's addresses on it, bind-mounts a private
//! `/etc/hosts` (each compose service on its own 127.0.10.x address, each routed host on the
//! monitoring VM's address, as `cargo xtask dns` says), mounts a tmpfs on `/run` (for
//! `/run/secrets`) and lays the runtimes' `usr/share` over `/usr/share` (read-only overlay).
//! Where `unshare`, `ip` or a binary is missing, [`tool`] says `SKIPPED: ...` (or fails under
//! `REQUIRE_VALIDATORS=1`). Stand-ins (an HTTP backend echoing the Host header, a Docker socket)
//! are in [`stubs`]; tests/it/live.rs is the full example.
#![allow(dead_code)]

pub mod compose;
pub mod stubs;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use compose::Compose;

const INSIDE: &str = "XTASK_LAB_NETNS";
/// Where `.github/scripts/install-runtimes.sh` puts the real services.
pub const RUNTIMES: &str = "/opt/runtimes";

/// REQUIRE_VALIDATORS=1 makes a missing runtime fail; REQUIRE_LIVE=0 lifts that for live tests
/// only, where a job runs them in a separate, privileged step (.github/workflows/ci.yml).
fn required() -> bool {
    std::env::var("REQUIRE_VALIDATORS").as_deref() == Ok("1") && std::env::var("REQUIRE_LIVE").as_deref() != Ok("0")
}

/// Says why a live check cannot run: `SKIPPED: ...`, or a failure under REQUIRE_VALIDATORS=1.
pub fn skip(why: &str) {
    if required() {
        panic!("{why} (required: REQUIRE_VALIDATORS=1); run .github/scripts/install-runtimes.sh");
    }
    crate::common::skipped(&format!("{why}; this live check did not run (set REQUIRE_VALIDATORS=1 to make it fail)"));
}

/// A runtime binary: from PATH, or from /opt/runtimes/bin. None (after [`skip`]) when missing.
pub fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.push(Path::new(RUNTIMES).join("bin"));
    dirs.push(PathBuf::from("/usr/sbin"));
    if let Some(found) = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    skip(&format!("{name} is not installed"));
    None
}

/// True inside the namespace (run the body); false outside, after the re-run in a namespace
/// passed (or was skipped). `test` is the test function's name (its module comes from the harness).
pub fn enter(test: &str) -> bool {
    if std::env::var(INSIDE).as_deref() == Ok("1") {
        return true;
    }
    let Some(unshare) = tool("unshare") else { return false };
    let probe = Command::new(&unshare).args(["--net", "--mount", "--pid", "--fork", "true"]).output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        skip("unshare --net --mount --pid cannot make namespaces here (root needed)");
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    // The harness names the test's thread after the test's full name (`live::name` in the one
    // test binary): `--exact` needs it.
    let full = std::thread::current().name().filter(|n| n.ends_with(&format!("::{test}"))).map_or(test.to_string(), str::to_string);
    let test = full.as_str();
    let mut child = Command::new(&unshare)
        .args(["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_thread = pipe_reader(child.stdout.take().unwrap());
    let err_thread = pipe_reader(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            // --kill-child: the namespace's init dies with unshare, and every process with it.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out_thread.join().unwrap(), err_thread.join().unwrap());
    println!("{out}");
    eprintln!("{err}");
    let status = status.unwrap_or_else(|| panic!("{test}: the namespaced run did not finish within 240 s"));
    assert!(status.success(), "{test}: failed inside its network namespace ({status})");
    assert!(out.contains("1 passed"), "{test}: the namespaced run did not run exactly this test");
    false
}

fn pipe_reader(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Polls `f` every 100 ms until it is true; false after `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A started process: its log file; killed (by PID) and reaped on drop.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One running lab inside the namespace: its hosts, its work directory, its processes.
pub struct Lab {
    /// The compose directory the services read (a writable copy of generated/compose).
    pub compose_dir: PathBuf,
    /// Scratch space: named volumes, host paths, logs, sockets.
    pub work: PathBuf,
    pub compose: Compose,
    /// Every name in the private /etc/hosts, with its address.
    pub hosts: BTreeMap<String, Ipv4Addr>,
    procs: Vec<Proc>,
}

impl Lab {
    /// Sets up the namespace for the compose project in `compose_dir` (a copy the lab may
    /// rewrite), `routed` host names (to the monitoring VM's address) and the lab's addresses.
    /// Panics outside a namespace made by [`enter`].
    pub fn start(compose_dir: &Path, monitoring_ip: Ipv4Addr, vm_ips: &[Ipv4Addr], routed: &[String]) -> Lab {
        assert_eq!(std::env::var(INSIDE).as_deref(), Ok("1"), "Lab::start runs only inside lab::enter's namespace");
        let work = compose_dir.parent().unwrap().join("lab");
        std::fs::create_dir_all(work.join("logs")).unwrap();
        let compose = Compose::read(compose_dir, &work);
        sh(Command::new("ip").args(["link", "set", "lo", "up"]));
        let mut addrs = vec![monitoring_ip];
        addrs.extend_from_slice(vm_ips);
        addrs.sort();
        addrs.dedup();
        for ip in &addrs {
            sh(Command::new("ip").args(["addr", "add", &format!("{ip}/32"), "dev", "lo"]));
        }
        let mut hosts = BTreeMap::new();
        for (i, name) in compose.networked_services().iter().enumerate() {
            hosts.insert(name.clone(), Ipv4Addr::new(127, 0, 10, 1 + i as u8));
        }
        for name in routed {
            hosts.insert(name.clone(), monitoring_ip);
        }
        let mut text = String::from("127.0.0.1 localhost\n");
        for (name, ip) in &hosts {
            text.push_str(&format!("{ip} {name}\n"));
        }
        let hosts_file = work.join("hosts");
        std::fs::write(&hosts_file, text).unwrap();
        sh(Command::new("mount").arg("--bind").arg(&hosts_file).arg("/etc/hosts"));
        sh(Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/run"]));
        std::fs::create_dir_all("/run/secrets").unwrap();
        let share = Path::new(RUNTIMES).join("usr/share");
        if share.is_dir() {
            sh(Command::new("mount").args(["-t", "overlay", "overlay", "-o"]).arg(format!("lowerdir={}:/usr/share", share.display())).arg("/usr/share"));
        }
        println!("lab: lo up with {addrs:?}; /etc/hosts: {} names; /run is a tmpfs", hosts.len());
        Lab { compose_dir: compose_dir.to_path_buf(), work, compose, hosts, procs: Vec::new() }
    }

    /// The address of a compose service or routed host in the private /etc/hosts.
    pub fn addr(&self, name: &str) -> Ipv4Addr {
        *self.hosts.get(name).unwrap_or_else(|| panic!("{name} is not in the lab's /etc/hosts"))
    }

    /// `http://<name>:<port><path>`.
    pub fn url(&self, name: &str, port: u16, path: &str) -> String {
        format!("http://{name}:{port}{path}")
    }

    /// The compose service's command line with its container paths remapped (see [`Compose`]).
    pub fn command(&self, service: &str) -> Vec<String> {
        self.compose.command(service)
    }

    /// Starts a process, stdout and stderr to `<work>/logs/<name>.log`; killed on drop.
    pub fn spawn(&mut self, name: &str, cmd: &mut Command) {
        let log = self.work.join("logs").join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).spawn().unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        println!("lab: started {name} (pid {})", child.id());
        self.procs.push(Proc { name: name.to_string(), child, log });
    }

    /// Lays the service's compose secrets at /run/secrets/<name> (a tmpfs), mode 0400, owned by
    /// `uid`, as Docker does; their source is [`Compose::secret_source`], which the test writes.
    pub fn install_secrets(&self, service: &str, uid: u32) {
        for name in self.compose.secrets(service) {
            let dest = Path::new("/run/secrets").join(&name);
            std::fs::copy(self.compose.secret_source(&name), &dest).unwrap_or_else(|e| panic!("secret {name}: {e}"));
            std::os::unix::fs::chown(&dest, Some(uid), Some(uid)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o400)).unwrap();
        }
    }

    /// What a started process has logged so far.
    pub fn log(&self, name: &str) -> String {
        let p = self.procs.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} was not started"));
        std::fs::read_to_string(&p.log).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn running(&mut self, name: &str) -> bool {
        let p = self.procs.iter_mut().find(|p| p.name == name).unwrap();
        matches!(p.child.try_wait(), Ok(None))
    }

    /// Waits (bounded, 30 s) until `url` answers `status`; panics with the process's log if not.
    pub fn wait_http(&mut self, name: &str, url: &str, status: u16) {
        let ok = wait_until(Duration::from_secs(30), || {
            if !self.procs.iter_mut().any(|p| p.name == name && matches!(p.child.try_wait(), Ok(None))) {
                return true; // exited: reported below
            }
            curl(&["-o", "/dev/null", "-w", "%{http_code}", url]).0 == status.to_string()
        });
        assert!(ok && self.running(name), "{name}: {url} did not answer {status} within 30 s; log:\n{}", self.log(name));
    }
}

/// `curl -sS --max-time 5 <args>`: (stdout, stderr, success).
pub fn curl(args: &[&str]) -> (String, String, bool) {
    let out = Command::new("curl").args(["-sS", "--max-time", "5"]).args(args).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), out.status.success())
}

/// Runs a setup command; panics with its output when it fails.
fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}
