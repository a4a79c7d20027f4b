//! `lifecycle { ignore_changes = [...] }`: Terraform does not roll out changes to the
//! attributes listed there, so a new digest would sit in the file without effect.

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Body, Structure};

/// The `ignore_changes` list of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreChanges {
    /// `ignore_changes = all`.
    pub all: bool,
    /// Each entry as attribute names (indexes dropped) plus its text for messages.
    pub entries: Vec<(Vec<String>, String)>,
}

impl IgnoreChanges {
    /// Reads the `lifecycle` blocks of a resource body.
    pub fn of(body: &Body) -> IgnoreChanges {
        let mut out = IgnoreChanges::default();
        for structure in body.iter() {
            let Structure::Block(block) = structure else {
                continue;
            };
            if block.ident.as_str() != "lifecycle" {
                continue;
            }
            let Some(attr) = block.body.get_attribute("ignore_changes") else {
                continue;
            };
            match &attr.value {
                Expression::Variable(v) if v.as_str() == "all" => out.all = true,
                Expression::String(s) if s.as_str() == "all" => out.all = true,
                Expression::Array(items) => {
                    for item in items.iter() {
                        if let Some(entry) = entry_of(item) {
                            out.entries.push(entry);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether this list covers the attribute at `path` (names only, outermost first),
    /// and if so an explanation naming the entry and how it matched. Matching is lenient:
    /// the full path, a prefix of it (`container_definitions` covers everything inside
    /// it) or just the last name (`image`) all count.
    pub fn covers(&self, path: &[String]) -> Option<String> {
        if self.all {
            return Some("lifecycle.ignore_changes = all".to_owned());
        }
        for (names, text) in &self.entries {
            if names.as_slice() == path {
                return Some(format!("`{text}` is in lifecycle.ignore_changes"));
            }
            if !names.is_empty() && path.starts_with(names) {
                return Some(format!(
                    "`{text}` is in lifecycle.ignore_changes and contains this attribute"
                ));
            }
            if names.last().is_some() && names.last() == path.last() {
                return Some(format!(
                    "`{text}` is in lifecycle.ignore_changes (matched by its last name `{}`; tf-pin matches leniently)",
                    names.last().map(String::as_str).unwrap_or_default()
                ));
            }
        }
        None
    }
}

fn entry_of(expr: &Expression) -> Option<(Vec<String>, String)> {
    match expr {
        Expression::Variable(v) => Some((vec![v.as_str().to_owned()], v.as_str().to_owned())),
        Expression::String(s) => {
            // Terraform 0.11 syntax: "spec.0.image" or "image".
            let names: Vec<String> = s
                .as_str()
                .split('.')
                .filter(|part| !part.is_empty() && !part.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
                .collect();
            Some((names, s.as_str().to_owned()))
        }
        Expression::Traversal(traversal) => {
            let Expression::Variable(root) = &traversal.expr else {
                return None;
            };
            let mut names = vec![root.as_str().to_owned()];
            let mut text = root.as_str().to_owned();
            for op in &traversal.operators {
                match op.value() {
                    TraversalOperator::GetAttr(ident) => {
                        names.push(ident.as_str().to_owned());
                        text.push('.');
                        text.push_str(ident.as_str());
                    }
                    TraversalOperator::Index(Expression::Number(n)) => {
                        text.push_str(&format!("[{}]", n.value()));
                    }
                    TraversalOperator::Index(Expression::String(s)) => {
                        // A map key (`labels["app"]`): part of the path.
                        names.push(s.as_str().to_owned());
                        text.push_str(&format!("[{:?}]", s.as_str()));
                    }
                    TraversalOperator::LegacyIndex(i) => {
                        text.push_str(&format!(".{}", i.value()));
                    }
                    _ => text.push_str("[…]"),
                }
            }
            Some((names, text))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(lifecycle: &str, path: &str) -> Option<String> {
        let source = format!("lifecycle {{\n  ignore_changes = {lifecycle}\n}}\n");
        let body = hcl_edit::parser::parse_body(&source).unwrap();
        let names: Vec<String> = path.split('.').map(str::to_owned).collect();
        IgnoreChanges::of(&body).covers(&names)
    }

    #[test]
    fn matches_full_paths_prefixes_and_last_names() {
        let table: &[(&str, &str, Option<&str>)] = &[
            ("all", "image", Some("= all")),
            ("[image]", "image", Some("`image` is in")),
            (
                "[spec[0].template[0].spec[0].container[0].image]",
                "spec.template.spec.container.image",
                Some("`spec[0].template[0].spec[0].container[0].image` is in"),
            ),
            (
                "[container_definitions]",
                "container_definitions.image",
                Some("contains this attribute"),
            ),
            (
                "[template.0.containers.0.image]",
                "template.containers.image",
                Some("is in"),
            ),
            (
                "[\"template.0.containers.0.image\"]",
                "template.containers.image",
                Some("is in"),
            ),
            (
                "[spec.container.image]",
                "other.image",
                Some("last name `image`"),
            ),
            ("[tags, labels]", "spec.container.image", None),
            ("[]", "image", None),
        ];
        for (lifecycle, path, expected) in table {
            let got = covers(lifecycle, path);
            match expected {
                None => assert_eq!(got, None, "{lifecycle} / {path}"),
                Some(part) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(part)),
                    "{lifecycle} / {path}: {got:?} lacks {part:?}"
                ),
            }
        }
    }
}
