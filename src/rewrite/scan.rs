//! Finding image references in one source text: parse with hcl-edit, walk the tree with
//! spans, and sort every image slot into a [`Target`] (a plain literal holding a valid
//! reference) or a [`Skipped`] entry with its reason.
//!
//! Spans: hcl-edit's `Span` of a string-literal expression covers the literal *with* its
//! quotes and without surrounding whitespace or comments (its decor). Spans are byte
//! offsets into the parsed text; [`Target::literal`] and [`Target::content`] are offsets
//! into the original file (BOM included).

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::template::{Element, Template};
use serde::Serialize;

use super::comments;
use super::error::SourceError;
use super::lifecycle::IgnoreChanges;
use super::literal;
use super::rules;
use super::source::Source;
use crate::reference::Reference;

/// The attribute name that always holds a container image.
pub const IMAGE: &str = "image";

/// What kind of Terraform file a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A `.tf` configuration file.
    Terraform,
    /// A `.tfvars` variable-definitions file.
    Tfvars,
}

impl FileKind {
    /// The kind a file name implies; `None` for anything but `.tf` and `.tfvars`.
    pub fn of_path(path: &Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".tfvars") {
            Some(FileKind::Tfvars)
        } else if name.ends_with(".tf") {
            Some(FileKind::Terraform)
        } else {
            None
        }
    }
}

/// What to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Attribute and object-key names that hold images besides `image`
    /// (e.g. `container_image`).
    pub extra_attributes: Vec<String>,
}

impl ScanOptions {
    /// Whether an attribute or object key with this name holds an image.
    pub fn is_image_attribute(&self, name: &str) -> bool {
        name == IMAGE || self.extra_attributes.iter().any(|extra| extra == name)
    }
}

/// Where a target's literal sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "name")]
pub enum Origin {
    /// An image attribute of a block.
    Attribute,
    /// An image key of an object expression (`jsonencode({image = …})`, locals, maps).
    ObjectKey,
    /// The `name` of `resource "docker_image"` / `data "docker_registry_image"`.
    DockerImageName,
    /// The default of a `variable` whose name contains `image`.
    VariableDefault(String),
    /// A local value whose name contains `image`.
    LocalValue(String),
    /// A `.tfvars` value whose name contains `image`.
    TfvarsValue(String),
}

/// A symbol an image slot refers to instead of holding a literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SymbolUse {
    /// `var` or `local`.
    pub kind: SymbolKind,
    /// The variable or local name.
    pub name: String,
}

/// The namespaces tf-pin follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SymbolKind {
    /// `var.NAME`.
    Var,
    /// `local.NAME`.
    Local,
}

impl SymbolUse {
    /// `var.NAME` / `local.NAME`.
    pub fn address(&self) -> String {
        match self.kind {
            SymbolKind::Var => format!("var.{}", self.name),
            SymbolKind::Local => format!("local.{}", self.name),
        }
    }
}

/// A definition other files may point to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// What defines the symbol: a `variable` block, a `locals` entry or a `.tfvars` value.
    pub kind: DefinitionKind,
    /// The symbol name.
    pub name: String,
    /// One-based line of the value (the `default`, the local, the tfvars entry), or of the
    /// `variable` block when it has no default.
    pub line: usize,
    /// Whether the value there is a plain string literal.
    pub literal: bool,
}

/// Kinds of [`Definition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefinitionKind {
    /// `variable "NAME" { default = … }`.
    Variable,
    /// `locals { NAME = … }`.
    Local,
    /// `NAME = …` in a `.tfvars` file.
    TfvarsValue,
}

/// A literal that holds an image reference and may be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// File byte range of the literal including its quotes.
    pub literal: Range<usize>,
    /// File byte range between the quotes: the only bytes an edit may change.
    pub content: Range<usize>,
    /// One-based line of the opening quote.
    pub line: usize,
    /// One-based column (characters) of the opening quote.
    pub column: usize,
    /// The enclosing block as a Terraform address (`kubernetes_deployment.app`, `locals`).
    pub context: String,
    /// Path of the slot inside the block (`spec.template.spec.container.image`).
    pub path: String,
    /// Names of [`Target::path`] without indexes (for `ignore_changes` matching).
    pub path_names: Vec<String>,
    /// What kind of slot this is.
    pub origin: Origin,
    /// The decoded value.
    pub value: String,
    /// The parsed reference.
    pub reference: Reference,
    /// Set when the resource's `lifecycle.ignore_changes` covers this attribute.
    pub lifecycle: Option<String>,
}

