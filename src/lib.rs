//! tf-pin: resolve container image references to registry digests and pin them in Terraform.
//!
//! Layers, bottom up: [`reference`] (the image-reference grammar), [`registry`] (the
//! Distribution API client: transport, auth, credentials, manifests), [`resolver`] (batch
//! resolution with de-duplication and bounded concurrency), then the two front ends
//! [`external`] (Terraform's `external` data source protocol) and [`rewrite`] (the
//! byte-preserving .tf editor), and finally [`cli`].

pub mod cli;
pub mod config;
pub mod exit;
pub mod external;
pub mod mirror;
pub mod reference;
pub mod registry;
pub mod resolver;
pub mod rewrite;
