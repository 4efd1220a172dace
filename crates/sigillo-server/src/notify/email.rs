//! Email senders: the dev console, or SMTP through lettre.

use crate::config::{Email as EmailConfig, SmtpTls};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

#[derive(Clone, Debug)]
pub enum EmailSender {
    Console,
    Smtp(Box<Smtp>),
}

#[derive(Clone, Debug)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailSender {
    pub fn smtp(cfg: &EmailConfig, password: Option<String>) -> anyhow::Result<Self> {
        let mut builder = match cfg.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.smtp_host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.smtp_host)?,
        }
        .port(cfg.smtp_port)
        .timeout(Some(std::time::Duration::from_secs(15)));
        if let (Some(user), Some(pass)) = (&cfg.smtp_username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass));
        }
        Ok(Self::Smtp(Box::new(Smtp { transport: builder.build(), from: cfg.from.parse()? })))
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        match self {
            Self::Console => {
                println!("\n┌─ Email to {to}: {subject}\n{body}└─");
                Ok(())
            }
            Self::Smtp(smtp) => {
                let Smtp { transport, from } = smtp.as_ref();
                let to: Mailbox = to.parse().map_err(|_| "invalid recipient address".to_owned())?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body.to_owned())
                    .map_err(|e| format!("building the message: {e}"))?;
                transport.send(message).await.map(|_| ()).map_err(|e| format!("smtp: {e}"))
            }
        }
    }
}
