//! Resolution proper: ping a registry once, authenticate once per repository, then
//! `HEAD /v2/<name>/manifests/<tag>` and read `Docker-Content-Digest`, falling back to
//! `GET` + sha256 of the exact bytes when the header is missing or a platform is wanted.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue,
};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::OnceCell;

use super::auth::{self, Challenge};
use super::credentials::{CredentialStore, Found};
use super::manifest;
use super::transport::{self, MANIFEST_SIZE_LIMIT, Transport};
use super::{Failure, Platform};
use crate::reference::{Digest, Reference};

/// What a tag resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Digest of the manifest (or index) that `docker pull` would fetch.
    pub digest: Digest,
    /// Media type of that manifest.
    pub media_type: String,
    /// `os/arch[/variant]` when a platform was asked for.
    pub platform: Option<String>,
}

type Shared<T> = Arc<OnceCell<Result<T, Failure>>>;

/// Repositories per batched token. distribution parses and verifies the whole JWT on every
/// request, so a token for 100 repositories (~11 KB) made each HEAD cost the registry ~50%
/// more CPU than a 16-repository one (~3 KB), measured with scripts/bench.
const TOKEN_BATCH: usize = 16;
/// Token requests in flight while prefetching.
const TOKEN_BATCH_CONCURRENCY: usize = 8;

/// Per registry host: the ping answer and per-repository auth, each computed once.
#[derive(Default)]
pub(super) struct HostState {
    challenge: OnceCell<Result<Option<Challenge>, Failure>>,
    credentials: Mutex<HashMap<String, Shared<Option<Arc<Found>>>>>,
    authorization: Mutex<HashMap<String, Shared<Option<HeaderValue>>>>,
}

