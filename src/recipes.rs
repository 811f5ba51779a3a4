//! Ready-made [profiles](crate::profile) for common identity providers.
//!
//! Each function returns a [`Recipe`]: the issuer identifier in the provider's exact form,
//! where the keys are published, and an [`IssuerProfile`] for the provider's token shape.
//! [`McpAuthBuilder::recipe`](crate::McpAuthBuilder::recipe) trusts the issuer with keys
//! fetched from there and applies the profile.
//!
//! | provider | function | issuer (`iss`, byte for byte) | the profile sets |
//! |---|---|---|---|
//! | Auth0 | [`auth0`] | `https://{domain}/` (trailing slash) | scopes from `scope` (string) and `permissions` (array); client `client_id`, then `azp` |
//! | Okta (custom authorization server) | [`okta`] | `https://{domain}/oauth2/{server id}` | scopes from `scp` (array); client `cid`; requires `ver` = `1` (a number) |
//! | Microsoft Entra ID, v2.0 tokens | [`entra_v2`] | `https://login.microsoftonline.com/{tenant}/v2.0` | audience = application id; scopes from `scp` (string) and `roles` (array), read as `api://{application id}/{name}`; client `azp`; requires `azp`, `ver` = `"2.0"` and `tid` |
//! | Microsoft Entra ID, v1.0 tokens | [`entra_v1`] | `https://sts.windows.net/{tenant}/` (trailing slash) | audiences = application id and `api://{application id}`; scopes as v2.0; client `appid`; requires `appid`, `ver` = `"1.0"` and `tid` |
//! | Keycloak | [`keycloak`] | `{base url}/realms/{realm}` | scopes from `scope` (string); client `azp`; requires the claim `typ` = `"Bearer"` |
//! | Stytch Connected Apps | [`stytch`] | `https://{project domain}` | audience = the project id (or your custom audience); scopes from `scope` (string); client `client_id` |
//! | WorkOS AuthKit | [`workos`] | `https://{authkit domain}` | scopes from `scope`; client `client_id`, then `azp` |
//! | Ory Hydra, Ory Network | [`hydra`] | as configured (`urls.self.issuer`) | scopes from `scp` (array) and `scope` (string); client `client_id` |
//! | node `oidc-provider` | [`oidc_provider`] | as configured | `typ: at+jwt` required; scopes from `scope` (string); client `client_id` |
//! | Google | none: see [Google](#google) | | [`google_workspace_domain`] adds an `hd` policy to your own server's profile |
//!
//! Every recipe keeps the crate's checks: the signature with the issuer's keys only, `exp`,
//! `aud` naming your resource (or the alias listed), and the refusal of tokens carrying
//! ID-token claims (`nonce`, `at_hash`). Where a provider can only put something else in
//! `aud`, its section says what to configure there so that tokens name your server and no
//! other.
//!
//! # Using a recipe
//!
//! ```
//! use mcp_server_auth::{McpAuth, recipes};
//!
//! let tenant = "9122040d-6c67-4c5b-b112-36a304b66dad";
//! let application = "6e1f4c2a-57d0-4a6b-9c8e-0d3f5b2a1c7e";
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .recipe(recipes::entra_v2(tenant, application))
//!     .require_scope(format!("api://{application}/mcp.tools"))
//!     .build()?; // no I/O: keys are fetched on first use
//! assert_eq!(
//!     auth.metadata().authorization_servers,
//!     [format!("https://login.microsoftonline.com/{tenant}/v2.0")],
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Recipe::map_profile`] adds rules of your own (a required group, a
//! [policy](IssuerProfile::policy)); [`Recipe::new`] covers a provider or a deployment not
//! listed here (a sovereign cloud, a custom domain). To test your server offline, give a
//! `mcp_server_auth_dev::TestIssuer` the recipe's issuer and configure its keys with the
//! recipe's profile:
//!
//! ```
//! use mcp_server_auth::keys::Algorithm;
//! use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
//! use mcp_server_auth::validate::TokenErrorKind;
//! use mcp_server_auth::{McpAuth, recipes};
//! use serde_json::json;
//!
//! let (tenant, application) = ("9122040d-6c67-4c5b-b112-36a304b66dad", "6e1f4c2a");
//! let recipe = recipes::entra_v2(tenant, application);
//! let entra = TestIssuer::with_algorithm(recipe.issuer(), Algorithm::RS256);
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(recipe.issuer(), entra.keys())
//!     .profile(recipe.issuer(), recipe.profile().clone())
//!     .build()?;
//!
//! // An Entra v2.0 access token: `typ: JWT`, `aud` the application id, `scp` a string.
//! let shaped = || {
//!     entra.token().header("typ", "JWT").without_claim("client_id").audience(application)
//!         .claim("azp", "c1d2e3f4").claim("scp", "mcp.tools mcp.read")
//!         .claim("ver", "2.0").claim("tid", tenant)
//! };
//! let verified = auth.validator().validate(&shaped().sign(), unix_now())?;
//! // Read as the names clients request (see `entra_v2`).
//! assert_eq!(verified.scopes(), ["api://6e1f4c2a/mcp.tools", "api://6e1f4c2a/mcp.read"]);
//! assert_eq!(verified.client_id(), Some("c1d2e3f4"));
//!
//! // A v1.0 token of the same tenant is not what this recipe expects.
//! let v1 = shaped().claim("ver", "1.0").sign();
//! let refused = auth.validator().validate(&v1, unix_now()).unwrap_err();
//! assert_eq!(refused.kind(), TokenErrorKind::ClaimMismatch);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Google
//!
//! There is no Google recipe, because Google issues nothing an MCP server can accept:
//!
//! * Google's **access tokens** are opaque (`ya29.…`), issued for Google's own APIs only, and
//!   Google has no [RFC 7662] introspection endpoint (its `tokeninfo` endpoint is not one).
//! * Google's **ID tokens** are JWTs, but they are addressed to the client: `aud` is the OAuth
//!   client id of the application the user signed in to, and they carry `nonce` and
//!   `at_hash`. An ID token proves to that client who the user is; it grants nothing at any
//!   other server, and a server accepting it would accept every token of every application
//!   sharing that client id. The validator refuses ID tokens as access tokens whatever you
//!   configure (see [`crate::validate`]).
//!
//! To let Google accounts in, run an authorization server that federates Google sign-in
//! (Keycloak, Ory, Auth0, Okta and Entra ID all can) and issues its own access tokens for your
//! server, and use that server's recipe. To admit only the members of one Google Workspace,
//! have it copy Google's `hd` claim into its access tokens (in Keycloak, an "Attribute
//! Importer" mapper on the Google identity provider and a "User Attribute" token mapper) and
//! add [`google_workspace_domain`]:
//!
//! ```
//! use mcp_server_auth::{McpAuth, recipes};
//!
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .recipe(
//!         recipes::keycloak("https://sso.example.com", "staff")
//!             .map_profile(|p| recipes::google_workspace_domain(p, "example.com")),
//!     )
//!     .build()?;
//! assert_eq!(auth.metadata().authorization_servers, ["https://sso.example.com/realms/staff"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662

use serde_json::Value;

use crate::profile::{ClaimRequirement, IssuerProfile, ScopeClaim, ScopeFormat};
use crate::validate::TypPolicy;

/// An identity provider's issuer, key location and token profile. Made by the functions of
/// this module; adjust the profile with [`map_profile`](Self::map_profile).
#[derive(Debug, Clone)]
#[must_use]
pub struct Recipe {
    issuer: String,
    jwks_uri: Option<String>,
    profile: IssuerProfile,
}

impl Recipe {
    /// A recipe for `issuer`, whose keys are found by discovery unless
    /// [`with_jwks_uri`](Self::with_jwks_uri) names them.
    pub fn new(issuer: impl Into<String>, profile: IssuerProfile) -> Self {
        Recipe {
            issuer: issuer.into(),
            jwks_uri: None,
            profile,
        }
    }

    /// Fetch keys from `jwks_uri` instead of discovering it.
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// Changes the profile, for example to add a [policy](IssuerProfile::policy).
    pub fn map_profile(mut self, change: impl FnOnce(IssuerProfile) -> IssuerProfile) -> Self {
        self.profile = change(self.profile);
        self
    }

    /// The issuer identifier, exactly as the provider writes `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the keys are published, when not found by discovery.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// The token profile.
    pub fn profile(&self) -> &IssuerProfile {
        &self.profile
    }

    /// The issuer, key location and profile.
    pub fn into_parts(self) -> (String, Option<String>, IssuerProfile) {
        (self.issuer, self.jwks_uri, self.profile)
    }
}

/// `domain` as a bare host name: a leading `https://` and trailing slashes are dropped, so
/// that `example.com`, `https://example.com` and `https://example.com/` all give
/// `example.com`.
fn host(domain: impl Into<String>) -> String {
    let domain = domain.into();
    let host = domain.strip_prefix("https://").unwrap_or(&domain);
    host.trim_end_matches('/').to_owned()
}

/// `url` without trailing slashes.
fn base(url: impl Into<String>) -> String {
    let mut url = url.into();
    while url.ends_with('/') {
        url.pop();
    }
    url
}

fn space_delimited(name: &str) -> ScopeClaim {
    ScopeClaim::new(name).format(ScopeFormat::SpaceDelimited)
}

fn array(name: &str) -> ScopeClaim {
    ScopeClaim::new(name).format(ScopeFormat::Array)
}

/// Auth0: the tenant at `domain` (`my-tenant.us.auth0.com`, or your custom domain if clients
/// use it), issuer `https://{domain}/` with its trailing slash, keys at
/// `https://{domain}/.well-known/jwks.json`.
///
/// **Tokens.** RS256, `typ: JWT` (the "Auth0" token profile) or `at+jwt` (the "RFC 9068"
/// profile), both accepted. `aud` is the API identifier, as a string, or in an array with
/// `https://{domain}/userinfo` when `openid` was requested too. Scopes are in `scope`
/// (space-separated) and, with RBAC and "Add Permissions in the Access Token" on, in
/// `permissions` (an array); both are read. The client is `client_id` (RFC 9068 profile) or
/// `azp` (Auth0 profile). Machine tokens have `sub` = `{client id}@clients`.
///
/// **At Auth0.** Create an API whose Identifier is your MCP server's resource URL
/// (`https://mcp.example.com/mcp`), with signing algorithm RS256. Turn on the tenant's
/// **Resource Parameter Compatibility Profile** (Settings, Advanced): MCP clients name your
/// server with the RFC 8707 `resource` parameter, which Auth0 otherwise ignores, issuing an
/// opaque token for `/userinfo` that this crate cannot read. If a client sends both
/// `resource` and `audience`, `audience` wins.
///
/// **Gotchas.** The issuer ends in `/`: a configuration without it trusts nothing. A token
/// requested through a custom domain names that domain as its issuer.
pub fn auth0(domain: impl Into<String>) -> Recipe {
    let domain = host(domain);
    Recipe::new(
        format!("https://{domain}/"),
        IssuerProfile::new()
            .scope_claims([space_delimited("scope"), array("permissions")])
            .client_id_claims(["client_id", "azp"]),
    )
    .with_jwks_uri(format!("https://{domain}/.well-known/jwks.json"))
}

/// Okta: the custom authorization server `authorization_server_id` (`default`, or the id of
/// one you created, `aus…`) of the org at `domain` (`dev-123456.okta.com`, or your custom
/// URL domain), issuer `https://{domain}/oauth2/{authorization_server_id}`, keys at
/// `{issuer}/v1/keys`.
///
/// **Tokens.** RS256 without a `typ` header. `aud` is the authorization server's configured
/// Audience, a string. Scopes are in `scp`, an array (a string is refused). The client is
/// `cid`; `uid` is the user's Okta id; `ver` is the number `1` (required); `jti` starts with
/// `AT.`.
///
/// **At Okta.** Use a custom authorization server (API Access Management) whose Audience is
/// your MCP server's resource URL. Okta fixes the audience per authorization server, so give
/// each MCP server its own. Add your scopes (`mcp:tools`) and an access policy allowing your
/// clients.
///
/// **Gotchas.** Never the org authorization server (issuer `https://{domain}`, no
/// `/oauth2/…`): its access tokens are for Okta's own APIs, typed
/// `application/okta-internal-at+jwt`, and Okta says no one else should validate them. This
/// recipe cannot name it. The custom server named `default` is not the org server.
pub fn okta(domain: impl Into<String>, authorization_server_id: impl Into<String>) -> Recipe {
    let issuer = format!(
        "https://{}/oauth2/{}",
        host(domain),
        authorization_server_id.into()
    );
    let jwks_uri = format!("{issuer}/v1/keys");
    Recipe::new(
        issuer,
        IssuerProfile::new()
            .scope_claims([array("scp")])
            .client_id_claims(["cid"])
            .require_claim(ClaimRequirement::equals("ver", 1)),
    )
    .with_jwks_uri(jwks_uri)
}

/// The Entra ID scope and client settings both token versions share.
fn entra_profile(
    tenant_id: String,
    version: &'static str,
    client_id_claim: &'static str,
    application_id: &str,
) -> IssuerProfile {
    IssuerProfile::new()
        .scope_claims([space_delimited("scp"), array("roles")])
        // What clients request: `scp` and `roles` hold the names without the App ID URI.
        .scope_prefix(format!("api://{application_id}/"))
        .client_id_claims([client_id_claim])
        // Access tokens name their client; the ID tokens of the API's own registration, with
        // the same `aud`, do not.
        .require_claim(ClaimRequirement::present(client_id_claim))
        .require_claim(ClaimRequirement::equals("ver", version))
        .require_claim(ClaimRequirement::equals("tid", tenant_id))
}

/// Microsoft Entra ID, v2.0 access tokens of the tenant `tenant_id` (the directory's GUID, not
/// a domain name, `common` or `organizations`) for the API registered as `application_id`
/// (its application, or client, id). Issuer
/// `https://login.microsoftonline.com/{tenant_id}/v2.0`, keys at
/// `https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys`.
///
/// **Tokens.** RS256, `typ: JWT`. `aud` is always the application id, never the App ID URI
/// nor your resource URL, so the recipe accepts it as an audience. Delegated scopes are in
/// `scp` (space-separated, without the `api://…/` prefix); application permissions and app
/// roles are in `roles` (an array); both are read. The client is `azp`. The recipe requires
/// `azp`, `ver` = `"2.0"` and `tid` = `tenant_id`.
///
/// **At Entra.** In the API's app registration, set `accessTokenAcceptedVersion` (in
/// `api.requestedAccessTokenVersion` of the Graph manifest) to `2`: the API, not the endpoint
/// the client calls, decides the token version. Expose your scopes ("Expose an API"), and
/// declare app roles of the same names for clients without a user.
///
/// **Scope names.** Clients request a scope by its full name
/// (`api://{application_id}/mcp.tools`), while `scp` and `roles` hold the short name
/// (`mcp.tools`). The recipe reads them with the prefix `api://{application_id}/`
/// ([`IssuerProfile::scope_prefix`]), so require and publish the full names
/// (`require_scope("api://…/mcp.tools")`): then `scopes_supported` and step-up challenges
/// name scopes Entra clients can ask for. With a custom App ID URI, set its prefix with
/// [`Recipe::map_profile`].
///
/// **Gotchas.** Entra does not take the RFC 8707 `resource` parameter. One recipe
/// covers one tenant: for a multi-tenant API add one per tenant you admit. Do not sign users
/// in with the API's own registration: its ID tokens name the application id in `aud` as
/// well (the recipe refuses them, as they carry no `azp`, but keep the two apart).
/// Tokens for
/// Microsoft Graph and other Microsoft APIs cannot be validated by anyone but Microsoft.
/// Sovereign clouds: build a [`Recipe::new`] with this recipe's profile and your cloud's
/// issuer and keys.
pub fn entra_v2(tenant_id: impl Into<String>, application_id: impl Into<String>) -> Recipe {
    let tenant_id = tenant_id.into();
    let application_id = application_id.into();
    Recipe::new(
        format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
        entra_profile(tenant_id.clone(), "2.0", "azp", &application_id).audience(application_id),
    )
    .with_jwks_uri(format!(
        "https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"
    ))
}

/// Microsoft Entra ID, v1.0 access tokens of the tenant `tenant_id` (the directory's GUID) for
/// the API registered as `application_id`. Issuer `https://sts.windows.net/{tenant_id}/`,
/// with its trailing slash; keys at
/// `https://login.microsoftonline.com/{tenant_id}/discovery/keys`.
///
/// **Tokens.** RS256, `typ: JWT`, with an `x5t` header. `aud` is what the client asked for:
/// the application id or the App ID URI; the recipe accepts the application id and the
/// default App ID URI, `api://{application_id}`. Scopes are read from `scp` (space-separated)
/// and `roles` (an array), with the prefix `api://{application_id}/`, as in [`entra_v2`].
/// The client is `appid`. The recipe requires
/// `appid`, `ver` = `"1.0"` and `tid` = `tenant_id`.
///
/// **At Entra.** v1.0 tokens are issued when the API's `accessTokenAcceptedVersion` is `null`
/// (the default) or `1`. Prefer [`entra_v2`] for a new API (set it to `2`): personal
/// Microsoft accounts only get v2.0 tokens.
///
/// **Gotchas.** A custom App ID URI (`https://mcp.example.com`) is not accepted until you
/// add it: `entra_v1(tenant, app).map_profile(|p| p.audience("https://mcp.example.com"))`.
/// An App ID URI equal to your resource URL needs nothing. The issuer host is
/// `sts.windows.net`, not `login.microsoftonline.com`.
pub fn entra_v1(tenant_id: impl Into<String>, application_id: impl Into<String>) -> Recipe {
    let tenant_id = tenant_id.into();
    let application_id = application_id.into();
    Recipe::new(
        format!("https://sts.windows.net/{tenant_id}/"),
        entra_profile(tenant_id.clone(), "1.0", "appid", &application_id)
            .audience(format!("api://{application_id}"))
            .audience(application_id),
    )
    .with_jwks_uri(format!(
        "https://login.microsoftonline.com/{tenant_id}/discovery/keys"
    ))
}

/// Keycloak: the realm `realm` of the server at `base_url` (`https://sso.example.com`; include
/// the `/auth` prefix of Keycloak 16 and older), issuer `{base_url}/realms/{realm}` (a
/// trailing slash of `base_url` is dropped), keys at
/// `{issuer}/protocol/openid-connect/certs`.
///
/// **Tokens.** RS256, `typ: JWT`. The payload's own `typ` claim says what the token is:
/// `Bearer` for access tokens, `ID` for ID tokens, `Refresh` for refresh tokens; the recipe
/// requires `Bearer`, so an ID token is refused even when a mapper put your resource in its
/// `aud`. Scopes are in `scope` (space-separated). The client is `azp`. Roles
/// (`realm_access.roles`, `resource_access.{client}.roles`) are not scopes: check them with a
/// [policy](IssuerProfile::policy) or [`ClaimRequirement`] if you need them.
///
/// **At Keycloak.** Keycloak puts no audience of your choosing in access tokens by default
/// (often `account`, or no `aud` at all). Create a client scope holding an **Audience** mapper
/// with "Included Custom Audience" = your resource URL and "Add to access token" on, and give
/// it to the clients that call your server (as a default scope, or an optional one they
/// request). The experimental `resource-indicators` feature (Keycloak 26.6+) only narrows the
/// audiences mappers produced; it does not add one.
///
/// **Gotchas.** Lightweight access tokens leave most claims out; keep them off for clients of
/// your server.
pub fn keycloak(base_url: impl Into<String>, realm: impl Into<String>) -> Recipe {
    let issuer = format!("{}/realms/{}", base(base_url), realm.into());
    let jwks_uri = format!("{issuer}/protocol/openid-connect/certs");
    Recipe::new(
        issuer,
        IssuerProfile::new()
            .scope_claims([space_delimited("scope")])
            .client_id_claims(["azp"])
            .require_claim(ClaimRequirement::equals("typ", "Bearer")),
    )
    .with_jwks_uri(jwks_uri)
}

/// Stytch Connected Apps (Consumer or B2B): the project served at `project_domain` (its
/// custom domain, or the `….customers.stytch.com` domain Stytch assigned), issuer
/// `https://{project_domain}`, whose tokens name `audience`: the project id
/// (`project-live-…`), which Stytch puts in `aud` by default, or the custom audience you set
/// on your clients. Keys are found by discovery.
///
/// **Tokens.** RS256. `aud` is an array: the project id, plus the client's
/// `access_token_custom_audience` if set. Scopes are in `scope` (space-separated). The client
/// is `client_id`. `sub` is `user-…` (Consumer) or `member-…` (B2B).
///
/// **At Stytch.** Enable Connected Apps, and Dynamic Client Registration for MCP clients.
/// Clients must request tokens through `project_domain`: tokens obtained through
/// `stytch.com` name another issuer (documented as `stytch.com/{project id}`), which this
/// recipe does not trust.
///
/// # Security
/// Every access token of the project names the project id, so MCP servers trusting the same
/// project with the project id as `audience` accept each other's tokens. Run one server per
/// project, require scopes only that server's clients get, or set each client's
/// `access_token_custom_audience` to your resource URL and pass that as `audience`.
pub fn stytch(project_domain: impl Into<String>, audience: impl Into<String>) -> Recipe {
    Recipe::new(
        format!("https://{}", host(project_domain)),
        IssuerProfile::new()
            .audience(audience)
            .scope_claims([space_delimited("scope")])
            .client_id_claims(["client_id"]),
    )
}

/// WorkOS AuthKit, for MCP: the AuthKit domain `authkit_domain` (`your-app.authkit.app`, or
/// your custom authentication domain), issuer `https://{authkit_domain}`, keys at
/// `{issuer}/oauth2/jwks`.
///
/// **Tokens.** RS256. `aud` is your resource URL when the client named it with the RFC 8707
/// `resource` parameter and it is registered with WorkOS. Scopes are read from `scope`
/// (string or array); the client from `client_id`, then `azp`; `sub` is `user_…`.
///
/// **At WorkOS.** Register your resource URL as an MCP resource indicator (dashboard, or the
/// `authkit_oauth_resources` API). Without it, `aud` is the requesting client's id
/// (`client_…`, a different one for every dynamically registered client), and such tokens are
/// refused here: do not add them as audiences, that would accept tokens meant for other
/// servers.
///
/// **Gotchas.** AuthKit *session* tokens (issuer `https://api.workos.com/…`) are a different
/// thing, made for your own front end, and are not accepted.
pub fn workos(authkit_domain: impl Into<String>) -> Recipe {
    let issuer = format!("https://{}", host(authkit_domain));
    let jwks_uri = format!("{issuer}/oauth2/jwks");
    Recipe::new(
        issuer,
        IssuerProfile::new()
            .scope_claims(["scope"])
            .client_id_claims(["client_id", "azp"]),
    )
    .with_jwks_uri(jwks_uri)
}

/// Ory Hydra or Ory Network OAuth2, issuer `issuer` verbatim: copy the `issuer` member of
/// `{public url}/.well-known/openid-configuration` (`urls.self.issuer`; on Ory Network
/// `https://{project slug}.projects.oryapis.com`), trailing slash or not. Keys at
/// `{issuer}/.well-known/jwks.json`.
///
/// **Tokens.** Opaque (`ory_at_…`) by default; JWTs (RS256, `typ: JWT`) with
/// `strategies.access_token: jwt`, globally or per client. A JWT's `aud` is always an array,
/// empty unless the client requested audiences with Hydra's `audience` parameter (each
/// allow-listed on the client). Scopes are in `scp` (an array) or, depending on
/// configuration, `scope` (a string); both are read. The client is `client_id`. Your custom
/// session claims sit under `ext` unless allow-listed to the top level.
///
/// **At Hydra.** Allow your resource URL as an audience of your clients, and make them send
/// it as `audience` (Hydra does not take RFC 8707 `resource`); grant it at consent
/// (`grant_access_token_audience`).
///
/// **Opaque tokens** need introspection ([`crate::introspect`], feature `remote`) at Hydra's
/// admin API, which has no client authentication: keep it on a private network.
///
/// ```
/// use mcp_server_auth::introspect::Introspection;
/// use mcp_server_auth::{McpAuth, recipes};
///
/// let recipe = recipes::hydra("https://auth.example.com");
/// let issuer = recipe.issuer().to_owned();
/// let auth = McpAuth::builder("https://mcp.example.com/mcp")
///     .recipe(recipe) // JWTs: verified with the published keys
///     .introspection(
///         issuer.clone(), // everything else: asked of the admin API
///         Introspection::without_client_authentication()
///             .endpoint("https://hydra-admin.internal/admin/oauth2/introspect"),
///     )
///     .build()?;
/// assert_eq!(auth.metadata().authorization_servers, [issuer]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hydra(issuer: impl Into<String>) -> Recipe {
    let issuer = issuer.into();
    let jwks_uri = format!("{}/.well-known/jwks.json", base(issuer.as_str()));
    Recipe::new(
        issuer,
        IssuerProfile::new()
            .scope_claims([array("scp"), space_delimited("scope")])
            .client_id_claims(["client_id"]),
    )
    .with_jwks_uri(jwks_uri)
}

