//! Outgoing email: one-time codes, recovery links and security notices. Sent over SMTP, or in
//! development written as `.eml` files into a folder. Messages go out in the background, so a
//! slow mail server neither delays a page nor reveals (by timing) whether an account exists.

use crate::config::{MailConfig, SmtpTls};
use crate::domain::Email;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Where development mail goes; `None` with SMTP.
    folder: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP_HOST {0:?} cannot be used: {1}")]
    Smtp(String, String),
    #[error("cannot create the development mail folder {0}: {1}")]
    Folder(String, std::io::Error),
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let (transport, from, folder) = match config {
            MailConfig::Smtp {
                host,
                port,
                tls,
                credentials,
                from,
            } => {
                let builder = match tls {
                    SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
                    SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
                    SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                        host,
                    )),
                }
                .map_err(|e| MailError::Smtp(host.clone(), e.to_string()))?;
                let mut builder = builder
                    .port(*port)
                    .timeout(Some(std::time::Duration::from_secs(15)));
                if let Some((user, password)) = credentials {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                (Transport::Smtp(builder.build()), from, None)
            }
            MailConfig::Folder { path, from } => {
                std::fs::create_dir_all(path)
                    .map_err(|e| MailError::Folder(path.display().to_string(), e))?;
                (
                    Transport::Folder(AsyncFileTransport::new(path)),
                    from,
                    Some(path.clone()),
                )
            }
        };
        Ok(Self {
            transport,
            from: from
                .parse()
                .expect("SMTP_FROM was checked with the configuration"),
            folder,
        })
    }

    /// The development mail folder, when mail is not really sent.
    pub fn dev_folder(&self) -> Option<&PathBuf> {
        self.folder.as_ref()
    }

    /// Queues a plain-text message; a failure is logged (with `purpose`, never the content).
    pub fn send(&self, to: &Email, subject: &str, body: String, purpose: &'static str) {
        let message = match to.as_str().parse::<Mailbox>().map(|to| {
            Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body)
        }) {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => return tracing::error!(purpose, error = %e, "cannot build email"),
            Err(e) => return tracing::error!(purpose, error = %e, "cannot address email"),
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            let sent = match &transport {
                Transport::Smtp(smtp) => smtp
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Transport::Folder(folder) => folder
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match sent {
                Ok(()) => tracing::info!(purpose, "email sent"),
                Err(e) => tracing::error!(purpose, error = %e, "email could not be sent"),
            }
        });
    }
}
