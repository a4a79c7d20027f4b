//! Which slots hold container images, and which look alike but do not.

/// Resource and data-source types whose `image` attributes name virtual-machine images
/// (`debian-cloud/debian-11`, `ubuntu-22-04-x64`, `linode/debian11`, …), never container
/// images, even though many of them are valid reference syntax. Entries ending in `_`
/// (or `*`) are prefixes.
pub const VM_IMAGE_TYPES: &[&str] = &[
    "google_compute_*",
    "openstack_*",
    "digitalocean_droplet*",
    "digitalocean_custom_image",
    "digitalocean_image",
    "hcloud_*",
    "linode_instance*",
    "linode_image",
    "vultr_instance",
    "vultr_bare_metal_server",
    "scaleway_instance_*",
    "scaleway_baremetal_*",
    "exoscale_compute*",
    "exoscale_instance_pool",
    "oci_core_*",
    "ibm_is_*",
    "aws_instance",
    "aws_launch_template",
    "aws_launch_configuration",
    "aws_ami*",
    "aws_imagebuilder_*",
    "aws_lightsail_instance",
    "azurerm_image",
    "azurerm_shared_image*",
    "azurerm_*virtual_machine*",
    "azurerm_dev_test_*",
    "azurerm_lab_service_*",
    "vsphere_*",
    "libvirt_*",
    "proxmox_*",
    "packet_device",
    "equinix_metal_device",
    "metal_device",
    "upcloud_server",
    "cloudstack_instance",
    "cloudstack_template",
    "nutanix_*",
    "harvester_*",
    "kubevirt_*",
    "lxd_*",
    "incus_*",
    "multipass_instance",
    "yandex_compute_*",
    "alicloud_instance",
    "alicloud_image*",
    "tencentcloud_instance",
    "huaweicloud_compute_*",
    "flexibleengine_compute_*",
    "opentelekomcloud_compute_*",
    "vcd_vapp_vm",
    "vcd_vm",
    "ovh_cloud_project_instance",
    "outscale_vm",
    "stackit_server",
    "ionoscloud_server",
    "ionoscloud_cube_server",
    "profitbricks_server",
    "brightbox_server",
    "triton_machine",
    "civo_instance",
    "gridscale_server",
    "cherryservers_server",
];

/// Returns the denylist entry that matches a resource type, if any.
pub fn vm_image_rule(resource_type: &str) -> Option<&'static str> {
    VM_IMAGE_TYPES
        .iter()
        .copied()
        .find(|pattern| glob_match(pattern, resource_type))
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether a variable, local or `.tfvars` name suggests it holds an image.
pub fn is_image_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("image")
}

/// Whether a value found under an image-ish *name* (not an `image` attribute) is a full
/// reference rather than a bare tag or word: it must contain a `/`, a `:` tag or an
/// `@` digest. A bare single word (`nginx`, `latest`, `v1.25.0`) is ambiguous (is it a
/// repository or a tag?) and is skipped; write `nginx:latest` to have it pinned.
pub fn looks_like_full_reference(value: &str) -> bool {
    value.contains(['/', ':', '@'])
}

/// Whether a bare word looks like a tag (`v1.25.0`, `1.25`, `latest`) rather than a
/// repository name.
pub fn looks_like_bare_tag(value: &str) -> bool {
    const TAG_WORDS: &[&str] = &[
        "latest", "stable", "edge", "main", "master", "nightly", "lts", "dev", "beta", "alpha",
    ];
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(first), _) if first.is_ascii_digit() => true,
        (Some('v' | 'V'), Some(second)) if second.is_ascii_digit() => true,
        _ => TAG_WORDS.contains(&value),
    }
}

/// The resource type whose top-level `name` attribute is an image reference:
/// kreuzwerker/docker's `resource "docker_image"` (pulls `name`) and
/// `data "docker_registry_image"` (looks `name` up). `resource "docker_registry_image"`
/// pushes to its `name` and is deliberately not listed.
pub fn names_an_image(block: &str, resource_type: &str) -> bool {
    matches!(
        (block, resource_type),
        ("resource", "docker_image") | ("data", "docker_registry_image")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_resource_types_are_recognised() {
        let table: &[(&str, Option<&str>)] = &[
            ("google_compute_instance", Some("google_compute_*")),
            (
                "google_compute_region_instance_template",
                Some("google_compute_*"),
            ),
            ("google_compute_disk", Some("google_compute_*")),
            (
                "azurerm_linux_virtual_machine",
                Some("azurerm_*virtual_machine*"),
            ),
            (
                "azurerm_windows_virtual_machine_scale_set",
                Some("azurerm_*virtual_machine*"),
            ),
            ("azurerm_virtual_machine", Some("azurerm_*virtual_machine*")),
            ("digitalocean_droplet", Some("digitalocean_droplet*")),
            ("hcloud_server", Some("hcloud_*")),
            ("aws_instance", Some("aws_instance")),
            ("openstack_compute_instance_v2", Some("openstack_*")),
            ("google_cloud_run_v2_service", None),
            ("google_cloud_run_service", None),
            ("azurerm_container_group", None),
            ("aws_instance_profile", None),
            ("aws_ecs_task_definition", None),
            ("kubernetes_deployment", None),
            ("docker_container", None),
            ("digitalocean_app", None),
        ];
        for (resource_type, expected) in table {
            assert_eq!(vm_image_rule(resource_type), *expected, "{resource_type}");
        }
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("a*", "a"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(glob_match("*b", "ab"));
        assert!(!glob_match("a*b*c", "aXc"));
        assert!(!glob_match("abc", "abcd"));
        assert!(glob_match("abc", "abc"));
        assert!(!glob_match("a*bb", "ab"));
    }

    #[test]
    fn full_reference_heuristic() {
        for yes in ["nginx:1.25", "ghcr.io/o/app", "user/app", "app@sha256:00"] {
            assert!(looks_like_full_reference(yes), "{yes}");
        }
        for no in ["nginx", "latest", "v1.25.0", ""] {
            assert!(!looks_like_full_reference(no), "{no}");
        }
        for tag in ["v1.25.0", "1.25", "latest", "stable", "V2"] {
            assert!(looks_like_bare_tag(tag), "{tag}");
        }
        for name in ["nginx", "vault", "", "v"] {
            assert!(!looks_like_bare_tag(name), "{name}");
        }
    }
}
