//! What a tenant's people see of it: a logo, a primary colour and where to get help. Applied to
//! the sign-in, consent, second-factor, recovery and account pages.

use super::colour::parse_colour;
use super::{one_line, Email, Invalid};
use serde::{Deserialize, Serialize};
use url::Url;

/// The largest logo accepted, in bytes.
pub const LOGO_MAX_BYTES: usize = 100 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    /// `#rrggbb`; buttons and links use it.
    pub primary_colour: Option<String>,
    pub support_url: Option<String>,
    pub support_email: Option<String>,
    pub logo: Option<Logo>,
}

/// An uploaded raster image, checked by its content, not by its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logo {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// The image, base64.
    pub data: String,
    /// Changes with every upload, so caches never show an old logo.
    pub version: String,
}

/// The organisation's name as its pages show it.
pub fn check_display_name(raw: &str) -> Result<String, Invalid> {
    match one_line(raw, 100) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(Invalid::new("The display name is 1 to 100 characters on one line.").on("name")),
    }
}

/// The buttons' colour, or the default when empty.
pub fn check_primary_colour(raw: &str) -> Result<Option<String>, Invalid> {
    optional(raw, |raw| {
        parse_colour(raw).map_err(|e| e.on("primary_colour"))
    })
}

/// Where people get help: an https page, or nothing.
pub fn check_support_url(raw: &str) -> Result<Option<String>, Invalid> {
    optional(raw, |raw| match Url::parse(raw) {
        Ok(u) if u.scheme() == "https" && raw.len() <= 2000 => Ok(raw.to_owned()),
        _ => Err(Invalid::new("The support link is an https:// address.").on("support_url")),
    })
}

/// Where people write for help, or nothing.
pub fn check_support_email(raw: &str) -> Result<Option<String>, Invalid> {
    optional(raw, |raw| match Email::parse(raw) {
        Ok(email) => Ok(email.to_string()),
        Err(e) => Err(e.on("support_email")),
    })
}

/// Empty means "none"; anything else must pass `rule`.
fn optional(
    raw: &str,
    rule: impl Fn(&str) -> Result<String, Invalid>,
) -> Result<Option<String>, Invalid> {
    match raw.trim() {
        "" => Ok(None),
        raw => rule(raw).map(Some),
    }
}

/// The image type of `bytes` by their signature; SVG (which can carry script) and everything
/// else is refused.
pub fn sniff_image(bytes: &[u8]) -> Result<&'static str, Invalid> {
    if bytes.len() > LOGO_MAX_BYTES {
        return Err(Invalid::new(format!(
            "The logo is at most {} KB.",
            LOGO_MAX_BYTES / 1024
        )));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(Invalid::new(
            "The logo must be a PNG, JPEG or WebP image (SVG is not accepted: it can carry script).",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_sniffed() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest").unwrap(), "image/png");
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), "image/webp");
        assert!(sniff_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>").is_err());
        assert!(sniff_image(b"GIF89a").is_err());
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(LOGO_MAX_BYTES + 1, 0);
        assert!(sniff_image(&big).is_err());
    }
}