/// Why an image slot is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// A `tf-pin:ignore` comment.
    Ignored,
    /// A VM-image attribute of a VM resource.
    VmImage,
    /// Not a plain literal (interpolation, reference, function call, conditional, …).
    NotLiteral,
    /// Inside a heredoc.
    Heredoc,
    /// A literal that is not a valid image reference.
    Invalid,
    /// A literal under an image-ish name that does not look like a full reference.
    NotFullReference,
}

/// An image slot left alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// One-based line.
    pub line: usize,
    /// One-based column.
    pub column: usize,
    /// The enclosing block as a Terraform address.
    pub context: String,
    /// Path of the slot inside the block.
    pub path: String,
    /// The value as written (first line, shortened).
    pub value: String,
    /// Category of the reason.
    pub kind: SkipKind,
    /// Human explanation.
    pub reason: String,
    /// Whether the default text report shows it (intentional skips are verbose-only).
    pub notable: bool,
    /// The symbol used instead of a literal, for pointing at its definition.
    pub uses: Option<SymbolUse>,
}

/// Everything found in one source text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Literals to plan, in source order.
    pub targets: Vec<Target>,
    /// Image slots left alone, in source order.
    pub skipped: Vec<Skipped>,
    /// Variables, locals and tfvars values defined here.
    pub definitions: Vec<Definition>,
    /// Symbols used as the image of a VM resource (their literals are VM images too).
    pub vm_uses: Vec<SymbolUse>,
}

/// Scans one file's bytes. Fails only when the whole file is unusable (encoding, parse
/// error, duplicate keys); anything odd about a single slot becomes a [`Skipped`].
pub fn scan_source(
    bytes: &[u8],
    kind: FileKind,
    options: &ScanOptions,
) -> Result<Scan, SourceError> {
    let source = Source::new(bytes)?;
    let body = parse(&source)?;
    let mut walker = Walker {
        source: &source,
        options,
        scan: Scan::default(),
    };
    walker.top_level(&body, kind);
    Ok(walker.scan)
}

/// Environment variable: how many seconds hcl-edit may take to parse one file (default
/// 30, [`DEFAULT_PARSE_TIMEOUT`]). Read once per process.
pub const PARSE_TIMEOUT_VAR: &str = "TF_PIN_PARSE_TIMEOUT";
/// How long hcl-edit may take to parse one file unless [`PARSE_TIMEOUT_VAR`] says otherwise.
/// A 16 MiB file parses in about a second.
pub const DEFAULT_PARSE_TIMEOUT: Duration = Duration::from_secs(30);

fn parse_timeout() -> Duration {
    static TIMEOUT: OnceLock<Duration> = OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        std::env::var(PARSE_TIMEOUT_VAR)
            .ok()
            .and_then(|secs| secs.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map_or(DEFAULT_PARSE_TIMEOUT, Duration::from_secs_f64)
    })
}

fn parse(source: &Source<'_>) -> Result<Body, SourceError> {
    parse_within(source, parse_timeout())
}

/// Parses on a thread of its own and gives up after `timeout`: hcl-edit backtracks
/// exponentially on some malformed input (`a = x*1=={` repeated 30 times, 360 bytes, takes
/// hours), and a run must not hang on one bad file. An abandoned parse keeps its thread
/// busy until it ends or the process exits.
fn parse_within(source: &Source<'_>, timeout: Duration) -> Result<Body, SourceError> {
    let text = source.text().to_owned();
    let (sender, receiver) = mpsc::channel();
    let parser = std::thread::Builder::new()
        .name("hcl-parse".to_owned())
        .stack_size(32 * 1024 * 1024)
        .spawn(move || {
            let result = std::panic::catch_unwind(|| hcl_edit::parser::parse_body(&text));
            // The receiver is gone when the parse took too long: nothing to report then.
            let _ = sender.send(result);
        });
    let result = match parser {
        Ok(_) => match receiver.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                return Err(SourceError::Parse {
                    line: 1,
                    column: 1,
                    message: format!(
                        "hcl-edit did not finish parsing within {} s (it backtracks exponentially on some malformed input, such as many unclosed brackets after operators): check the file with `terraform validate`, or raise {PARSE_TIMEOUT_VAR} (seconds) if it is valid",
                        timeout.as_secs_f64()
                    ),
                });
            }
            Err(RecvTimeoutError::Disconnected) => Err(Box::new("the parser thread died") as _),
        },
        // No thread to be had: parse here, without a time limit.
        Err(_) => std::panic::catch_unwind(|| hcl_edit::parser::parse_body(source.text())),
    };
    match result {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(err)) => {
            let (line, column) = (err.location().line(), err.location().column());
            if err.message().contains("redefined object key") {
                Err(SourceError::DuplicateKey { line, column })
            } else {
                Err(SourceError::Parse {
                    line,
                    column,
                    message: err.message().to_owned(),
                })
            }
        }
        Err(_) => Err(SourceError::Parse {
            line: 1,
            column: 1,
            message: "hcl-edit panicked on this input (please report it)".to_owned(),
        }),
    }
}

