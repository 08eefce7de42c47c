//! What a tenant's people see of it: a logo, a primary colour and where to get help. Applied to
//! the sign-in, consent, second-factor, recovery and account pages.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// The largest logo accepted, in bytes.
pub const LOGO_MAX_BYTES: usize = 100 * 1024;

/// WCAG 2.1 AA: normal text needs a contrast ratio of at least 4.5:1.
pub const AA_CONTRAST: f64 = 4.5;

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

/// A colour as `#rrggbb` (lower case), from `#rgb` or `#rrggbb`.
pub fn parse_colour(raw: &str) -> Result<String, Invalid> {
    let hex = raw.trim().trim_start_matches('#');
    let full = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect::<String>(),
        6 => hex.to_owned(),
        _ => String::new(),
    };
    if full.len() == 6 && full.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("#{}", full.to_ascii_lowercase()))
    } else {
        Err(Invalid::new(
            "A colour is written like #2446b8 (six hexadecimal digits).",
        ))
    }
}

/// WCAG 2.1 relative luminance of a `#rrggbb` colour.
fn luminance(colour: &str) -> f64 {
    let channel = |i: usize| {
        let v = u8::from_str_radix(&colour[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0) as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

/// WCAG 2.1 contrast ratio between two `#rrggbb` colours (1 to 21).
pub fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The text colour for buttons of `primary`: white or near-black, whichever reads better.
pub fn text_on(primary: &str) -> &'static str {
    if contrast(primary, "#ffffff") >= contrast(primary, "#111111") {
        "#ffffff"
    } else {
        "#111111"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_contrast() {
        assert_eq!(parse_colour("#ABC").unwrap(), "#aabbcc");
        assert_eq!(parse_colour("2446B8").unwrap(), "#2446b8");
        for bad in ["", "#12", "#gggggg", "red", "#1234567", "url(x)"] {
            assert!(parse_colour(bad).is_err(), "{bad}");
        }
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 0.01);
        assert!(contrast("#2446b8", "#ffffff") >= AA_CONTRAST);
        assert!(contrast("#ffeb3b", "#ffffff") < AA_CONTRAST);
        assert_eq!(text_on("#ffeb3b"), "#111111");
        assert_eq!(text_on("#2446b8"), "#ffffff");
    }

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
