//! `os/arch[/variant]` platform selectors, normalised the way containerd matches them.

use std::fmt;

/// A platform such as `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Architecture variant, e.g. `v8` (normalised: `arm64` implies `v8`).
    pub variant: Option<String>,
}

/// A `--platform` value that is not `OS/ARCH[/VARIANT]`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid platform {0:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8")]
pub struct PlatformError(pub String);

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid(p)) {
            return Err(PlatformError(text.to_owned()));
        }
        Ok(Platform::normalised(
            parts[0],
            parts[1],
            parts.get(2).copied(),
        ))
    }

    /// Builds a platform with containerd's normalisation (lowercase; `aarch64`→`arm64`,
    /// `x86_64`→`amd64`; `arm64` without variant means `v8`; `arm` without variant means `v7`).
    pub fn normalised(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let mut architecture = architecture.to_ascii_lowercase();
        let mut variant = variant
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase);
        match architecture.as_str() {
            "x86_64" | "x86-64" => architecture = "amd64".into(),
            "aarch64" => architecture = "arm64".into(),
            "armhf" => {
                architecture = "arm".into();
                variant = Some("v7".into());
            }
            "armel" => {
                architecture = "arm".into();
                variant = Some("v6".into());
            }
            _ => {}
        }
        match (architecture.as_str(), variant.as_deref()) {
            ("arm64", None | Some("8")) => variant = Some("v8".into()),
            ("arm", None | Some("7")) => variant = Some("v7".into()),
            ("amd64", Some("v1")) => variant = None,
            _ => {}
        }
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// Whether this is the `unknown/unknown` entry BuildKit uses for attestations.
    pub fn is_attestation(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let table = [
            ("linux/amd64", "linux/amd64"),
            ("linux/arm64", "linux/arm64/v8"),
            ("linux/arm64/v8", "linux/arm64/v8"),
            ("Linux/AArch64", "linux/arm64/v8"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("windows/amd64", "windows/amd64"),
            ("linux/x86_64", "linux/amd64"),
        ];
        for (input, expected) in table {
            assert_eq!(
                Platform::parse(input).unwrap().to_string(),
                expected,
                "{input}"
            );
        }
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux amd64", ""] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