/// One step of a slot path.
#[derive(Debug, Clone)]
enum Segment {
    Name(String),
    Index(usize),
}

fn path_text(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Name(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn path_names(path: &[Segment]) -> Vec<String> {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Name(name) => Some(name.clone()),
            Segment::Index(_) => None,
        })
        .collect()
}

/// What the enclosing top-level block implies for the slots inside it.
#[derive(Debug, Clone, Default)]
struct Context {
    /// Terraform address of the block.
    address: String,
    /// `(denylist entry, resource type)` when the block is a VM resource.
    vm: Option<(&'static str, String)>,
    /// The resource's `ignore_changes`.
    lifecycle: Option<IgnoreChanges>,
}

/// How a slot's value is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// `image` attributes and keys: any string is meant to be a reference.
    Strict,
    /// Image-ish names (variables, locals, tfvars): only full references count.
    Named,
}

struct Walker<'s, 'o> {
    source: &'s Source<'s>,
    options: &'o ScanOptions,
    scan: Scan,
}

impl Walker<'_, '_> {
    fn top_level(&mut self, body: &Body, kind: FileKind) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    let mut path = vec![Segment::Name(name.to_owned())];
                    if kind == FileKind::Tfvars {
                        let context = Context {
                            address: "tfvars".to_owned(),
                            ..Context::default()
                        };
                        self.define(DefinitionKind::TfvarsValue, name, &attr.value);
                        if rules::is_image_name(name) {
                            let origin = Origin::TfvarsValue(name.to_owned());
                            self.named_slot(
                                &context,
                                &mut path,
                                span_start(&attr.key),
                                &attr.value,
                                origin,
                            );
                        } else {
                            self.expr(&context, &mut path, &attr.value);
                        }
                    } else {
                        let context = Context {
                            address: "top level".to_owned(),
                            ..Context::default()
                        };
                        self.attribute(&context, &mut Vec::new(), attr);
                    }
                }
                Structure::Block(block) => self.top_block(block),
            }
        }
    }

    fn top_block(&mut self, block: &Block) {
        let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
        let ident = block.ident.as_str();
        match (ident, labels.as_slice()) {
            ("resource" | "data", [resource_type, name, ..]) => {
                let address = if ident == "data" {
                    format!("data.{resource_type}.{name}")
                } else {
                    format!("{resource_type}.{name}")
                };
                let context = Context {
                    address,
                    vm: rules::vm_image_rule(resource_type)
                        .map(|rule| (rule, (*resource_type).to_owned())),
                    lifecycle: (ident == "resource").then(|| IgnoreChanges::of(&block.body)),
                };
                let names_image = rules::names_an_image(ident, resource_type);
                self.body(&context, &mut Vec::new(), &block.body, names_image);
            }
            ("variable", [name, ..]) => self.variable(name, block),
            ("locals", _) => self.locals(block),
            ("module", [name, ..]) => {
                let context = Context {
                    address: format!("module.{name}"),
                    ..Context::default()
                };
                self.body(&context, &mut Vec::new(), &block.body, false);
            }
            _ => {
                let mut address = ident.to_owned();
                for label in &labels {
                    address.push('.');
                    address.push_str(label);
                }
                let context = Context {
                    address,
                    ..Context::default()
                };
                self.body(&context, &mut Vec::new(), &block.body, false);
            }
        }
    }

    fn variable(&mut self, name: &str, block: &Block) {
        let context = Context {
            address: format!("var.{name}"),
            ..Context::default()
        };
        let default = block.body.get_attribute("default");
        match default {
            Some(attr) => self.define(DefinitionKind::Variable, name, &attr.value),
            None => self.define_at(
                DefinitionKind::Variable,
                name,
                span_start(&block.ident),
                false,
            ),
        }
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr)
                    if attr.key.as_str() == "default" && rules::is_image_name(name) =>
                {
                    let mut path = vec![Segment::Name("default".to_owned())];
                    let origin = Origin::VariableDefault(name.to_owned());
                    self.named_slot(
                        &context,
                        &mut path,
                        span_start(&attr.key),
                        &attr.value,
                        origin,
                    );
                }
                Structure::Attribute(attr) => self.attribute(&context, &mut Vec::new(), attr),
                Structure::Block(inner) => self.block(&context, &mut Vec::new(), inner, None),
            }
        }
    }

    fn locals(&mut self, block: &Block) {
        let context = Context {
            address: "locals".to_owned(),
            ..Context::default()
        };
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    self.define(DefinitionKind::Local, name, &attr.value);
                    let mut path = vec![Segment::Name(name.to_owned())];
                    if self.options.is_image_attribute(name) || rules::is_image_name(name) {
                        let origin = Origin::LocalValue(name.to_owned());
                        self.named_slot(
                            &context,
                            &mut path,
                            span_start(&attr.key),
                            &attr.value,
                            origin,
                        );
                    } else {
                        self.expr(&context, &mut path, &attr.value);
                    }
                }
                Structure::Block(inner) => self.block(&context, &mut Vec::new(), inner, None),
            }
        }
    }

    fn define(&mut self, kind: DefinitionKind, name: &str, value: &Expression) {
        let literal = matches!(value, Expression::String(_));
        self.define_at(kind, name, span_start(value), literal);
    }

    fn define_at(&mut self, kind: DefinitionKind, name: &str, offset: usize, literal: bool) {
        self.scan.definitions.push(Definition {
            kind,
            name: name.to_owned(),
            line: self.source.line_of(offset),
            literal,
        });
    }

    /// A block body. `names_image`: the body's own `name` attribute is an image
    /// (docker_image / docker_registry_image).
    fn body(&mut self, context: &Context, path: &mut Vec<Segment>, body: &Body, names_image: bool) {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for structure in body.iter() {
            if let Structure::Block(block) = structure {
                let ident = block.ident.as_str();
                match counts.iter_mut().find(|(name, _)| *name == ident) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((ident, 1)),
                }
            }
        }
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) if names_image && attr.key.as_str() == "name" => {
                    path.push(Segment::Name("name".to_owned()));
                    self.slot(
                        context,
                        path,
                        span_start(&attr.key),
                        &attr.value,
                        Origin::DockerImageName,
                        Strictness::Strict,
                    );
                    path.pop();
                }
                Structure::Attribute(attr) => self.attribute(context, path, attr),
                Structure::Block(block) => {
                    let ident = block.ident.as_str();
                    let total = counts
                        .iter()
                        .find(|(name, _)| *name == ident)
                        .map_or(1, |(_, n)| *n);
                    let index = match seen.iter_mut().find(|(name, _)| *name == ident) {
                        Some((_, n)) => {
                            *n += 1;
                            *n - 1
                        }
                        None => {
                            seen.push((ident, 1));
                            0
                        }
                    };
                    self.block(context, path, block, (total > 1).then_some(index));
                }
            }
        }
    }

    fn block(
        &mut self,
        context: &Context,
        path: &mut Vec<Segment>,
        block: &Block,
        index: Option<usize>,
    ) {
        let depth = path.len();
        path.push(Segment::Name(block.ident.as_str().to_owned()));
        if let Some(index) = index {
            path.push(Segment::Index(index));
        }
        self.body(context, path, &block.body, false);
        path.truncate(depth);
    }

    fn attribute(
        &mut self,
        context: &Context,
        path: &mut Vec<Segment>,
        attr: &hcl_edit::structure::Attribute,
    ) {
        let name = attr.key.as_str();
        path.push(Segment::Name(name.to_owned()));
        if self.options.is_image_attribute(name) {
            self.slot(
                context,
                path,
                span_start(&attr.key),
                &attr.value,
                Origin::Attribute,
                Strictness::Strict,
            );
        } else {
            self.expr(context, path, &attr.value);
        }
        path.pop();
    }

    /// Any expression that is not itself an image slot: look inside for image keys.
    fn expr(&mut self, context: &Context, path: &mut Vec<Segment>, expr: &Expression) {
        match expr {
            Expression::Object(object) => {
                for (key, value) in object.iter() {
                    let name = match key {
                        ObjectKey::Ident(ident) => Some(ident.as_str().to_owned()),
                        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
                        ObjectKey::Expression(_) => None,
                    };
                    path.push(Segment::Name(
                        name.clone().unwrap_or_else(|| "(key)".to_owned()),
                    ));
                    match name {
                        Some(name) if self.options.is_image_attribute(&name) => {
                            self.slot(
                                context,
                                path,
                                span_start(key),
                                value.expr(),
                                Origin::ObjectKey,
                                Strictness::Strict,
                            );
                        }
                        _ => self.expr(context, path, value.expr()),
                    }
                    path.pop();
                }
            }
            Expression::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    path.push(Segment::Index(i));
                    self.expr(context, path, item);
                    path.pop();
                }
            }
            Expression::FuncCall(call) => {
                for arg in call.args.iter() {
                    self.expr(context, path, arg);
                }
            }
            Expression::Conditional(cond) => {
                self.expr(context, path, &cond.cond_expr);
                self.expr(context, path, &cond.true_expr);
                self.expr(context, path, &cond.false_expr);
            }
            Expression::Parenthesis(inner) => self.expr(context, path, inner.inner()),
            Expression::ForExpr(for_expr) => {
                self.expr(context, path, &for_expr.intro.collection_expr);
                if let Some(key) = &for_expr.key_expr {
                    self.expr(context, path, key);
                }
                self.expr(context, path, &for_expr.value_expr);
            }
            Expression::BinaryOp(op) => {
                self.expr(context, path, &op.lhs_expr);
                self.expr(context, path, &op.rhs_expr);
            }
            Expression::UnaryOp(op) => self.expr(context, path, &op.expr),
            Expression::Traversal(traversal) => {
                self.expr(context, path, &traversal.expr);
                for op in &traversal.operators {
                    if let TraversalOperator::Index(index) = op.value() {
                        self.expr(context, path, index);
                    }
                }
            }
            Expression::HeredocTemplate(_) => self.heredoc_lines(context, path, expr),
            _ => {}
        }
    }

    /// An image-ish *name* (variable default, local, tfvars value): a scalar must look
    /// like a full reference; in a map or list, only elements that do are targeted.
    fn named_slot(
        &mut self,
        context: &Context,
        path: &mut Vec<Segment>,
        key_offset: usize,
        value: &Expression,
        origin: Origin,
    ) {
        match value {
            Expression::Object(object) => {
                for (key, item) in object.iter() {
                    let name = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_owned(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(_) => "(key)".to_owned(),
                    };
                    path.push(Segment::Name(name.clone()));
                    self.named_element(context, path, span_start(key), item.expr(), &origin, &name);
                    path.pop();
                }
            }
            Expression::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    path.push(Segment::Index(i));
                    self.named_element(context, path, span_start(item), item, &origin, "");
                    path.pop();
                }
            }
            _ => self.slot(context, path, key_offset, value, origin, Strictness::Named),
        }
    }

    fn named_element(
        &mut self,
        context: &Context,
        path: &mut Vec<Segment>,
        key_offset: usize,
        item: &Expression,
        origin: &Origin,
        key: &str,
    ) {
        if self.options.is_image_attribute(key) {
            self.slot(
                context,
                path,
                key_offset,
                item,
                Origin::ObjectKey,
                Strictness::Strict,
            );
        } else if let Expression::String(s) = item {
            // Other strings in an image map are ignored unless they look like references.
            if rules::looks_like_full_reference(s.value()) {
                self.slot(
                    context,
                    path,
                    key_offset,
                    item,
                    origin.clone(),
                    Strictness::Named,
                );
            }
        } else {
            self.expr(context, path, item);
        }
    }

    /// An image slot: a literal becomes a target, anything else a skip.
    fn slot(
        &mut self,
        context: &Context,
        path: &mut Vec<Segment>,
        key_offset: usize,
        value: &Expression,
        origin: Origin,
        strictness: Strictness,
    ) {
        let value_offset = span_start(value);
        let strict = strictness == Strictness::Strict;
        if origin == Origin::Attribute {
            if let Some((rule, resource_type)) = &context.vm {
                self.scan.vm_uses.extend(symbol_roots(value));
                let reason = format!(
                    "{resource_type} is a virtual-machine resource (matches `{rule}`): its `{}` names a VM image, not a container image",
                    path_names(path).last().map(String::as_str).unwrap_or(IMAGE)
                );
                self.skip(
                    context,
                    path,
                    value_offset,
                    value,
                    SkipKind::VmImage,
                    reason,
                    false,
                    None,
                );
                return;
            }
        }
        if comments::is_ignored(self.source, key_offset, value_offset) {
            let reason = format!("a `{}` comment marks it", comments::IGNORE_MARKER);
            self.skip(
                context,
                path,
                value_offset,
                value,
                SkipKind::Ignored,
                reason,
                false,
                None,
            );
            return;
        }
        let not_literal = |what: &str| format!("{what}; tf-pin edits only plain string literals");
        let (kind, reason, uses) = match value {
            Expression::String(s) => {
                self.literal(context, path, value, s.value(), origin, strictness);
                return;
            }
            Expression::Null(_) => return,
            Expression::Object(_) | Expression::Array(_) if !strict => return,
            Expression::Object(_) | Expression::Array(_) => {
                let reason = if matches!(value, Expression::Object(_)) {
                    "an object (e.g. a Helm-style repository/tag pair), not a reference string; tf-pin pins whole references only"
                } else {
                    "a list, not a reference string"
                };
                self.skip(
                    context,
                    path,
                    value_offset,
                    value,
                    SkipKind::NotLiteral,
                    reason.to_owned(),
                    true,
                    None,
                );
                self.expr(context, path, value);
                return;
            }
            Expression::HeredocTemplate(_) => (SkipKind::Heredoc, not_literal("a heredoc"), None),
            Expression::StringTemplate(_) => (
                SkipKind::NotLiteral,
                not_literal("an interpolated string"),
                None,
            ),
            Expression::Traversal(_) | Expression::Variable(_) => {
                let uses = symbol_of(value);
                let what = match &uses {
                    Some(symbol) => symbol.address(),
                    None => self.snippet(value),
                };
                (
                    SkipKind::NotLiteral,
                    format!("uses {what} instead of a literal"),
                    uses,
                )
            }
            Expression::FuncCall(call) => {
                let what = format!("the result of {}()", call.name.name.as_str());
                (SkipKind::NotLiteral, not_literal(&what), None)
            }
            Expression::Conditional(_) => (
                SkipKind::NotLiteral,
                not_literal("a conditional expression"),
                None,
            ),
            Expression::Number(_) | Expression::Bool(_) => {
                (SkipKind::Invalid, "not a string".to_owned(), None)
            }
            _ => (SkipKind::NotLiteral, not_literal("an expression"), None),
        };
        self.skip(
            context,
            path,
            value_offset,
            value,
            kind,
            reason,
            strict,
            uses,
        );
    }

    fn literal(
        &mut self,
        context: &Context,
        path: &[Segment],
        expr: &Expression,
        value: &str,
        origin: Origin,
        strictness: Strictness,
    ) {
        let Some(span) = expr.span() else {
            return;
        };
        let text = self.source.text();
        let raw = text.get(span.clone()).unwrap_or_default();
        let offset = span.start;
        let decoded = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|_| raw.len() >= 2)
            .map(literal::decode);
        match decoded {
            Some(Ok(ref decoded)) if decoded == value => {}
            _ => {
                let reason =
                    "tf-pin could not map this literal back to its bytes (please report it)"
                        .to_owned();
                self.skip(
                    context,
                    path,
                    offset,
                    expr,
                    SkipKind::Invalid,
                    reason,
                    true,
                    None,
                );
                return;
            }
        }
        let named = strictness == Strictness::Named;
        if value.is_empty() {
            self.skip(
                context,
                path,
                offset,
                expr,
                SkipKind::Invalid,
                "an empty string".to_owned(),
                !named,
                None,
            );
            return;
        }
        if named && !rules::looks_like_full_reference(value) {
            if Reference::parse(value).is_err() {
                // Not image-shaped at all (`IfNotPresent`, `see README`): not an image.
                return;
            }
            let (reason, notable) = if rules::looks_like_bare_tag(value) {
                ("a bare tag, not a full image reference".to_owned(), false)
            } else {
                (
                    format!(
                        "a bare name without `:tag`, `/` or `@digest` is ambiguous (a repository or a tag?); write `{value}:latest` to have it pinned"
                    ),
                    true,
                )
            };
            self.skip(
                context,
                path,
                offset,
                expr,
                SkipKind::NotFullReference,
                reason,
                notable,
                None,
            );
            return;
        }
        let reference = match Reference::parse(value) {
            Ok(reference) => reference,
            Err(err) => {
                self.skip(
                    context,
                    path,
                    offset,
                    expr,
                    SkipKind::Invalid,
                    err.to_string(),
                    true,
                    None,
                );
                return;
            }
        };
        let names = path_names(path);
        let lifecycle = context.lifecycle.as_ref().and_then(|l| l.covers(&names));
        let (line, column) = self.source.position(offset);
        let base = self.source.base();
        self.scan.targets.push(Target {
            literal: base + span.start..base + span.end,
            content: base + span.start + 1..base + span.end - 1,
            line,
            column,
            context: context.address.clone(),
            path: path_text(path),
            path_names: names,
            origin,
            value: value.to_owned(),
            reference,
            lifecycle,
        });
    }

    /// Lines of a heredoc that look like `image: …` / `"image": …` / `image = …`: reported so
    /// the user knows they exist, never edited.
    fn heredoc_lines(&mut self, context: &Context, path: &[Segment], expr: &Expression) {
        let Some(span) = expr.span() else {
            return;
        };
        let first_line = self.source.line_of(span.start);
        let last_line = self.source.line_of(span.end.saturating_sub(1));
        for line_number in first_line + 1..last_line {
            let Some(range) = self.source.line_range(line_number) else {
                continue;
            };
            let line = self.source.line(line_number);
            let Some((key_at, rest)) = self.image_key_in_text(line) else {
                continue;
            };
            let offset = range.start + key_at;
            let (line, column) = self.source.position(offset);
            self.scan.skipped.push(Skipped {
                line,
                column,
                context: context.address.clone(),
                path: path_text(path),
                value: shorten(rest),
                kind: SkipKind::Heredoc,
                reason: "an image inside a heredoc (YAML/JSON text); tf-pin edits only plain string literals: use yamlencode()/jsonencode() with a quoted literal to have it pinned".to_owned(),
                notable: true,
                uses: None,
            });
        }
    }

    /// Finds `image:`-style keys in a line of text: returns the key's byte offset and the
    /// value text after the separator.
    fn image_key_in_text<'l>(&self, line: &'l str) -> Option<(usize, &'l str)> {
        let trimmed = line.trim_start();
        let mut at = line.len() - trimmed.len();
        let mut rest = trimmed;
        if let Some(after_dash) = rest.strip_prefix("- ") {
            let after = after_dash.trim_start();
            at += rest.len() - after.len();
            rest = after;
        }
        let key_end = rest.find([':', '=', ' ', '\t'])?;
        let key = rest[..key_end].trim_matches(['"', '\'']);
        if !self.options.is_image_attribute(key) {
            return None;
        }
        let after_key = rest[key_end..].trim_start();
        let value = after_key.strip_prefix([':', '='])?.trim();
        let value = value.trim_end_matches(',').trim_matches(['"', '\'']);
        (!value.is_empty()).then_some((at, value))
    }

    #[allow(clippy::too_many_arguments)]
    fn skip(
        &mut self,
        context: &Context,
        path: &[Segment],
        offset: usize,
        value: &Expression,
        kind: SkipKind,
        reason: String,
        notable: bool,
        uses: Option<SymbolUse>,
    ) {
        let (line, column) = self.source.position(offset);
        let value = self.snippet(value);
        self.scan.skipped.push(Skipped {
            line,
            column,
            context: context.address.clone(),
            path: path_text(path),
            value,
            kind,
            reason,
            notable,
            uses,
        });
    }

    fn snippet(&self, expr: &Expression) -> String {
        let text = expr
            .span()
            .and_then(|span| self.source.text().get(span))
            .unwrap_or_default();
        shorten(text)
    }
}

