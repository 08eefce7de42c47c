//! What a tenant's people see of it: a logo, a primary colour and where to get help. Applied to
//! the sign-in, consent, second-factor, recovery and account pages.

use super::Invalid;
use serde::{Deserialize, Serialize};

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
