//! The registry auth dance: parse `WWW-Authenticate`, fetch bearer tokens, build headers.
//!
//! Tokens are requested with pull scope only. Several repositories can share one token
//! request (token servers accept repeated `scope` parameters), which turns N repositories
//! into one round trip; the caller falls back to one scope per request when that fails.

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::Failure;
use super::credentials::{Credential, Found};
use super::transport::{self, Request, Transport, host_of};

/// What a registry asked for in its 401 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic with the registry itself.
    Basic,
    /// OAuth2-style bearer token from `realm`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// `service` parameter to pass back.
        service: Option<String>,
    },
}

/// Reads the strongest challenge from `WWW-Authenticate` headers (Bearer beats Basic).
pub fn parse_challenges(headers: &HeaderMap) -> Option<Challenge> {
    let mut basic = false;
    for value in headers.get_all(reqwest::header::WWW_AUTHENTICATE) {
        let Ok(text) = value.to_str() else { continue };
        let (scheme, params) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let params = parse_params(params);
            let get = |key: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone())
            };
            if let Some(realm) = get("realm") {
                return Some(Challenge::Bearer {
                    realm,
                    service: get("service"),
                });
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic = true;
        }
    }
    basic.then_some(Challenge::Basic)
}

/// Parses `key="quoted, value",key2=token` auth parameters (RFC 7235).
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    params
}

/// `repository:NAME:pull`.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// `Authorization: Basic …` for a username/password credential.
pub fn basic_header(credential: &Credential) -> Option<HeaderValue> {
    match credential {
        Credential::Basic { username, password } => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let mut value = transport::header_value(&format!("Basic {encoded}"))?;
            value.set_sensitive(true);
            Some(value)
        }
        Credential::IdentityToken(_) => None,
    }
}

/// `Authorization: Bearer …`.
pub fn bearer_header(token: &str) -> Option<HeaderValue> {
    let mut value = transport::header_value(&format!("Bearer {token}"))?;
    value.set_sensitive(true);
    Some(value)
}

/// Asks the token server for a pull token covering `scopes`.
pub async fn fetch_token(
    transport: &Transport,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credential: Option<&Found>,
) -> Result<String, Failure> {
    let realm_shown = realm.split('?').next().unwrap_or(realm).to_owned();
    let mut url = reqwest::Url::parse(realm).map_err(|e| Failure::TokenResponse {
        realm: realm_shown.clone(),
        detail: format!(
            "is not a valid URL ({e}); the registry's WWW-Authenticate header is broken"
        ),
    })?;
    if credential.is_some()
        && url.scheme() == "http"
        && !transport.allows_plain_http(host_of(realm))
    {
        return Err(Failure::InsecureCredentials {
            host: host_of(realm).to_owned(),
        });
    }
    let credential_source = credential.map(|found| found.source.to_string());
    let response = match credential.map(|found| &found.credential) {
        Some(Credential::IdentityToken(refresh_token)) => {
            // Docker exchanges identity tokens with an OAuth2 POST; scopes are space-separated.
            let scope = scopes.join(" ");
            let mut form: Vec<(&str, &str)> = vec![
                ("grant_type", "refresh_token"),
                ("client_id", "tf-pin"),
                ("refresh_token", refresh_token),
                ("scope", &scope),
            ];
            if let Some(service) = service {
                form.push(("service", service));
            }
            let req = Request {
                method: Method::POST,
                url: realm,
                headers: HeaderMap::new(),
                form: Some(&form),
            };
            transport.send(req).await?
        }
        basic => {
            {
                let mut query = url.query_pairs_mut();
                if let Some(service) = service {
                    query.append_pair("service", service);
                }
                for scope in scopes {
                    query.append_pair("scope", scope);
                }
            }
            let mut req = transport::request(Method::GET, url.as_str());
            if let Some(value) = basic.and_then(basic_header) {
                req.headers.insert(AUTHORIZATION, value);
            }
            transport.send(req).await?
        }
    };
    match response.status() {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => {
            return Err(Failure::Unauthorized {
                registry: host_of(realm).to_owned(),
                credentials: credential_source,
            });
        }
        StatusCode::FORBIDDEN => {
            return Err(Failure::Forbidden {
                registry: host_of(realm).to_owned(),
                repository: scopes.join(", "),
                credentials: credential_source,
            });
        }
        status => {
            return Err(Failure::TokenResponse {
                realm: realm_shown,
                detail: format!("answered HTTP {}; try again later", status.as_u16()),
            });
        }
    }
    let body = transport::read_capped(response, 1024 * 1024).await?;
    #[derive(serde::Deserialize)]
    struct TokenBody {
        token: Option<String>,
        access_token: Option<String>,
    }
    let parsed: TokenBody = serde_json::from_slice(&body).map_err(|_| Failure::TokenResponse {
        realm: realm_shown.clone(),
        detail: "answered with something that is not token JSON".to_owned(),
    })?;
    parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or(Failure::TokenResponse {
            realm: realm_shown,
            detail: "answered without a token".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                reqwest::header::WWW_AUTHENTICATE,
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn parses_challenges() {
        let table: &[(&[&str], Option<Challenge>)] = &[
            (
                &[
                    r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                ],
                Some(Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                }),
            ),
            (
                &[
                    r#"bearer realm="https://ghcr.io/token", service="ghcr.io",scope="repository:o/r:pull""#,
                ],
                Some(Challenge::Bearer {
                    realm: "https://ghcr.io/token".into(),
                    service: Some("ghcr.io".into()),
                }),
            ),
            (&[r#"Basic realm="Registry Realm""#], Some(Challenge::Basic)),
            (
                &[r#"Basic realm="x""#, r#"Bearer realm="https://t/x?a=1""#],
                Some(Challenge::Bearer {
                    realm: "https://t/x?a=1".into(),
                    service: None,
                }),
            ),
            (
                &[r#"Bearer realm=unquoted,service=s"#],
                Some(Challenge::Bearer {
                    realm: "unquoted".into(),
                    service: Some("s".into()),
                }),
            ),
            (
                &[r#"Bearer realm="a\"b""#],
                Some(Challenge::Bearer {
                    realm: "a\"b".into(),
                    service: None,
                }),
            ),
            (&[r#"Bearer service="no-realm""#], None),
            (&["Negotiate"], None),
            (&[], None),
        ];
        for (values, expected) in table {
            assert_eq!(&parse_challenges(&headers(values)), expected, "{values:?}");
        }
    }

    #[test]
    fn basic_header_is_sensitive() {
        let credential = Credential::Basic {
            username: "u".into(),
            password: "p:w".into(),
        };
        let value = basic_header(&credential).unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "Basic dTpwOnc=");
    }
}