/// First line of a value, at most 80 characters.
fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default().trim_end();
    let mut out: String = first.chars().take(80).collect();
    if out.len() < first.len() || text.trim_end().contains('\n') {
        out.push('…');
    }
    out
}

fn span_start<T: Span>(node: &T) -> usize {
    node.span().map_or(0, |span| span.start)
}

/// `var.NAME…` / `local.NAME…` as the whole value.
fn symbol_of(expr: &Expression) -> Option<SymbolUse> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let Expression::Variable(root) = &traversal.expr else {
        return None;
    };
    let kind = match root.as_str() {
        "var" => SymbolKind::Var,
        "local" => SymbolKind::Local,
        _ => return None,
    };
    match traversal.operators.first().map(|op| op.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some(SymbolUse {
            kind,
            name: name.as_str().to_owned(),
        }),
        _ => None,
    }
}

/// Every `var.X` / `local.X` mentioned anywhere in an expression.
fn symbol_roots(expr: &Expression) -> Vec<SymbolUse> {
    let mut out = Vec::new();
    collect_symbols(expr, &mut out);
    out
}

fn collect_symbols(expr: &Expression, out: &mut Vec<SymbolUse>) {
    if let Some(symbol) = symbol_of(expr) {
        out.push(symbol);
    }
    match expr {
        Expression::Traversal(t) => {
            collect_symbols(&t.expr, out);
            for op in &t.operators {
                if let TraversalOperator::Index(index) = op.value() {
                    collect_symbols(index, out);
                }
            }
        }
        Expression::Conditional(c) => {
            collect_symbols(&c.cond_expr, out);
            collect_symbols(&c.true_expr, out);
            collect_symbols(&c.false_expr, out);
        }
        Expression::FuncCall(call) => call.args.iter().for_each(|a| collect_symbols(a, out)),
        Expression::Parenthesis(p) => collect_symbols(p.inner(), out),
        Expression::BinaryOp(op) => {
            collect_symbols(&op.lhs_expr, out);
            collect_symbols(&op.rhs_expr, out);
        }
        Expression::UnaryOp(op) => collect_symbols(&op.expr, out),
        Expression::Array(a) => a.iter().for_each(|e| collect_symbols(e, out)),
        Expression::Object(o) => o.iter().for_each(|(_, v)| collect_symbols(v.expr(), out)),
        Expression::StringTemplate(t) => collect_template_symbols(t, out),
        Expression::HeredocTemplate(h) => collect_template_symbols(&h.template, out),
        _ => {}
    }
}

