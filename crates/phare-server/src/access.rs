//! Applies the access policy to a request: which datasets the caller sees for an entry type and
//! how much of each, data-use matching, and the query budgets.

use std::time::Duration;

use phare_access::duo::{Compatibility, DataUse, match_purpose};
use phare_access::policy::{Access, DatasetPolicy, PolicyEntry, access, may_query};
use phare_access::suppression::disclose;
use phare_access::{Caller, Tier};
use phare_beacon::BeaconError;
use phare_beacon::response::DatasetAnswer;
use phare_domain::Granularity;
use phare_store::{BudgetDecision, Dataset};
use serde_json::Value;

use crate::catalog::Datasets;
use crate::guard::RequestContext;
use crate::{ApiError, AppState};

/// How many queries one caller may send in a window: per user and dataset, and per client
/// address for anonymous callers. `queries` 0 switches budgets off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryBudget {
    pub queries: u32,
    pub window: Duration,
}

/// A dataset the caller may see, with how much of it.
#[derive(Clone, Debug)]
pub(crate) struct Visible {
    pub dataset: std::sync::Arc<Dataset>,
    pub access: Access,
}

/// The dataset's canonical URL: what a `ControlledAccessGrants` visa names.
pub(crate) fn dataset_url(state: &AppState, dataset_id: &str) -> String {
    format!("{}/datasets/{dataset_id}", state.identity().base_url)
}

fn dataset_policy(dataset: &Dataset) -> DatasetPolicy {
    let entries = dataset
        .policies
        .iter()
        .filter_map(|row| {
            let tier = row.tier.parse::<Tier>().ok()?;
            Some(PolicyEntry {
                tier,
                entry_type: row.entry_type.clone(),
                rule: phare_access::policy::EntryRule {
                    max: row.max_granularity,
                    id_lookups: row.id_lookups,
                    unfiltered_queries: row.unfiltered_queries,
                },
            })
        })
        .collect();
    DatasetPolicy {
        public_max: dataset.anonymous_max,
        entries,
        min_count: dataset.min_count,
    }
}

/// The datasets `caller` sees for `entry_type`, restricted to `wanted` when given. A dataset the
/// caller may not see is reported exactly like one that does not exist (404), so an answer
/// never hints at hidden data; a dataset whose data-use conditions exclude the caller's purpose
/// does not clearly allow is hidden the same way.
///
/// With `test_mode` only synthetic datasets are read (`testMode=true`: conformance tools and
/// trials never touch patients' data).
pub(crate) async fn visible_datasets(
    state: &AppState,
    caller: &Caller,
    entry_type: &str,
    wanted: Option<&[String]>,
    test_mode: bool,
) -> Result<Vec<Visible>, ApiError> {
    let datasets = state.catalog().datasets(state.store()).await?;
    visible_among(state, &datasets, caller, entry_type, wanted, test_mode)
}

/// [`visible_datasets`] among `datasets`, read by the caller.
pub(crate) fn visible_among(
    state: &AppState,
    datasets: &Datasets,
    caller: &Caller,
    entry_type: &str,
    wanted: Option<&[String]>,
    test_mode: bool,
) -> Result<Vec<Visible>, ApiError> {
    if !may_query(caller) {
        return Err(BeaconError::forbidden(
            "these credentials are for pushing data or administration, not for queries",
        )
        .into());
    }
    let mut visible = Vec::new();
    for dataset in datasets.iter().cloned() {
        if test_mode && !dataset.synthetic {
            continue;
        }
        let policy = dataset_policy(&dataset);
        let url = dataset_url(state, &dataset.id);
        let seen = access(caller, &url, &policy, entry_type);
        if seen.rule.max == Granularity::None {
            continue;
        }
        if data_use_compatibility(state, caller, &dataset, seen.tier) != Compatibility::Compatible {
            continue;
        }
        visible.push(Visible {
            dataset,
            access: seen,
        });
    }
    let Some(wanted) = wanted else {
        return Ok(visible);
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|id| !visible.iter().any(|seen| &seen.dataset.id == *id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(BeaconError::not_found(format!("dataset(s) not found: {}", missing.join(", "))).into());
    }
    Ok(visible
        .into_iter()
        .filter(|seen| wanted.contains(&seen.dataset.id))
        .collect())
}

/// How `caller` may see `entry_type` of a dataset already known to be visible for another
/// entry type (cross look-ups read two entry types of one dataset).
pub(crate) fn entry_access(state: &AppState, caller: &Caller, dataset: &Dataset, entry_type: &str) -> Access {
    access(
        caller,
        &dataset_url(state, &dataset.id),
        &dataset_policy(dataset),
        entry_type,
    )
}

/// The operator's switches: id look-ups and unfiltered queries may be closed per tier and entry
/// type. A caller without credentials is told to authenticate (401); one with credentials that
/// do not allow it gets 403. Neither says whether anything exists. `what` names the entries
/// in the message (`individuals`, `biosamples`…).
pub(crate) fn check_switches<'a>(
    context: &RequestContext,
    accesses: impl IntoIterator<Item = &'a Access>,
    what: &str,
    by_id: bool,
    unfiltered: bool,
) -> Result<(), ApiError> {
    let refused = accesses.into_iter().any(|seen| {
        (by_id && !seen.rule.id_lookups) || (!by_id && unfiltered && !seen.rule.unfiltered_queries)
    });
    if !refused {
        return Ok(());
    }
    let kind = if by_id {
        "look-ups by id"
    } else {
        "queries without filters"
    };
    if context.caller.subject.is_none() {
        return Err(BeaconError::unauthorized(format!("{kind} of {what} need credentials")).into());
    }
    Err(BeaconError::forbidden(format!("{kind} of {what} are not allowed for these credentials")).into())
}