/// node `oidc-provider` (panva) with `features.resourceIndicators`, issuer `issuer` exactly as
/// passed to `new Provider(issuer, …)`. Keys are found by discovery.
///
/// **Tokens.** JWTs only when `getResourceServerInfo` returns `accessTokenFormat: 'jwt'` for
/// your resource (opaque otherwise); then strictly RFC 9068: `typ: at+jwt` (required here, so
/// an ID token or any other JWT of the provider is refused), `aud` the `audience` you
/// returned, scopes in `scope` (space-separated), the client in `client_id`. `sub` is the
/// client id for client-credentials tokens.
///
/// **At the provider.** In `getResourceServerInfo`, recognise your resource URL and return
/// `{ audience: resourceIndicator, scope: 'mcp:tools …', accessTokenFormat: 'jwt',
/// jwt: { sign: { alg: 'RS256' } } }`, throwing `InvalidTarget` for other resources.
///
/// **Gotchas.** JWT access tokens are not stored, so revoking one has no effect before it
/// expires; keep `accessTokenTTL` short.
pub fn oidc_provider(issuer: impl Into<String>) -> Recipe {
    Recipe::new(
        issuer,
        IssuerProfile::new()
            .typ(TypPolicy::Strict)
            .scope_claims([space_delimited("scope")])
            .client_id_claims(["client_id"]),
    )
}