/// A registry client shared by all resolutions of one run.
pub struct Client {
    pub(super) transport: Transport,
    credentials: CredentialStore,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

/// Gets or creates the shared cell under `key`.
fn cell<T>(map: &Mutex<HashMap<String, Shared<T>>>, key: &str) -> Shared<T> {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(key.to_owned()).or_default().clone()
}

impl Client {
    /// A client over `transport`, reading credentials from `credentials`.
    pub fn new(transport: Transport, credentials: CredentialStore) -> Client {
        Client {
            transport,
            credentials,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn host(&self, api_host: &str) -> Arc<HostState> {
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hosts.entry(api_host.to_owned()).or_default().clone()
    }

    /// The auth challenge of a host, from one `GET /v2/` per run.
    pub(super) async fn challenge(
        &self,
        host: &HostState,
        api_host: &str,
    ) -> Result<Option<Challenge>, Failure> {
        host.challenge
            .get_or_init(|| async {
                let (_, response) = self.transport.ping(api_host).await?;
                match response.status() {
                    StatusCode::UNAUTHORIZED => Ok(auth::parse_challenges(response.headers())),
                    status if status.is_success() => Ok(None),
                    status => Err(Failure::UnexpectedStatus {
                        host: api_host.to_owned(),
                        status: status.as_u16(),
                        what: "GET /v2/".to_owned(),
                        hint: "this does not look like a Docker/OCI registry; check the host name and port".to_owned(),
                    }),
                }
            })
            .await
            .clone()
    }

    pub(super) async fn credential(
        &self,
        host: &HostState,
        reference: &Reference,
    ) -> Result<Option<Arc<Found>>, Failure> {
        cell(&host.credentials, reference.repository())
            .get_or_init(|| async {
                match self
                    .credentials
                    .lookup(reference.registry(), reference.repository())
                    .await
                {
                    Ok(found) => Ok(found.map(Arc::new)),
                    Err(error) => Err(Failure::Credentials {
                        detail: error.to_string(),
                    }),
                }
            })
            .await
            .clone()
    }

    /// Fetches tokens covering many repositories of one host at once (`TOKEN_BATCH` scopes
    /// per request, requests in parallel), so N repositories cost N/16 token requests
    /// instead of N. Best effort: on any failure the per-repository path runs.
    pub async fn prefetch_tokens(&self, references: &[&Reference]) {
        let Some(first) = references.first() else {
            return;
        };
        let host = self.host(first.api_host());
        let Ok(Some(Challenge::Bearer { realm, service })) =
            self.challenge(&host, first.api_host()).await
        else {
            return;
        };
        // Group by credential source: one request can only carry one identity.
        type Group = (Option<Arc<Found>>, Vec<String>, HashSet<String>);
        let mut groups: HashMap<Option<String>, Group> = HashMap::new();
        for reference in references {
            let Ok(found) = self.credential(&host, reference).await else {
                continue;
            };
            let key = found.as_ref().map(|f| f.source.to_string());
            let (_, repositories, seen) = groups
                .entry(key)
                .or_insert_with(|| (found.clone(), Vec::new(), HashSet::new()));
            if seen.insert(reference.repository().to_owned()) {
                repositories.push(reference.repository().to_owned());
            }
        }
        let batches = groups
            .into_values()
            .filter(|(_, repositories, _)| repositories.len() >= 2)
            .flat_map(|(found, repositories, _)| {
                repositories
                    .chunks(TOKEN_BATCH)
                    .map(|chunk| (found.clone(), chunk.to_vec()))
                    .collect::<Vec<_>>()
            });
        let (host, realm, service) = (&host, &realm, &service);
        stream::iter(batches)
            .for_each_concurrent(TOKEN_BATCH_CONCURRENCY, |(found, chunk)| async move {
                let scopes: Vec<String> = chunk.iter().map(|r| auth::pull_scope(r)).collect();
                let token = auth::fetch_token(
                    &self.transport,
                    realm,
                    service.as_deref(),
                    &scopes,
                    found.as_deref(),
                )
                .await;
                let Some(header) = token.ok().and_then(|t| auth::bearer_header(&t)) else {
                    return;
                };
                for repository in &chunk {
                    let _ = cell(&host.authorization, repository).set(Ok(Some(header.clone())));
                }
            })
            .await;
    }

    /// The `Authorization` header for a repository, or `None` for anonymous access.
    async fn authorization(
        &self,
        host: &HostState,
        reference: &Reference,
        challenge: &Option<Challenge>,
    ) -> Result<Option<HeaderValue>, Failure> {
        let Some(challenge) = challenge else {
            return Ok(None);
        };
        cell(&host.authorization, reference.repository())
            .get_or_init(|| self.authorize(host, reference, challenge))
            .await
            .clone()
    }

    async fn authorize(
        &self,
        host: &HostState,
        reference: &Reference,
        challenge: &Challenge,
    ) -> Result<Option<HeaderValue>, Failure> {
        let found = self.credential(host, reference).await?;
        match challenge {
            Challenge::Basic => Ok(found.and_then(|f| auth::basic_header(&f.credential))),
            Challenge::Bearer { realm, service } => {
                let scopes = [auth::pull_scope(reference.repository())];
                let token = auth::fetch_token(
                    &self.transport,
                    realm,
                    service.as_deref(),
                    &scopes,
                    found.as_deref(),
                )
                .await
                .map_err(|failure| registry_answer(failure, reference))?;
                Ok(auth::bearer_header(&token))
            }
        }
    }

    /// Sends a manifest request with auth; on a 401 (expired or too narrow a token) it
    /// fetches a fresh single-repository token once and retries.
    async fn manifest_request(
        &self,
        reference: &Reference,
        method: Method,
        target: &str,
    ) -> Result<Response, Failure> {
        let api_host = reference.api_host();
        let host = self.host(api_host);
        let challenge = self.challenge(&host, api_host).await?;
        let url = self.manifest_url(reference, target);
        self.authorized_request(&host, reference, &challenge, method, &url, target)
            .await
    }

    /// `scheme://host/v2/<repository>/manifests/<tag or digest>` at the reference's registry.
    fn manifest_url(&self, reference: &Reference, target: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{target}",
            self.transport.base_url(reference.api_host()),
            reference.repository()
        )
    }

    /// Sends `method url` with the repository's authorization; `reference` decides the
    /// credentials and token scope, `host` the cached auth state.
    pub(super) async fn authorized_request(
        &self,
        host: &HostState,
        reference: &Reference,
        challenge: &Option<Challenge>,
        method: Method,
        url: &str,
        target: &str,
    ) -> Result<Response, Failure> {
        let mut authorization = self.authorization(host, reference, challenge).await?;
        let mut retried = false;
        loop {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_static(manifest::ACCEPT));
            if let Some(value) = &authorization {
                headers.insert(AUTHORIZATION, value.clone());
            }
            let request = transport::Request {
                method: method.clone(),
                url,
                headers,
                form: None,
            };
            let response = self.transport.send(request).await?;
            if response.status() != StatusCode::UNAUTHORIZED || retried {
                return self.check_status(response, host, reference, target).await;
            }
            retried = true;
            let fresh_challenge = auth::parse_challenges(response.headers()).or(challenge.clone());
            let Some(fresh_challenge) = fresh_challenge else {
                return self.check_status(response, host, reference, target).await;
            };
            authorization = self.authorize(host, reference, &fresh_challenge).await?;
        }
    }

    async fn check_status(
        &self,
        response: Response,
        host: &HostState,
        reference: &Reference,
        target: &str,
    ) -> Result<Response, Failure> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let credentials = || async {
            self.credential(host, reference)
                .await
                .ok()
                .flatten()
                .map(|f| f.source.to_string())
        };
        let what = if target.contains(':') {
            format!("digest {target}")
        } else {
            format!("tag {target:?}")
        };
        Err(match status {
            StatusCode::NOT_FOUND => Failure::NotFound {
                registry: reference.registry().to_owned(),
                repository: reference.repository().to_owned(),
                what,
            },
            StatusCode::UNAUTHORIZED => Failure::Unauthorized {
                registry: reference.registry().to_owned(),
                credentials: credentials().await,
            },
            StatusCode::FORBIDDEN => Failure::Forbidden {
                registry: reference.registry().to_owned(),
                repository: reference.repository().to_owned(),
                credentials: credentials().await,
            },
            status => Failure::UnexpectedStatus {
                host: reference.api_host().to_owned(),
                status: status.as_u16(),
                what: format!("the manifest request for {what}"),
                hint: "check the registry's health, or report the response to its operators"
                    .to_owned(),
            },
        })
    }