fn collect_template_symbols(template: &Template, out: &mut Vec<SymbolUse>) {
    for element in template.iter() {
        if let Element::Interpolation(interpolation) = element {
            collect_symbols(&interpolation.expr, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `rewrite` fuzz target (a 706-byte slow unit that took 27 s): each
    /// `x*1=={` level doubles hcl-edit's backtracking, up to its nesting limit of 64.
    fn exponential_input(levels: usize) -> String {
        format!("a = {}", "x*1=={\n".repeat(levels))
    }

    #[test]
    fn a_parse_that_backtracks_exponentially_is_abandoned_after_the_timeout() {
        let text = exponential_input(40);
        let source = Source::new(text.as_bytes()).unwrap();
        let started = std::time::Instant::now();
        let err = parse_within(&source, Duration::from_millis(300)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            err.to_string().starts_with(
                "1:1: HCL parse error: hcl-edit did not finish parsing within 0.3 s (it backtracks exponentially"
            ) && err.to_string().ends_with("the file was left alone"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_and_results_come_back_from_the_parser_thread() {
        let ok = Source::new(b"a = { image = \"nginx:1\" }\n").unwrap();
        assert!(parse_within(&ok, Duration::from_secs(30)).is_ok());
        let bad = Source::new(b"a = {\n").unwrap();
        let err = parse_within(&bad, Duration::from_secs(30)).unwrap_err();
        assert!(
            matches!(&err, SourceError::Parse { message, .. }
                if !message.contains("did not finish") && !message.contains("panicked")),
            "{err}"
        );
        let duplicate = Source::new(b"a = { x = 1, x = 2 }\n").unwrap();
        assert!(matches!(
            parse_within(&duplicate, Duration::from_secs(30)),
            Err(SourceError::DuplicateKey { .. })
        ));
    }
}
