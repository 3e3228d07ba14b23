//! Colours of tags and types: a small swatch drawn next to the name in the page's normal text
//! colour, so the text's contrast never depends on the colour (WCAG AA holds for any colour), and
//! the colour picker's value.
//!
//! hawkBit stores a colour as free text of at most 16 characters (`#2c9720`, `rgb(200,0,80)`, ...).
//! The page's Content-Security-Policy forbids inline styles, so the swatch is an inline SVG whose
//! `fill` is a presentation attribute; only colours parsed here are drawn, nothing else reaches it.

use maud::{Markup, html};

/// `#rgb`, `#rrggbb` or `rgb(r, g, b)` as its red, green and blue; `None` for anything else.
pub fn parse(colour: &str) -> Option<[u8; 3]> {
    let c = colour.trim().to_ascii_lowercase();
    if let Some(hex) = c.strip_prefix('#') {
        let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        return match hex.len() {
            3 => Some([digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17]),
            6 => Some([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?]),
            _ => None,
        };
    }
    let inner = c.strip_prefix("rgb(")?.strip_suffix(')')?;
    let parts: Vec<u8> = inner
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    <[u8; 3]>::try_from(parts).ok()
}

/// The colour as `#rrggbb`, what `<input type=color>` shows and sends.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The swatch alone (decorative: the name beside it says what it is). Its outline keeps a white
/// or pale colour visible on the white page.
pub fn swatch(colour: Option<&str>) -> Markup {
    let Some(rgb) = colour.and_then(parse) else {
        return html! {};
    };
    html! {
        svg.swatch width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" focusable="false" {
            rect x="0.5" y="0.5" width="11" height="11" rx="2" fill=(hex(rgb)) stroke="#5b6470";
        }
    }
}

/// A tag or type: its swatch, then its name in the normal text colour.
pub fn named(name: &str, colour: Option<&str>) -> Markup {
    html! { span.tag { (swatch(colour)) (name) } }
}

/// The picker's starting value: the stored colour as `#rrggbb`, or `default`.
pub fn picker_value(colour: Option<&str>, default: &str) -> String {
    colour.and_then(parse).map_or_else(|| default.to_owned(), hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG 2's relative luminance of an sRGB colour, 0 (black) to 1 (white).
    fn luminance(rgb: [u8; 3]) -> f64 {
        let channel = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.039_28 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2])
    }

    /// WCAG 2's contrast ratio of two colours, 1 to 21.
    fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn hawkbit_colour_forms_parse() {
        assert_eq!(parse("#2c9720"), Some([0x2c, 0x97, 0x20]));
        assert_eq!(parse("#FFF"), Some([255, 255, 255]));
        assert_eq!(parse(" rgb(200, 0, 80) "), Some([200, 0, 80]));
        assert_eq!(parse("rgb(300,0,0)"), None);
        assert_eq!(parse("red"), None);
        assert_eq!(parse("#12345"), None);
        assert_eq!(parse("\"><script>"), None);
        assert_eq!(hex([200, 0, 80]), "#c80050");
    }

    #[test]
    fn the_name_beside_any_swatch_passes_wcag_aa() {
        // The name is drawn in the page's text colour on the card's white, whatever the colour.
        let text = [0x1b, 0x1f, 0x24];
        assert!(contrast(text, [255, 255, 255]) >= 4.5);
        // The outline tells a white swatch from the white card (3:1 for graphics).
        assert!(contrast([0x5b, 0x64, 0x70], [255, 255, 255]) >= 3.0);
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn only_parsed_colours_reach_the_markup() {
        assert_eq!(swatch(Some("url(javascript:x)")).into_string(), "");
        let s = swatch(Some("rgb(1,2,3)")).into_string();
        assert!(s.contains("fill=\"#010203\""), "{s}");
    }
}
