//! Functional annotations written by the usual annotators, reduced to what Beacon gene and
//! amino-acid queries need: gene symbol, protein change (one-letter, see
//! `phare_domain::normalise_protein_change`) and molecular effect, per alternate allele.
//! SnpEff `ANN` and VEP `CSQ` name the allele each entry is about; bcftools `BCSQ` does not, so
//! its entries apply to every alternate allele of the record.

use noodles_vcf::variant::record::Info as _;
use noodles_vcf::variant::record::info::field::Value;
use noodles_vcf::variant::record::info::field::value::Array;
use phare_domain::normalise_protein_change;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AlleleAnnotation {
    pub gene: String,
    pub protein_change: Option<String>,
    pub effect: Option<String>,
}

/// Column positions of VEP's `CSQ` entries, from the header's `Format:` description.
#[derive(Clone, Debug)]
struct CsqColumns {
    allele: usize,
    consequence: Option<usize>,
    symbol: usize,
    protein: Option<usize>,
    allele_number: Option<usize>,
}

/// Which annotation fields a file carries, decided once from its header.
#[derive(Clone, Debug, Default)]
pub(crate) struct AnnotationPlan {
    ann: bool,
    csq: Option<CsqColumns>,
    bcsq: bool,
}

impl AnnotationPlan {
    pub(crate) fn from_header(header: &noodles_vcf::Header) -> Option<Self> {
        let infos = header.infos();
        let csq = infos.get("CSQ").and_then(|info| csq_columns(info.description()));
        let plan = Self {
            ann: infos.contains_key("ANN"),
            csq,
            bcsq: infos.contains_key("BCSQ"),
        };
        (plan.ann || plan.csq.is_some() || plan.bcsq).then_some(plan)
    }

    /// Annotations of each alternate allele (index 0 = first ALT), deduplicated and sorted.
    pub(crate) fn read(
        &self,
        header: &noodles_vcf::Header,
        record: &dyn noodles_vcf::variant::Record,
        reference: &str,
        alternates: &[String],
    ) -> Result<Vec<Vec<AlleleAnnotation>>, (String, String)> {
        let mut per_allele: Vec<Vec<AlleleAnnotation>> = vec![Vec::new(); alternates.len()];
        let info = record.info();
        if self.ann {
            for entry in entries(info.get(header, "ANN"), "ANN")? {
                let fields: Vec<&str> = entry.split('|').collect();
                let (Some(allele), Some(gene)) = (fields.first(), fields.get(3)) else {
                    continue;
                };
                if let Some(index) = alternates.iter().position(|alternate| alternate == allele) {
                    push(
                        &mut per_allele[index],
                        gene,
                        fields.get(10).copied(),
                        fields.get(1).copied(),
                    );
                }
            }
        }
        if let Some(columns) = &self.csq {
            let vep_alleles = vep_alleles(reference, alternates);
            for entry in entries(info.get(header, "CSQ"), "CSQ")? {
                let fields: Vec<&str> = entry.split('|').collect();
                let Some(gene) = fields.get(columns.symbol) else {
                    continue;
                };
                let index = match columns.allele_number.and_then(|column| fields.get(column)) {
                    Some(number) => number
                        .parse::<usize>()
                        .ok()
                        .and_then(|number| number.checked_sub(1)),
                    None => fields
                        .get(columns.allele)
                        .and_then(|allele| vep_alleles.iter().position(|vep| vep == allele)),
                };
                if let Some(index) = index.filter(|index| *index < alternates.len()) {
                    let protein = columns.protein.and_then(|column| fields.get(column).copied());
                    let effect = columns.consequence.and_then(|column| fields.get(column).copied());
                    push(&mut per_allele[index], gene, protein, effect);
                }
            }
        }
        if self.bcsq {
            for entry in entries(info.get(header, "BCSQ"), "BCSQ")? {
                // `@123` entries point at the record holding a compound consequence.
                if entry.starts_with('@') {
                    continue;
                }
                let fields: Vec<&str> = entry.split('|').collect();
                let Some(gene) = fields.get(1) else { continue };
                for annotations in &mut per_allele {
                    push(annotations, gene, fields.get(5).copied(), fields.first().copied());
                }
            }
        }
        for annotations in &mut per_allele {
            annotations.sort();
            annotations.dedup();
        }
        Ok(per_allele)
    }
}

fn push(annotations: &mut Vec<AlleleAnnotation>, gene: &str, protein: Option<&str>, effect: Option<&str>) {
    let gene = gene.trim();
    if gene.is_empty() || gene == "." {
        return;
    }
    annotations.push(AlleleAnnotation {
        gene: gene.to_owned(),
        protein_change: protein.and_then(normalise_protein_change),
        // The first (most severe, by the annotators' convention) of `&`-joined terms.
        effect: effect
            .and_then(|terms| terms.split('&').next())
            .map(str::trim)
            .filter(|term| !term.is_empty())
            .map(str::to_owned),
    });
}

/// The comma-separated entries of an annotation field, whatever type noodles gives it.
fn entries(
    value: Option<std::io::Result<Option<Value<'_>>>>,
    key: &str,
) -> Result<Vec<String>, (String, String)> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let value = value.map_err(|error| (format!("INFO {key}"), error.to_string()))?;
    Ok(match value {
        Some(Value::String(text)) => text.split(',').map(str::to_owned).collect(),
        Some(Value::Array(Array::String(values))) => values
            .iter()
            .filter_map(|entry| entry.ok().flatten().map(|entry| entry.into_owned()))
            .collect(),
        _ => Vec::new(),
    })
}

/// VEP writes alleles without the padding base all alleles share (`-` when nothing is left).
fn vep_alleles(reference: &str, alternates: &[String]) -> Vec<String> {
    let first = reference.as_bytes().first();
    let shared = !alternates.is_empty()
        && alternates
            .iter()
            .all(|alternate| alternate.as_bytes().first() == first);
    alternates
        .iter()
        .map(|alternate| {
            if !shared {
                return alternate.clone();
            }
            let rest = &alternate[1..];
            if rest.is_empty() {
                "-".to_owned()
            } else {
                rest.to_owned()
            }
        })
        .collect()
}

/// `Consequence annotations from Ensembl VEP. Format: Allele|Consequence|…`
fn csq_columns(description: &str) -> Option<CsqColumns> {
    let format = description.split_once("Format:")?.1.trim().trim_end_matches('"');
    let names: Vec<&str> = format.split('|').map(str::trim).collect();
    let find = |name: &str| {
        names
            .iter()
            .position(|candidate| candidate.eq_ignore_ascii_case(name))
    };
    Some(CsqColumns {
        allele: find("Allele")?,
        consequence: find("Consequence"),
        symbol: find("SYMBOL")?,
        protein: find("HGVSp"),
        allele_number: find("ALLELE_NUM"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vep_drops_the_shared_padding_base() {
        let alternates = ["A".to_owned(), "ATG".to_owned()];
        assert_eq!(vep_alleles("AT", &alternates), vec!["-", "TG"]);
        assert_eq!(vep_alleles("C", &["T".to_owned()]), vec!["T"]);
    }

    #[test]
    fn csq_columns_come_from_the_header_description() {
        let columns = csq_columns(
            "Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|HGVSp",
        )
        .expect("columns");
        assert_eq!(
            (
                columns.allele,
                columns.consequence,
                columns.symbol,
                columns.protein
            ),
            (0, Some(1), 3, Some(4))
        );
        assert!(csq_columns("no format here").is_none());
    }
}
