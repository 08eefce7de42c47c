//! The filters of RFC 7644 §3.4.2.2 that provisioning clients send: `attribute op value` with
//! `eq`, `co` or `sw`, joined by `and`. Attribute names and operators ignore case; string
//! values compare ignoring case (as `caseExact: false` attributes do).

use super::ScimError;
use axum::http::StatusCode;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equal,
    Contains,
    StartsWith,
}

#[derive(Debug, PartialEq)]
pub struct Comparison {
    /// Lower case, e.g. `username` or `emails.value`.
    pub attribute: String,
    pub operator: Operator,
    pub value: Value,
}

/// Every comparison must hold.
#[derive(Debug, Default, PartialEq)]
pub struct Filter(pub Vec<Comparison>);

impl Filter {
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        if raw.len() > 1000 {
            return Err(invalid("A filter is at most 1000 characters."));
        }
        let mut rest = raw.trim();
        let mut comparisons = Vec::new();
        loop {
            let (comparison, after) = comparison(rest)?;
            comparisons.push(comparison);
            let after = after.trim_start();
            if after.is_empty() {
                return Ok(Self(comparisons));
            }
            rest = match after.split_once(char::is_whitespace) {
                Some((and, more)) if and.eq_ignore_ascii_case("and") => more.trim_start(),
                _ => {
                    return Err(invalid(
                        "Filters here join comparisons with and (or, not and groups are not supported).",
                    ))
                }
            };
        }
    }

    /// Whether a resource whose attributes `values` gives (by lower-case name, each with its
    /// values) passes.
    pub fn matches(&self, values: impl Fn(&str) -> Vec<Value>) -> bool {
        self.0.iter().all(|c| {
            values(&c.attribute)
                .iter()
                .any(|v| compare(v, c.operator, &c.value))
        })
    }

    /// A text every match contains (from an `eq`, `co` or `sw` of a string), to narrow a
    /// search in the store before the exact comparison.
    pub fn text(&self, attributes: &[&str]) -> Option<String> {
        self.0
            .iter()
            .filter(|c| attributes.contains(&c.attribute.as_str()))
            .find_map(|c| c.value.as_str().map(str::to_owned))
    }
}

fn compare(actual: &Value, operator: Operator, wanted: &Value) -> bool {
    match (actual, wanted) {
        (Value::String(actual), Value::String(wanted)) => {
            let (actual, wanted) = (actual.to_lowercase(), wanted.to_lowercase());
            match operator {
                Operator::Equal => actual == wanted,
                Operator::Contains => actual.contains(&wanted),
                Operator::StartsWith => actual.starts_with(&wanted),
            }
        }
        (actual, wanted) => operator == Operator::Equal && actual == wanted,
    }
}

fn invalid(detail: &str) -> ScimError {
    ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
}

/// One `attribute op value` at the start of `raw`, and what follows it.
fn comparison(raw: &str) -> Result<(Comparison, &str), ScimError> {
    let (attribute, rest) = raw.split_once(char::is_whitespace).ok_or_else(|| {
        invalid("A filter is attribute, operator and value, e.g. userName eq \"a@example.com\".")
    })?;
    let valid_name = !attribute.is_empty()
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '$' | ':'));
    if !valid_name {
        return Err(invalid("That attribute name is not one a filter can use."));
    }
    let rest = rest.trim_start();
    let (operator, rest) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| invalid("The comparison needs a value."))?;
    let operator = match operator.to_ascii_lowercase().as_str() {
        "eq" => Operator::Equal,
        "co" => Operator::Contains,
        "sw" => Operator::StartsWith,
        _ => return Err(invalid("The operators here are eq, co and sw.")),
    };
    let rest = rest.trim_start();
    let (value, rest) = if rest.starts_with('"') {
        // A JSON string: its escapes are JSON's (RFC 7644 §3.4.2.2).
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = match stream.next() {
            Some(Ok(value @ Value::String(_))) => value,
            _ => return Err(invalid("The value is not a valid JSON string.")),
        };
        (value, &rest[stream.byte_offset()..])
    } else {
        let (word, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let value = match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => return Err(invalid("A value is a quoted string, true, false or null.")),
        };
        (value, rest)
    };
    if operator != Operator::Equal && !value.is_string() {
        return Err(invalid("co and sw compare strings."));
    }
    let comparison = Comparison {
        attribute: attribute.to_ascii_lowercase(),
        operator,
        value,
    };
    Ok((comparison, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_comparisons_provisioning_clients_send() {
        let filter = Filter::parse(r#"userName eq "Alice@Example.com""#).unwrap();
        assert_eq!(filter.0[0].attribute, "username");
        assert_eq!(filter.0[0].operator, Operator::Equal);
        let values = |name: &str| match name {
            "username" => vec![json!("alice@example.com")],
            "active" => vec![json!(true)],
            _ => vec![],
        };
        assert!(filter.matches(values), "strings compare ignoring case");
        let both = Filter::parse(r#"userName SW "ali" AND active eq true"#).unwrap();
        assert_eq!(both.0.len(), 2);
        assert!(both.matches(values));
        assert!(!Filter::parse(r#"userName co "bob""#)
            .unwrap()
            .matches(values));
        assert!(!Filter::parse("active eq false").unwrap().matches(values));
        let escaped = Filter::parse(r#"displayName eq "a \"quoted\" name""#).unwrap();
        assert_eq!(escaped.0[0].value, json!("a \"quoted\" name"));
        assert_eq!(
            Filter::parse(r#"emails.value co "@example.com""#)
                .unwrap()
                .text(&["emails.value"]),
            Some("@example.com".into())
        );
    }

    #[test]
    fn refuses_what_it_cannot_evaluate() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName gt "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"(userName eq "a")"#,
            r#"userName eq "unterminated"#,
            "userName eq bare",
            "active co true",
            r#"name[givenName eq "x"] eq "y""#,
        ] {
            let refused = Filter::parse(bad).unwrap_err();
            assert_eq!(refused.scim_type, Some("invalidFilter"), "{bad:?}");
        }
    }
}
