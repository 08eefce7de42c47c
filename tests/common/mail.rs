//! A real SMTP server on loopback for the tests that send mail: aiosmtpd (from PyPI, installed
//! by `scripts/services.sh` into `.venv-services/`) writing every message into a Maildir.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct MailSink {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl MailSink {
    // The child is waited for in `Drop`, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        let python = super::services_python();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start aiosmtpd with {} ({e}); run scripts/services.sh",
                    python.display()
                )
            });
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self { child, dir, port };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not listen on 127.0.0.1:{port}");
    }

    /// Settings that send Tessera's mail here.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SMTP_HOST", "127.0.0.1".into()),
            ("SMTP_PORT", self.port.to_string()),
            ("SMTP_TLS", "none".into()),
            ("SMTP_FROM", "Tessera Test <id@example.com>".into()),
        ]
    }

    /// Every message delivered so far to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let mut files: Vec<_> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|m| decode(&m))
            .filter(|m| {
                m.lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to))
            })
            .collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` messages; returns the newest.
    pub async fn wait_for(&self, to: &str, count: usize) -> String {
        for _ in 0..100 {
            let messages = self.messages_to(to);
            if messages.len() >= count {
                return messages.last().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{to} did not receive message #{count}; has {:?}",
            self.messages_to(to)
        );
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The message as a mail client shows it: a quoted-printable body (RFC 2045 §6.7) decoded.
fn decode(message: &str) -> String {
    let message = message.replace("\r\n", "\n");
    if !message
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return message;
    }
    let joined = message.replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The six-digit code in a message.
pub fn code_in(message: &str) -> String {
    let at = message
        .find("Your code is: ")
        .expect("a code in the message")
        + 14;
    message[at..at + 6].to_string()
}

/// The first link in a message.
pub fn link_in(message: &str) -> String {
    let at = message.find("http").expect("a link in the message");
    message[at..].split_whitespace().next().unwrap().to_string()
}
