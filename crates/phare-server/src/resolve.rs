//! Ids in paths (`/biosamples/{id}`, `/g_variants/{id}/individuals`, …), per dataset: what they
//! name, and how records name entries. The care space uses care ids (pseudonyms, the
//! manifest's biosample ids, `run-<analysis>-<column>`); research and open answers use keyed
//! identifiers, which are resolved by hashing the candidates the caller may see, so a care id
//! never resolves there and a research id never resolves in the care space.

use phare_access::policy::Access;
use phare_beacon::BeaconError;
use phare_store::{BiosampleQuery, ColumnQuery, ColumnRecord, IndividualQuery, VariantKey};

use crate::access::Visible;
use crate::entries::Kind;
use crate::{ApiError, AppState};

/// The one entry a path's id names in one dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Named {
    Individual(i64),
    Biosample(i64),
    /// (analysis id, sample index): a run and an analysis are one file column.
    Column(i64, i32),
    Variant(i64),
}

pub(crate) async fn resolve(
    state: &AppState,
    seen: &Visible,
    kind: Kind,
    id: &str,
) -> Result<Option<Named>, ApiError> {
    Ok(match kind {
        Kind::Individual => individual(state, seen, id).await?.map(Named::Individual),
        Kind::Biosample => biosample(state, seen, id).await?.map(Named::Biosample),
        Kind::Run | Kind::Analysis => column(state, seen, kind, id)
            .await?
            .map(|(analysis, index)| Named::Column(analysis, index)),
        Kind::Variant => variant(state, seen, id).await?.map(Named::Variant),
    })
}

async fn individual(state: &AppState, seen: &Visible, id: &str) -> Result<Option<i64>, ApiError> {
    let dataset_id = &seen.dataset.id;
    if !seen.access.is_research() {
        let query = IndividualQuery {
            pseudonym: Some(id.to_owned()),
            ..IndividualQuery::default()
        };
        let found = state.store().individual_keys(dataset_id, &query).await?;
        return Ok(found.first().map(|(row, _)| *row));
    }
    if !id.starts_with("ri-") {
        return Ok(None);
    }
    let everyone = IndividualQuery {
        research_only: true,
        ..IndividualQuery::default()
    };
    let keys = &state.access().keys;
    Ok(state
        .store()
        .individual_keys(dataset_id, &everyone)
        .await?
        .into_iter()
        .find(|(_, pseudonym)| keys.research_individual(dataset_id, pseudonym) == id)
        .map(|(row, _)| row))
}

async fn biosample(state: &AppState, seen: &Visible, id: &str) -> Result<Option<i64>, ApiError> {
    let dataset_id = &seen.dataset.id;
    if !seen.access.is_research() {
        let query = BiosampleQuery {
            external_id: Some(id.to_owned()),
            ..BiosampleQuery::default()
        };
        let found = state
            .store()
            .find_biosamples(dataset_id, &query, 0, Some(1))
            .await?;
        return Ok(found.first().map(|biosample| biosample.id));
    }
    if !id.starts_with("rb-") {
        return Ok(None);
    }
    let everyone = BiosampleQuery {
        research_only: true,
        ..BiosampleQuery::default()
    };
    let keys = &state.access().keys;
    Ok(state
        .store()
        .find_biosamples(dataset_id, &everyone, 0, None)
        .await?
        .into_iter()
        .find(|biosample| keys.research_biosample(dataset_id, &biosample.external_id) == id)
        .map(|biosample| biosample.id))
}

async fn column(
    state: &AppState,
    seen: &Visible,
    kind: Kind,
    id: &str,
) -> Result<Option<(i64, i32)>, ApiError> {
    let dataset_id = &seen.dataset.id;
    let research = seen.access.is_research();
    let (care_prefix, research_prefix) = prefixes(kind);
    if !research {
        let Some((analysis, index)) = id
            .strip_prefix(care_prefix)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(analysis, index)| Some((analysis.parse::<i64>().ok()?, index.parse::<i32>().ok()?)))
        else {
            return Ok(None);
        };
        let query = ColumnQuery {
            columns: Some(vec![(analysis, index)]),
            ..ColumnQuery::default()
        };
        let found = state.store().find_columns(dataset_id, &query, 0, Some(1)).await?;
        return Ok(found
            .first()
            .map(|column| (column.analysis_id, column.sample_index)));
    }
    if !id.starts_with(research_prefix) {
        return Ok(None);
    }
    let everyone = ColumnQuery {
        research_only: true,
        ..ColumnQuery::default()
    };
    Ok(state
        .store()
        .find_columns(dataset_id, &everyone, 0, None)
        .await?
        .into_iter()
        .find(|column| column_id(state, &seen.access, dataset_id, kind, column) == id)
        .map(|column| (column.analysis_id, column.sample_index)))
}

/// (care, research) id prefixes of runs and analyses.
fn prefixes(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Analysis => ("analysis-", "ra-"),
        _ => ("run-", "rr-"),
    }
}

