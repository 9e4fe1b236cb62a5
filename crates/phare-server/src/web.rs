//! The node's own web page for clinicians and researchers: one HTML page, its script and style
//! sheet (hand-written, embedded in the binary, nothing fetched from elsewhere), and
//! `GET /whoami`, which tells the page who the node thinks the caller is. The page itself
//! asks the Beacon API like any other client, with the caller's bearer token.
//!
//! The page and its assets are the same for everyone and carry no data: the gate serves them
//! without reading credentials ([`serves_without_credentials`]). `/whoami` goes through the gate
//! like every data endpoint: authenticated, and audited ([`WHOAMI_PATH`]).

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use phare_access::policy::may_query;
use phare_access::{Caller, CountScope};
use serde_json::{Value, json};

use crate::access::visible_datasets;
use crate::guard::RequestContext;
use crate::{ApiError, AppState};

/// Who the node thinks the caller is. Outside `/api`: it is not a Beacon document.
pub(crate) const WHOAMI_PATH: &str = "/whoami";

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const ICON_SVG: &str = include_str!("../web/icon.svg");

/// Every path of the page, with its content type and body.
const ASSETS: [(&str, &str, &str); 4] = [
    ("/", "text/html; charset=utf-8", INDEX_HTML),
    ("/assets/app.js", "text/javascript; charset=utf-8", APP_JS),
    ("/assets/app.css", "text/css; charset=utf-8", APP_CSS),
    ("/assets/icon.svg", "image/svg+xml", ICON_SVG),
];

/// Only files of this origin, no inline script or style, no framing, no form posted elsewhere:
/// a token pasted into the page can only travel to this node.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The entry types the page queries: variants, and individuals for counts by filter.
const PAGE_ENTRY_TYPES: [&str; 2] = ["genomicVariation", "individual"];

/// Paths the gate serves without reading credentials: the page and its assets.
pub(crate) fn serves_without_credentials(path: &str) -> bool {
    ASSETS.iter().any(|(asset, ..)| *asset == path)
}

/// The page's routes.
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new().route(WHOAMI_PATH, get(whoami));
    for (path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { asset(content_type, body) }));
    }
    router
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page's URL holds the query (in its fragment, never sent): no referrer leaves it.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // A new binary may bring a new page: revalidate rather than run a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The caller as the node verified it, and per dataset the tier and what the policy allows for
/// variants and individuals. Never the token, never a claim the node does not use.
async fn whoami(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
) -> Result<Response, ApiError> {
    let caller = &context.caller;
    let mut datasets: Vec<Value> = Vec::new();
    if may_query(caller) {
        for entry_type in PAGE_ENTRY_TYPES {
            for seen in visible_datasets(&state, caller, entry_type, None, false).await? {
                let index = match datasets.iter().position(|known| known["id"] == seen.dataset.id) {
                    Some(index) => index,
                    None => {
                        datasets.push(json!({
                            "id": seen.dataset.id,
                            "name": seen.dataset.name,
                            "assemblyId": seen.dataset.assembly.as_str(),
                            "tier": seen.access.tier.as_str(),
                            "synthetic": seen.dataset.synthetic,
                            "entryTypes": {},
                        }));
                        datasets.len() - 1
                    }
                };
                datasets[index]["entryTypes"][entry_type] = json!({
                    "maxGranularity": seen.access.rule.max.as_str(),
                    "idLookups": seen.access.rule.id_lookups,
                    "unfilteredQueries": seen.access.rule.unfiltered_queries,
                    // 0: exact counts; otherwise counts are rounded down to multiples of it.
                    "roundedTo": seen.access.min_count,
                    "researchScope": seen.access.scope == CountScope::Research,
                });
            }
        }
    }
    let mut response = Json(identity(caller, datasets)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn identity(caller: &Caller, datasets: Vec<Value>) -> Value {
    let space = if caller.care.is_some() {
        "care"
    } else if caller.subject.is_some() {
        "research"
    } else {
        "public"
    };
    let mut roles: Vec<&str> = Vec::new();
    if caller.care.is_some() {
        roles.push("clinician");
    }
    if caller.roles.platform.is_some() {
        roles.push("platform");
    }
    if caller.roles.partner {
        roles.push("partner");
    }
    if caller.roles.admin {
        roles.push("admin");
    }
    json!({
        "authenticated": caller.subject.is_some(),
        "subject": caller.subject,
        "issuer": caller.issuer,
        "space": space,
        "careCentre": caller.care.as_ref().map(|care| care.centre.clone()),
        "bonaFide": caller.bona_fide,
        "roles": roles,
        "highestTier": caller.highest_tier().as_str(),
        "researchPurpose": caller.purpose.as_ref().map(|purpose| json!({
            "duo": purpose.codes,
            "disease": purpose.disease,
        })),
        "mayQuery": may_query(caller),
        "datasets": datasets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_page_and_its_assets_are_served_without_credentials() {
        assert!(serves_without_credentials("/"));
        assert!(serves_without_credentials("/assets/app.js"));
        assert!(!serves_without_credentials("/assets/other.js"));
        assert!(!serves_without_credentials(WHOAMI_PATH));
        assert!(!serves_without_credentials("/api"));
        assert!(!serves_without_credentials("/api/g_variants"));
        assert!(!serves_without_credentials("/health"));
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin_and_runs_no_inline_script() {
        assert!(!INDEX_HTML.contains("<script>"), "inline script");
        assert!(!INDEX_HTML.contains("style="), "inline style");
        // The SVG namespace is a name, not a place anything is loaded from.
        let script = APP_JS.replace("http://www.w3.org/2000/svg", "");
        for text in [INDEX_HTML, &script, APP_CSS] {
            assert!(!text.contains("://"), "a URL to another origin");
        }
        assert!(
            !APP_JS.contains("localStorage"),
            "the token lives in sessionStorage only"
        );
    }
}