    /// Resolves the reference's tag (any digest in it is ignored) to the digest
    /// `docker pull` would see; with `platform`, to that platform's manifest.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<Resolution, Failure> {
        let api_host = reference.api_host();
        let host = self.host(api_host);
        let challenge = self.challenge(&host, api_host).await?;
        let tag = reference.tag_or_default();
        let url = self.manifest_url(reference, tag);
        self.resolve_tag_at(&host, reference, &challenge, &url, tag, platform)
            .await
    }

    /// Resolves `tag` at `url` with `reference`'s credentials and token scope: `HEAD` and
    /// `Docker-Content-Digest` when that suffices, else `GET` and the sha256 of the exact
    /// bytes, checked against the header. Shared by registries and mirror endpoints.
    pub(super) async fn resolve_tag_at(
        &self,
        host: &HostState,
        reference: &Reference,
        challenge: &Option<Challenge>,
        url: &str,
        tag: &str,
        platform: Option<&Platform>,
    ) -> Result<Resolution, Failure> {
        if platform.is_none() {
            let head = self
                .authorized_request(host, reference, challenge, Method::HEAD, url, tag)
                .await;
            match head {
                Ok(response) => {
                    if let Some(length) = announced_length(&response) {
                        if length > MANIFEST_SIZE_LIMIT {
                            return Err(Failure::ManifestTooLarge { size: Some(length) });
                        }
                    }
                    if let Some(digest) = announced_digest(&response)? {
                        let content_type = content_type(&response);
                        return Ok(Resolution {
                            digest,
                            media_type: manifest::media_type_of(content_type.as_deref(), None),
                            platform: None,
                        });
                    }
                }
                // Some registries do not implement HEAD; GET below answers instead.
                Err(Failure::UnexpectedStatus { status: 405, .. }) => {}
                Err(failure) => return Err(failure),
            }
        }
        let response = self
            .authorized_request(host, reference, challenge, Method::GET, url, tag)
            .await?;
        let (digest, media_type, body) = verified_manifest(response).await?;
        match platform {
            Some(wanted) if manifest::is_index(&media_type) => {
                let (child, child_type) = manifest::select_platform(&body, wanted)?;
                Ok(Resolution {
                    digest: child,
                    media_type: child_type,
                    platform: Some(wanted.to_string()),
                })
            }
            // A single-platform image: what the tag points to is what every node pulls.
            _ => Ok(Resolution {
                digest,
                media_type,
                platform: platform.map(ToString::to_string),
            }),
        }
    }

    /// Whether the repository has a manifest with `digest` (`HEAD` by digest).
    pub async fn manifest_exists(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<bool, Failure> {
        match self
            .manifest_request(reference, Method::HEAD, digest.as_str())
            .await
        {
            Ok(_) => Ok(true),
            Err(Failure::NotFound { .. }) => Ok(false),
            Err(failure) => Err(failure),
        }
    }
}

/// A token server's 401 or 403 is the registry's refusal: name the registry (the host to
/// `docker login` to) and the repository, not the token endpoint's host and scope list.
fn registry_answer(failure: Failure, reference: &Reference) -> Failure {
    match failure {
        Failure::Unauthorized { credentials, .. } => Failure::Unauthorized {
            registry: reference.registry().to_owned(),
            credentials,
        },
        Failure::Forbidden { credentials, .. } => Failure::Forbidden {
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
            credentials,
        },
        other => other,
    }
}

/// Reads a manifest body (capped) and returns its digest, media type and exact bytes,
/// failing when the bytes do not hash to the announced `Docker-Content-Digest`.
async fn verified_manifest(response: Response) -> Result<(Digest, String, Vec<u8>), Failure> {
    let claimed = announced_digest(&response)?;
    let content_type = content_type(&response);
    let body = transport::read_capped(response, MANIFEST_SIZE_LIMIT).await?;
    let actual = match &claimed {
        Some(claimed) => claimed.same_algorithm_of(&body),
        None => Digest::sha256_of(&body),
    };
    if let Some(claimed) = claimed {
        if claimed != actual {
            return Err(Failure::DigestMismatch {
                claimed: claimed.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    let media_type = manifest::media_type_of(content_type.as_deref(), Some(&body));
    Ok((actual, media_type, body))
}

fn content_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `Content-Length` header as sent. Not `Response::content_length`: that is the size of
/// the body reqwest will deliver, which for a `HEAD` answer is always 0, whatever the header
/// announces.
fn announced_length(response: &Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_LENGTH)?.to_str().ok()?;
    value.trim().parse().ok()
}

/// The `Docker-Content-Digest` header, if present; a malformed one is an error, not absent.
fn announced_digest(response: &Response) -> Result<Option<Digest>, Failure> {
    let Some(value) = response.headers().get("docker-content-digest") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    Digest::parse(text)
        .map(Some)
        .map_err(|reason| Failure::InvalidManifest {
            detail: format!("its Docker-Content-Digest header {text:?} {reason}"),
        })
}