/// A variant's `{id}` is its records' `variantInternalId`.
async fn variant(state: &AppState, seen: &Visible, id: &str) -> Result<Option<i64>, ApiError> {
    let (accession, key) = parse_variant_id(id)?;
    let Some(contig) = seen.dataset.assembly.contig(accession) else {
        return Ok(None);
    };
    let contig = contig.name().to_owned();
    let key = match key {
        Parsed::Sequence {
            start,
            reference,
            alternate,
        } => VariantKey::Sequence {
            contig,
            start,
            reference,
            alternate,
        },
        Parsed::Structural {
            start,
            end,
            variant_type,
        } => VariantKey::Structural {
            contig,
            start,
            end,
            variant_type,
        },
    };
    let Some(variant_id) = state.store().variant_id(&key).await? else {
        return Ok(None);
    };
    let counted = state
        .store()
        .variant_counted(&seen.dataset.id, seen.access.scope.as_str(), variant_id)
        .await?;
    Ok(counted.then_some(variant_id))
}

enum Parsed {
    Sequence {
        start: u64,
        reference: String,
        alternate: String,
    },
    Structural {
        start: u64,
        end: u64,
        variant_type: String,
    },
}

const VARIANT_ID_FORMS: &str = "`<RefSeq accession>:<start>:<ref>:<alt>` or `<RefSeq accession>:<start>-<end>:<TYPE>`, as `variantInternalId` gives it";

/// `NC_000001.11:299999:G:A` (a sequence allele, VCF-style anchored bases) or
/// `NC_000001.11:10000-15000:<DEL>` (a symbolic structural allele).
fn parse_variant_id(id: &str) -> Result<(&str, Parsed), BeaconError> {
    let bad = || BeaconError::bad_request(format!("variant id `{id}` is not valid: use {VARIANT_ID_FORMS}"));
    let parts: Vec<&str> = id.split(':').collect();
    let bases = |text: &str| {
        (!text.is_empty() && text.bytes().all(|base| b"ACGTN".contains(&base))).then(|| text.to_owned())
    };
    match parts.as_slice() {
        [accession, start, reference, alternate] if accession.starts_with("NC_") => {
            let start = start.parse::<u64>().map_err(|_| bad())?;
            Ok((
                accession,
                Parsed::Sequence {
                    start,
                    reference: bases(reference).ok_or_else(bad)?,
                    alternate: bases(alternate).ok_or_else(bad)?,
                },
            ))
        }
        [accession, span, symbol] if accession.starts_with("NC_") => {
            let (start, end) = span.split_once('-').ok_or_else(bad)?;
            let variant_type = symbol
                .strip_prefix('<')
                .and_then(|rest| rest.strip_suffix('>'))
                .filter(|name| !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_uppercase()))
                .ok_or_else(bad)?;
            Ok((
                accession,
                Parsed::Structural {
                    start: start.parse().map_err(|_| bad())?,
                    end: end.parse().map_err(|_| bad())?,
                    variant_type: variant_type.to_owned(),
                },
            ))
        }
        _ => Err(bad()),
    }
}

/// How answers name a patient: research identifier, or care pseudonym in the care space.
pub(crate) fn individual_id(state: &AppState, access: &Access, dataset_id: &str, pseudonym: &str) -> String {
    if access.is_research() {
        state.access().keys.research_individual(dataset_id, pseudonym)
    } else {
        pseudonym.to_owned()
    }
}

/// How answers name a biosample: research identifier, or the manifest's id in the care space.
pub(crate) fn biosample_id(state: &AppState, access: &Access, dataset_id: &str, external_id: &str) -> String {
    if access.is_research() {
        state.access().keys.research_biosample(dataset_id, external_id)
    } else {
        external_id.to_owned()
    }
}

/// How answers name a run or an analysis (one file column). Care ids carry the analysis id and
/// the column number; research ids are keyed hashes of them, so that whoever knows a file's
/// column order (a platform) cannot follow a research answer back to a sample.
pub(crate) fn column_id(
    state: &AppState,
    access: &Access,
    dataset_id: &str,
    kind: Kind,
    column: &ColumnRecord,
) -> String {
    let (care_prefix, research_prefix) = prefixes(kind);
    if !access.is_research() {
        return format!("{care_prefix}{}-{}", column.analysis_id, column.sample_index);
    }
    // The NUL separators keep this text apart from any query text the audit digests.
    let digest = state.access().keys.query_digest(&format!(
        "{}\0{dataset_id}\0{}\0{}",
        kind.entry_type(),
        column.analysis_id,
        column.sample_index
    ));
    format!("{research_prefix}{}", digest.get(..24).unwrap_or(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_ids_of_both_forms_parse_and_others_are_refused() {
        let Ok((
            accession,
            Parsed::Sequence {
                start,
                reference,
                alternate,
            },
        )) = parse_variant_id("NC_000001.11:299999:G:A")
        else {
            panic!("sequence form");
        };
        assert_eq!(
            (accession, start, reference.as_str(), alternate.as_str()),
            ("NC_000001.11", 299_999, "G", "A")
        );
        let Ok((
            _,
            Parsed::Structural {
                start,
                end,
                variant_type,
            },
        )) = parse_variant_id("NC_000001.11:20000-23000:<DUP>")
        else {
            panic!("structural form");
        };
        assert_eq!((start, end, variant_type.as_str()), (20_000, 23_000, "DUP"));
        for bad in [
            "1:299999:G:A",
            "NC_000001.11:x:G:A",
            "NC_000001.11:1:G:<DEL>",
            "NC_000001.11:1-2:DEL",
            "",
        ] {
            assert!(parse_variant_id(bad).is_err(), "{bad}");
        }
    }
}
