//! Cross-file facts, applied after every file is scanned: where the literal behind a
//! `var.x` / `local.x` lives, and which variables and locals feed VM resources (their
//! values are VM images, not container images, however they look).
//!
//! Terraform modules are directories, so `var.x` and `local.x` are looked up among the
//! files of the same directory; `.tfvars` values are matched by name in any directory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::scan::{DefinitionKind, Origin, Scan, SkipKind, Skipped, SymbolKind, SymbolUse, Target};

/// One scanned file.
#[derive(Debug, Clone)]
pub struct ScannedFile {
    /// The file as shown in reports.
    pub display: PathBuf,
    /// What its scan found.
    pub scan: Scan,
}

struct Place {
    file: PathBuf,
    line: usize,
    literal: bool,
}

impl Place {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

fn directory(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Adds definition pointers to skips and turns VM-fed variable/local targets into skips.
pub fn link(files: &mut [ScannedFile]) {
    let mut definitions: HashMap<(PathBuf, DefinitionKind, String), Vec<Place>> = HashMap::new();
    let mut tfvars: HashMap<String, Vec<Place>> = HashMap::new();
    let mut vm_uses: HashSet<(PathBuf, SymbolUse)> = HashSet::new();
    let mut vm_vars_anywhere: HashSet<String> = HashSet::new();
    for file in files.iter() {
        let dir = directory(&file.display);
        for definition in &file.scan.definitions {
            let place = Place {
                file: file.display.clone(),
                line: definition.line,
                literal: definition.literal,
            };
            if definition.kind == DefinitionKind::TfvarsValue {
                tfvars
                    .entry(definition.name.clone())
                    .or_default()
                    .push(place);
            } else {
                definitions
                    .entry((dir.clone(), definition.kind, definition.name.clone()))
                    .or_default()
                    .push(place);
            }
        }
        for symbol in &file.scan.vm_uses {
            if symbol.kind == SymbolKind::Var {
                vm_vars_anywhere.insert(symbol.name.clone());
            }
            vm_uses.insert((dir.clone(), symbol.clone()));
        }
    }

    for file in files.iter_mut() {
        let dir = directory(&file.display);
        for skipped in &mut file.scan.skipped {
            let Some(symbol) = &skipped.uses else {
                continue;
            };
            let pointer = pointer(&dir, symbol, &definitions, &tfvars);
            skipped.reason.push_str("; ");
            skipped.reason.push_str(&pointer);
        }
        let targets = std::mem::take(&mut file.scan.targets);
        for target in targets {
            let symbol = match &target.origin {
                Origin::VariableDefault(name) => Some((SymbolKind::Var, name, false)),
                Origin::LocalValue(name) => Some((SymbolKind::Local, name, false)),
                Origin::TfvarsValue(name) => Some((SymbolKind::Var, name, true)),
                _ => None,
            };
            let feeds_vm = symbol.is_some_and(|(kind, name, anywhere)| {
                if anywhere {
                    vm_vars_anywhere.contains(name)
                } else {
                    vm_uses.contains(&(
                        dir.clone(),
                        SymbolUse {
                            kind,
                            name: name.clone(),
                        },
                    ))
                }
            });
            if feeds_vm {
                file.scan.skipped.push(vm_fed(&target));
            } else {
                file.scan.targets.push(target);
            }
        }
        file.scan
            .skipped
            .sort_by_key(|skipped| (skipped.line, skipped.column));
    }
}

fn vm_fed(target: &Target) -> Skipped {
    let address = match &target.origin {
        Origin::LocalValue(name) => format!("local.{name}"),
        Origin::VariableDefault(name) | Origin::TfvarsValue(name) => format!("var.{name}"),
        _ => target.context.clone(),
    };
    Skipped {
        line: target.line,
        column: target.column,
        context: target.context.clone(),
        path: target.path.clone(),
        value: format!("\"{}\"", super::literal::encode(&target.value)),
        kind: SkipKind::VmImage,
        reason: format!(
            "{address} is used as the image of a virtual-machine resource, so this is a VM image, not a container image"
        ),
        notable: false,
        uses: None,
    }
}

fn pointer(
    dir: &Path,
    symbol: &SymbolUse,
    definitions: &HashMap<(PathBuf, DefinitionKind, String), Vec<Place>>,
    tfvars: &HashMap<String, Vec<Place>>,
) -> String {
    let kind = match symbol.kind {
        SymbolKind::Var => DefinitionKind::Variable,
        SymbolKind::Local => DefinitionKind::Local,
    };
    let key = (dir.to_path_buf(), kind, symbol.name.clone());
    let places = definitions.get(&key).map(Vec::as_slice).unwrap_or_default();
    let mut parts = Vec::new();
    match (symbol.kind, places.first()) {
        (SymbolKind::Var, Some(place)) if place.literal => {
            parts.push(format!("its default is at {}", place.at()));
        }
        (SymbolKind::Var, Some(place)) => parts.push(format!(
            "it is declared at {} without a literal default",
            place.at()
        )),
        (SymbolKind::Local, Some(place)) if place.literal => {
            parts.push(format!("its value is at {}", place.at()));
        }
        (SymbolKind::Local, Some(place)) => parts.push(format!(
            "it is defined at {} (not a plain literal)",
            place.at()
        )),
        (SymbolKind::Var, None) => parts.push(format!(
            "no `variable \"{}\"` in the scanned files of this directory",
            symbol.name
        )),
        (SymbolKind::Local, None) => parts.push(format!(
            "no local `{}` in the scanned files of this directory",
            symbol.name
        )),
    }
    if symbol.kind == SymbolKind::Var {
        if let Some(values) = tfvars.get(&symbol.name) {
            let listed: Vec<String> = values.iter().take(3).map(Place::at).collect();
            let more = values.len().saturating_sub(listed.len());
            let mut text = format!("it is set in {}", listed.join(", "));
            if more > 0 {
                text.push_str(&format!(" and {more} more"));
            }
            parts.push(text);
        }
    }
    parts.join("; ")
}
