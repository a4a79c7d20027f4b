//! Which string literals are image targets, which are skipped and why: one table row per
//! shape, through the pure `scan_source` API (no files, no registry).

use tf_pin::rewrite::{FileKind, Origin, ScanOptions, SkipKind, SourceError, scan_source};

fn options() -> ScanOptions {
    ScanOptions {
        extra_attributes: vec!["container_image".to_owned()],
    }
}

/// `(path, value)` of every target.
fn targets(source: &str, kind: FileKind) -> Vec<(String, String)> {
    let scan = scan_source(source.as_bytes(), kind, &options()).unwrap();
    scan.targets
        .iter()
        .map(|t| (t.path.clone(), t.value.clone()))
        .collect()
}

/// `(path, kind, reason)` of every skip.
fn skips(source: &str, kind: FileKind) -> Vec<(String, SkipKind, String)> {
    let scan = scan_source(source.as_bytes(), kind, &options()).unwrap();
    scan.skipped
        .iter()
        .map(|s| (s.path.clone(), s.kind, s.reason.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn image_slots_that_are_targeted() {
    let table: &[(&str, &str, &[(&str, &str)])] = &[
        (
            "attribute in nested blocks",
            r#"resource "kubernetes_deployment" "a" {
                 spec {
                   template {
                     spec {
                       init_container { image = "busybox:1.36" }
                       container { image = "nginx:1.25" }
                       container { image = "redis:7" }
                     }
                   }
                 }
               }"#,
            &[
                ("spec.template.spec.init_container.image", "busybox:1.36"),
                ("spec.template.spec.container[0].image", "nginx:1.25"),
                ("spec.template.spec.container[1].image", "redis:7"),
            ],
        ),
        (
            "extra attribute names from the options",
            r#"module "m" { container_image = "ghcr.io/o/a:1" }"#,
            &[("container_image", "ghcr.io/o/a:1")],
        ),
        (
            "jsonencode list of objects",
            r#"resource "aws_ecs_task_definition" "t" {
                 container_definitions = jsonencode([{ name = "a", image = "a:1" }, { image = "b:2" }])
               }"#,
            &[
                ("container_definitions[0].image", "a:1"),
                ("container_definitions[1].image", "b:2"),
            ],
        ),
        (
            "yamlencode nested in a list, with quoted and colon keys",
            r#"resource "helm_release" "h" {
                 values = [yamlencode({ a = { "image" = "a:1" }, b = { image: "b:2" } })]
               }"#,
            &[("values[0].a.image", "a:1"), ("values[0].b.image", "b:2")],
        ),
        (
            "locals map and nested function calls",
            r#"locals {
                 m = merge({ x = { image = "x:1" } }, var.on ? { y = { image = "y:1" } } : {})
               }"#,
            &[("m.x.image", "x:1"), ("m.y.image", "y:1")],
        ),
        (
            "for expression bodies",
            r#"locals { l = [for n in var.names : { name = n, image = "app:1" }] }"#,
            &[("l.image", "app:1")],
        ),
        (
            "dynamic block content",
            r#"resource "docker_service" "s" {
                 dynamic "task_spec" {
                   for_each = [1]
                   content {
                     container_spec { image = "svc:1" }
                   }
                 }
               }"#,
            &[("dynamic.content.container_spec.image", "svc:1")],
        ),
        (
            "docker_image and docker_registry_image names",
            r#"resource "docker_image" "i" { name = "nginx:1" }
               data "docker_registry_image" "d" { name = "redis:7" }
               resource "docker_registry_image" "push" { name = "ghcr.io/o/pushed:1" }
               resource "docker_container" "c" { name = "not-an-image" }"#,
            &[("name", "nginx:1"), ("name", "redis:7")],
        ),
        (
            "variable defaults with image in the name: full references only",
            r#"variable "app_image" { default = "ghcr.io/o/app:1" }
               variable "base_image" { default = "nginx" }
               variable "image_tag" { default = "v1.25.0" }
               variable "latest_image" { default = "library/redis" }
               variable "images" { default = { web = "nginx:1", note = "plain text" } }
               variable "name" { default = "nginx:1" }"#,
            &[
                ("default", "ghcr.io/o/app:1"),
                ("default", "library/redis"),
                ("default.web", "nginx:1"),
            ],
        ),
        (
            "objects with image keys in any variable default or output",
            r#"variable "services" { default = [{ image = "a:1" }] }
               output "o" { value = { image = "b:2" } }"#,
            &[("default[0].image", "a:1"), ("value.image", "b:2")],
        ),
        (
            "VM resources: object keys inside attribute values still count",
            r#"resource "google_compute_instance" "vm" {
                 boot_disk {
                   initialize_params { image = "debian-cloud/debian-11" }
                 }
                 metadata = { decl = yamlencode({ containers = [{ image = "gcr.io/o/cos:1" }] }) }
               }"#,
            &[("metadata.decl.containers[0].image", "gcr.io/o/cos:1")],
        ),
        (
            "already pinned and digest-only references are targets too",
            r#"locals {
                 a = { image = "nginx:1@sha256:0000000000000000000000000000000000000000000000000000000000000000" }
                 b = { image = "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000" }
               }"#,
            &[
                (
                    "a.image",
                    "nginx:1@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                ),
                (
                    "b.image",
                    "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                ),
            ],
        ),
        (
            "escapes are decoded",
            r#"resource "docker_container" "c" { image = "nginx\u003a1" }"#,
            &[("image", "nginx:1")],
        ),
        (
            "attributes named like image but not image are ignored",
            r#"resource "kubernetes_deployment" "a" {
                 image_pull_policy = "Always"
                 images = ["nginx:1"]
                 labels = { "image.tag" = "1" }
               }"#,
            &[],
        ),
    ];
    for (name, source, expected) in table {
        assert_eq!(
            targets(source, FileKind::Terraform),
            pairs(expected),
            "{name}"
        );
    }
}

