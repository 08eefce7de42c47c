//! Colours and their contrast (WCAG 2.1). Plain Rust without dependencies, so the same rules
//! run in the browser (instant feedback on the branding page) and on the server (which decides).

use super::Invalid;

/// WCAG 2.1 AA: normal text needs a contrast ratio of at least 4.5:1.
pub const AA_CONTRAST: f64 = 4.5;

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

/// Why button text on `colour` would be hard to read, if it is below WCAG AA.
pub fn contrast_warning(colour: &str) -> Option<String> {
    let ratio = contrast(colour, text_on(colour));
    (ratio < AA_CONTRAST).then(|| {
        format!("Button text on {colour} has a contrast of {ratio:.1}:1, below the 4.5:1 that WCAG AA asks for: some people will not be able to read it. Choose a darker or lighter colour.")
    })
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
        assert!(contrast_warning("#2446b8").is_none());
        assert!(
            contrast_warning("#ffeb3b").is_none(),
            "dark text reads well on yellow"
        );
        assert!(
            contrast_warning("#777777").is_some(),
            "mid grey suits neither"
        );
    }
}
