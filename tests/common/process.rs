//! `tessera serve` as a separate process of its own, as operators run it: for tests of several
//! processes on one store, and of what survives a process that is killed.

use reqwest::StatusCode;
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A server process, stopped when dropped.
pub struct Process {
    pub child: Child,
    pub base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn spawn(vars: &HashMap<&str, String>, public_url: &str) -> Process {
    spawn_logging(vars, public_url, Stdio::null())
}

/// [`spawn`], its log (standard error) going to `log`.
pub fn spawn_logging(vars: &HashMap<&str, String>, public_url: &str, log: Stdio) -> Process {
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("TESSERA_LISTEN", &listen)
        .env("TESSERA_PUBLIC_URL", public_url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("tessera serve starts");
    Process {
        child,
        base: format!("http://{listen}"),
    }
}

pub async fn wait_until_ready(process: &mut Process) {
    let http = reqwest::Client::new();
    for _ in 0..150 {
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!("{} exited early: {status}", process.base);
        }
        if let Ok(r) = http.get(format!("{}/readyz", process.base)).send().await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not become ready", process.base);
}