/// The fixed `error_description` of the policy [`google_workspace_domain`] adds.
pub const GOOGLE_WORKSPACE_DENIED: &str =
    "Only members of the Google Workspace domain may use this server";

/// Adds to `profile` a [policy](IssuerProfile::policy) admitting only tokens whose `hd` claim
/// is `domain` (ASCII case-insensitively): members of that Google Workspace. Others, including
/// personal Google accounts, which have no `hd`, get 403 `access_denied` with
/// [`GOOGLE_WORKSPACE_DENIED`].
///
/// For the access tokens of an authorization server you run that federates Google sign-in and
/// copies Google's `hd` claim into them (see [Google](self#google)); `hd` from any other
/// source proves nothing. Calling it twice requires both domains, which no token has: for
/// several domains, write your own policy.
///
/// ```
/// use mcp_server_auth::{McpAuth, recipes};
///
/// let recipe = recipes::hydra("https://auth.example.com")
///     .map_profile(|profile| recipes::google_workspace_domain(profile, "example.com"));
/// let auth = McpAuth::builder("https://mcp.example.com/mcp").recipe(recipe).build()?;
/// assert_eq!(auth.metadata().authorization_servers, ["https://auth.example.com"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn google_workspace_domain(profile: IssuerProfile, domain: impl Into<String>) -> IssuerProfile {
    let domain = domain.into();
    profile.policy(GOOGLE_WORKSPACE_DENIED, move |token| {
        token
            .claims()
            .get("hd")
            .and_then(Value::as_str)
            .is_some_and(|hd| hd.eq_ignore_ascii_case(&domain))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_base_urls_are_normalised() {
        assert_eq!(host("example.com"), "example.com");
        assert_eq!(host("https://example.com/"), "example.com");
        assert_eq!(host("https://example.com//"), "example.com");
        assert_eq!(
            base("https://sso.example.com/auth/"),
            "https://sso.example.com/auth"
        );
        assert_eq!(
            auth0("https://t.auth0.com/").issuer(),
            "https://t.auth0.com/"
        );
        assert_eq!(
            keycloak("https://sso.example.com/", "r").issuer(),
            "https://sso.example.com/realms/r"
        );
        assert_eq!(
            hydra("https://h.example.com/").jwks_uri(),
            Some("https://h.example.com/.well-known/jwks.json")
        );
    }
}
