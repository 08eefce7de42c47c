//! A SAML 2.0 identity provider on loopback for the SAML tests: `tests/saml_idp.py`, built on
//! pysaml2 (from PyPI, installed by `scripts/services.sh` into `.venv-services/`), which signs
//! with the `xmlsec1` tool. It answers valid responses and, on request, forged or faulty ones.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct SamlIdp {
    child: Child,
    /// Where it listens, e.g. `http://127.0.0.1:40123`.
    pub base: String,
}

impl SamlIdp {
    // The child is waited for in `Drop`, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    pub fn start() -> Self {
        let python = super::services_python();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/saml_idp.py");
        let mut child = Command::new(&python)
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the SAML IdP with {} ({e}); run scripts/services.sh",
                    python.display()
                )
            });
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its output");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the IdP says where it listens");
        let base = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the SAML IdP did not start: {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// Its metadata, which an admin pastes into the console.
    pub async fn metadata(&self) -> String {
        let url = format!("{}/metadata", self.base);
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    }

    /// Registers a service provider by its metadata, as an IdP admin would.
    pub async fn register(&self, sp_metadata: &str) {
        let answer = reqwest::Client::new()
            .post(format!("{}/sp", self.base))
            .header("content-type", "application/xml")
            .body(sp_metadata.to_owned())
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap()
        );
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