/// DUO conditions decide what a registered researcher's declared purpose may see: only a
/// compatible purpose opens the dataset (needs-review is a committee's call, so it stays closed
/// until the committee issues a grant). A controlled grant is that committee's decision and is
/// not second-guessed; open data is governed by the public ceiling, and care is not research.
/// Conditions Phare cannot read close the dataset to registered callers. Disease descendants
/// come from the loaded ontologies (`[ontologies] files`); without them only an equal disease
/// term matches, and a descendant is a review case.
fn data_use_compatibility(state: &AppState, caller: &Caller, dataset: &Dataset, tier: Tier) -> Compatibility {
    if tier != Tier::Registered {
        return Compatibility::Compatible;
    }
    let Some(stored) = &dataset.data_use else {
        return Compatibility::Compatible;
    };
    let Ok(data_use) = serde_json::from_value::<DataUse>(stored.clone()) else {
        tracing::warn!(dataset = %dataset.id, "unreadable data-use conditions: needs review");
        return Compatibility::NeedsReview;
    };
    let ontology = state.ontology();
    let is_descendant = |child: &str, ancestor: &str| {
        ontology.is_descendant(&ontology.normalise_id(child), &ontology.normalise_id(ancestor))
    };
    match_purpose(&data_use, caller.purpose.as_ref(), &is_descendant)
}

/// One dataset's answer with its count as it may leave the node (rounded in research and open
/// answers, `min_count` 0 in care), the rounding interval said when there was one.
pub(crate) fn disclosed_answer(
    dataset_id: &str,
    count: i64,
    min_count: u32,
    records: Vec<Value>,
) -> DatasetAnswer {
    let disclosed = disclose(u64::try_from(count).unwrap_or(0), min_count);
    DatasetAnswer {
        dataset_id: dataset_id.to_owned(),
        count: disclosed.value,
        count_range: disclosed
            .adjusted_to()
            .map(|_| (disclosed.lowest, disclosed.highest)),
        records,
    }
}

/// Spends one query from the caller's budgets for these datasets; 429 with `Retry-After` when
/// one is exhausted (and then nothing is spent).
pub(crate) async fn spend_budget<'a>(
    state: &AppState,
    context: &RequestContext,
    datasets: impl IntoIterator<Item = &'a Visible>,
) -> Result<(), ApiError> {
    let mut budget = state.access().budget;
    if context.caller.roles.partner
        && let Some(queries) = state.access().partner_budget_queries
    {
        budget.queries = queries;
    }
    if budget.queries == 0 {
        return Ok(());
    }
    let keys: Vec<String> = match &context.caller.subject {
        Some(_) => datasets
            .into_iter()
            .map(|seen| format!("user:{}:{}", context.caller.audit_subject(), seen.dataset.id))
            .collect(),
        None => vec![format!(
            "ip:{}",
            context
                .client_ip
                .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
        )],
    };
    if keys.is_empty() {
        return Ok(());
    }
    match state.budgets().consume(state.store(), &keys, budget).await? {
        BudgetDecision::Allowed => Ok(()),
        BudgetDecision::Exhausted { retry_after_seconds } => {
            Err(ApiError::too_many_requests(retry_after_seconds))
        }
    }
}
