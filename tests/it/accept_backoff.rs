//! Out of file descriptors, the accept loop backs off with a log line instead of spinning on
//! the failing `accept(2)`, and serves again once descriptors are free (issue 2).

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{get, Serveur, WAIT};

/// CPU time (user + system, in clock ticks) the process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // The fields after the command name (which is in parentheses and may hold spaces).
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5), so 11 and 12 after the state field.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn out_of_file_descriptors_backs_off_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "ok").expect("write");
    let mut command = Command::new("bash");
    // The default connection limit follows the descriptors (it would be 1 here, and the server
    // would never run out); a limit set above them is what runs out.
    command.arg("-c").arg(format!(
        "ulimit -n 48 && exec {} --max-connections 1000 -b 127.0.0.1 -d {} 0",
        env!("CARGO_BIN_EXE_serveur"),
        dir.path().display()
    ));
    let server = Serveur::spawn(command);

    // Far more connections than descriptors: the kernel queues them, accept(2) fails EMFILE.
    let held: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    server.wait_for_log("accept failed");

    // While starved, the server must not spin: a busy loop on accept would use a whole core.
    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(server.pid()) - before;
    assert!(
        used < 50,
        "the server used {used} ticks of CPU in one second while out of file descriptors"
    );

    drop(held);
    let deadline = Instant::now() + WAIT;
    loop {
        // The queue drains as connections are accepted and closed; then a new one is served.
        if std::panic::catch_unwind(|| get(server.addr, "/a.txt").status).ok() == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never served again after the descriptors came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