#[test]
fn tfvars_values_named_like_images_are_targets() {
    let source = r#"
app_image    = "ghcr.io/o/app:1"
image_tag    = "v2"
replicas     = 3
worker_image = "nginx"
extra        = { image = "redis:7", pull = "IfNotPresent" }
"#;
    assert_eq!(
        targets(source, FileKind::Tfvars),
        pairs(&[("app_image", "ghcr.io/o/app:1"), ("extra.image", "redis:7")])
    );
    let skipped: Vec<(String, SkipKind)> = skips(source, FileKind::Tfvars)
        .into_iter()
        .map(|(p, k, _)| (p, k))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("image_tag".to_owned(), SkipKind::NotFullReference),
            ("worker_image".to_owned(), SkipKind::NotFullReference),
        ]
    );
}

#[test]
fn image_slots_that_are_skipped_with_a_reason() {
    let table: &[(&str, &str, SkipKind, &str)] = &[
        (
            "interpolation",
            r#""${var.registry}/app:1""#,
            SkipKind::NotLiteral,
            "an interpolated string",
        ),
        (
            "variable",
            "var.app_image",
            SkipKind::NotLiteral,
            "uses var.app_image instead of a literal",
        ),
        (
            "local",
            "local.images.web",
            SkipKind::NotLiteral,
            "uses local.images instead of a literal",
        ),
        (
            "other reference",
            "docker_image.x.image_id",
            SkipKind::NotLiteral,
            "uses docker_image.x.image_id",
        ),
        (
            "function",
            r#"lookup(var.m, "k", "nginx:1")"#,
            SkipKind::NotLiteral,
            "the result of lookup()",
        ),
        (
            "conditional",
            r#"var.x ? "a:1" : "b:1""#,
            SkipKind::NotLiteral,
            "a conditional expression",
        ),
        (
            "heredoc",
            "<<EOT\nnginx:1\nEOT\n",
            SkipKind::Heredoc,
            "a heredoc",
        ),
        ("number", "42", SkipKind::Invalid, "not a string"),
        ("empty", r#""""#, SkipKind::Invalid, "an empty string"),
        (
            "url",
            r#""https://example.com/x.tar""#,
            SkipKind::Invalid,
            "registry host \"https:\"",
        ),
        (
            "path",
            r#""./build""#,
            SkipKind::Invalid,
            "invalid image reference",
        ),
        (
            "whitespace",
            r#""nginx 1""#,
            SkipKind::Invalid,
            "whitespace",
        ),
        (
            "uppercase",
            r#""Acme/App""#,
            SkipKind::Invalid,
            "must be lowercase",
        ),
        (
            "helm-style object",
            r#"{ repository = "nginx", tag = "1" }"#,
            SkipKind::NotLiteral,
            "repository/tag",
        ),
        (
            "escaped template marker",
            r#""$${x}""#,
            SkipKind::Invalid,
            "invalid image reference",
        ),
    ];
    for (name, value, kind, reason) in table {
        let source = format!("resource \"docker_container\" \"c\" {{\n  image = {value}\n}}\n");
        let found = skips(&source, FileKind::Terraform);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        let (path, found_kind, found_reason) = &found[0];
        assert_eq!(path, "image", "{name}");
        assert_eq!(found_kind, kind, "{name}: {found_reason}");
        assert!(
            found_reason.contains(reason),
            "{name}: {found_reason:?} lacks {reason:?}"
        );
        assert!(targets(&source, FileKind::Terraform).is_empty(), "{name}");
    }
}

#[test]
fn null_images_are_neither_targets_nor_skips() {
    let source = "resource \"docker_container\" \"c\" {\n  image = null\n}\n";
    assert!(targets(source, FileKind::Terraform).is_empty());
    assert!(skips(source, FileKind::Terraform).is_empty());
}

#[test]
fn vm_image_resources_are_skipped_by_type() {
    let table: &[(&str, &str)] = &[
        (
            "google_compute_instance",
            "boot_disk {\n  initialize_params { image = \"debian-cloud/debian-11\" }\n}",
        ),
        (
            "google_compute_disk",
            "image = \"ubuntu-os-cloud/ubuntu-2204-lts\"",
        ),
        (
            "google_compute_region_instance_template",
            "disk {\n  source_image = \"x\"\n  image = \"cos-cloud/cos-stable\"\n}",
        ),
        ("digitalocean_droplet", "image = \"ubuntu-22-04-x64\""),
        ("hcloud_server", "image = \"ubuntu-22.04\""),
        (
            "openstack_compute_instance_v2",
            "image_name = \"x\"\n image = \"cirros\"",
        ),
        ("linode_instance", "image = \"linode/debian11\""),
        ("azurerm_windows_virtual_machine", "image = \"x/y\""),
    ];
    for (resource_type, body) in table {
        let source = format!("resource \"{resource_type}\" \"r\" {{\n{body}\n}}\n");
        assert!(
            targets(&source, FileKind::Terraform).is_empty(),
            "{resource_type}"
        );
        let found = skips(&source, FileKind::Terraform);
        assert_eq!(found.len(), 1, "{resource_type}: {found:?}");
        assert_eq!(found[0].1, SkipKind::VmImage, "{resource_type}");
        assert!(
            found[0].2.contains(resource_type),
            "{resource_type}: {}",
            found[0].2
        );
    }
}

#[test]
fn ignore_comments_skip_only_their_slot() {
    let source = r#"
resource "docker_container" "a" {
  image = "nginx:1" # tf-pin:ignore
}
resource "docker_container" "b" {
  # tf-pin:ignore because the release job pins it
  image = "nginx:2"
}
resource "docker_container" "c" {
  # renovate: datasource=docker depName=nginx
  image = "nginx:3"
}
locals {
  l = {
    image = "nginx:4", // tf-pin:ignore
    other = { image = "nginx:5" }
  }
}
"#;
    assert_eq!(
        targets(source, FileKind::Terraform),
        pairs(&[("image", "nginx:3"), ("l.other.image", "nginx:5")])
    );
    let ignored: Vec<String> = skips(source, FileKind::Terraform)
        .into_iter()
        .filter(|(_, kind, _)| *kind == SkipKind::Ignored)
        .map(|(path, _, _)| path)
        .collect();
    assert_eq!(ignored, ["image", "image", "l.image"]);
}

#[test]
fn lifecycle_ignore_changes_is_reported_on_the_target() {
    let source = r#"
resource "kubernetes_deployment" "a" {
  spec {
    template {
      spec {
        container { image = "nginx:1" }
      }
    }
  }
  lifecycle { ignore_changes = [spec[0].template[0].spec[0].container[0].image] }
}
resource "aws_ecs_task_definition" "b" {
  container_definitions = jsonencode([{ image = "nginx:2" }])
  lifecycle { ignore_changes = [container_definitions] }
}
resource "docker_container" "c" {
  image = "nginx:3"
  lifecycle { ignore_changes = [name] }
}
resource "docker_container" "d" {
  image = "nginx:4"
  lifecycle { ignore_changes = all }
}
"#;
    let scan = scan_source(source.as_bytes(), FileKind::Terraform, &options()).unwrap();
    let warnings: Vec<Option<&str>> = scan
        .targets
        .iter()
        .map(|t| t.lifecycle.as_deref())
        .collect();
    assert!(warnings[0].is_some_and(|w| w.contains("spec[0].template[0]")));
    assert!(warnings[1].is_some_and(|w| w.contains("`container_definitions`")));
    assert_eq!(warnings[2], None);
    assert!(warnings[3].is_some_and(|w| w.contains("= all")));
}

#[test]
fn spans_cover_the_literal_with_quotes_in_original_file_offsets() {
    // A BOM (3 bytes), CRLF line endings, multi-byte characters before the literal.
    let source = "\u{feff}# ü\r\nresource \"docker_container\" \"c\" {\r\n  labels = { grüße = \"é\" }\r\n  image = \"nginx:1\" # 🚀\r\n}\r\n";
    let bytes = source.as_bytes();
    let scan = scan_source(bytes, FileKind::Terraform, &options()).unwrap();
    let target = &scan.targets[0];
    assert_eq!(&bytes[target.literal.clone()], b"\"nginx:1\"");
    assert_eq!(&bytes[target.content.clone()], b"nginx:1");
    assert_eq!(target.content.start, target.literal.start + 1);
    assert_eq!(target.content.end, target.literal.end - 1);
    // Line and column of the opening quote, counted in characters, BOM not counted.
    assert_eq!((target.line, target.column), (4, 11));
    assert_eq!(target.origin, Origin::Attribute);
    assert_eq!(target.context, "docker_container.c");
}

#[test]
fn unparseable_files_are_errors_with_positions() {
    let table: &[(&[u8], SourceError)] = &[
        (
            b"locals {\n  x = { image = \"a:1\"\n    image = \"b:1\" }\n}\n",
            SourceError::DuplicateKey { line: 3, column: 5 },
        ),
        (
            b"a = \"ok\"\nb = \"\xff\"\n",
            SourceError::NotUtf8 {
                line: 2,
                column: 6,
                offset: 14,
            },
        ),
        (
            b"\xEF\xBB\xBFa = \"\xc3\"\n",
            SourceError::NotUtf8 {
                line: 1,
                column: 6,
                offset: 8,
            },
        ),
    ];
    for (bytes, expected) in table {
        assert_eq!(
            scan_source(bytes, FileKind::Terraform, &options()).unwrap_err(),
            *expected
        );
    }
    let err = scan_source(
        b"resource \"x\" {\n  a = \n}\n",
        FileKind::Terraform,
        &options(),
    )
    .unwrap_err();
    let SourceError::Parse { line, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(line, 2);
    assert!(err.to_string().contains("the file was left alone"), "{err}");
}

#[test]
fn heredoc_lines_mentioning_images_are_reported() {
    let source = "resource \"kubectl_manifest\" \"m\" {\n  yaml_body = <<-YAML\n    containers:\n      - name: a\n        image: nginx:1.25\n      - image: \"redis:7\"\n  YAML\n}\n";
    let found = skips(source, FileKind::Terraform);
    let lines: Vec<usize> = scan_source(source.as_bytes(), FileKind::Terraform, &options())
        .unwrap()
        .skipped
        .iter()
        .map(|s| s.line)
        .collect();
    assert_eq!(lines, [5, 6]);
    assert!(found.iter().all(|(_, kind, _)| *kind == SkipKind::Heredoc));
    assert!(targets(source, FileKind::Terraform).is_empty());
}
