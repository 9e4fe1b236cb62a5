//! Sites-only files that carry allele counts in INFO instead of genotypes (the 1+MG
//! allele-frequency use: a partner's or a consortium's summary): `AC`, `AN`, `AC_Hom`,
//! `AC_Het`, `AC_Hemi`, and the same per population with a suffix (`AC_XX`, `AN_XX_F`,
//! `AC_Hom_XX`). `Number=A` fields follow their allele through the split.

use noodles_vcf::header::record::value::map::info::Number;
use noodles_vcf::variant::record::Info as _;
use noodles_vcf::variant::record::info::field::Value;
use noodles_vcf::variant::record::info::field::value::Array;
use serde::Serialize;

/// Counts of one population for one allele, as the file states them. A count the file does
/// not give stays `None`: it is omitted from answers, never reported as 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PopulationAggregate {
    pub population: String,
    pub allele_count: Option<i64>,
    pub allele_number: Option<i64>,
    pub homozygous: Option<i64>,
    pub heterozygous: Option<i64>,
    pub hemizygous: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    AlleleCount,
    AlleleNumber,
    Homozygous,
    Heterozygous,
    Hemizygous,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arity {
    /// `Number=A`: one value per alternate allele.
    PerAllele,
    /// `Number=R`: reference first, then one per alternate allele.
    PerAlleleWithReference,
    /// `Number=1`: one value for the site.
    Single,
}

#[derive(Clone, Debug)]
struct Field {
    key: String,
    population: String,
    kind: Kind,
    arity: Arity,
}

/// Which INFO fields of a header hold counts, decided once from the header.
#[derive(Clone, Debug)]
pub(crate) struct AggregatePlan {
    fields: Vec<Field>,
    populations: Vec<String>,
}

/// The population label and kind a key such as `AC_Hom_FR` stands for.
fn classify(key: &str) -> Option<(String, Kind)> {
    let total = || "Total".to_owned();
    for (prefix, kind) in [
        ("AC_Hom", Kind::Homozygous),
        ("AC_Het", Kind::Heterozygous),
        ("AC_Hemi", Kind::Hemizygous),
    ] {
        if key == prefix {
            return Some((total(), kind));
        }
        if let Some(population) = key.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('_')) {
            return (!population.is_empty()).then(|| (population.to_owned(), kind));
        }
    }
    match key {
        "AC" => Some((total(), Kind::AlleleCount)),
        "AN" => Some((total(), Kind::AlleleNumber)),
        _ => {
            let (kind, population) = if let Some(population) = key.strip_prefix("AC_") {
                (Kind::AlleleCount, population)
            } else {
                (Kind::AlleleNumber, key.strip_prefix("AN_")?)
            };
            (!population.is_empty()).then(|| (population.to_owned(), kind))
        }
    }
}

impl AggregatePlan {
    /// A plan when the header declares at least `AC` and `AN`.
    pub(crate) fn from_header(header: &noodles_vcf::Header) -> Option<Self> {
        let mut fields = Vec::new();
        for (key, info) in header.infos() {
            let Some((population, kind)) = classify(key) else {
                continue;
            };
            let arity = match info.number() {
                Number::AlternateBases => Arity::PerAllele,
                Number::ReferenceAlternateBases => Arity::PerAlleleWithReference,
                Number::Count(1) => Arity::Single,
                _ => continue,
            };
            fields.push(Field {
                key: key.clone(),
                population,
                kind,
                arity,
            });
        }
        let declares = |kind: Kind| {
            fields
                .iter()
                .any(|field| field.population == "Total" && field.kind == kind)
        };
        if !(declares(Kind::AlleleCount) && declares(Kind::AlleleNumber)) {
            return None;
        }
        let mut populations: Vec<String> = Vec::new();
        for field in &fields {
            if !populations.contains(&field.population) {
                populations.push(field.population.clone());
            }
        }
        populations.sort_by_key(|population| (population != "Total", population.clone()));
        Some(Self { fields, populations })
    }

    /// The counts of allele `alt_index` (1-based) of a record, one entry per population that
    /// has at least an allele count or number.
    pub(crate) fn read(
        &self,
        header: &noodles_vcf::Header,
        record: &dyn noodles_vcf::variant::Record,
        alt_index: usize,
    ) -> Result<Vec<PopulationAggregate>, (String, String)> {
        let info = record.info();
        let mut aggregates: Vec<PopulationAggregate> = self
            .populations
            .iter()
            .map(|population| PopulationAggregate {
                population: population.clone(),
                ..Default::default()
            })
            .collect();
        for field in &self.fields {
            let Some(value) = info.get(header, &field.key) else {
                continue;
            };
            let value = value.map_err(|error| (format!("INFO {}", field.key), error.to_string()))?;
            let index = match field.arity {
                Arity::PerAllele => alt_index - 1,
                Arity::PerAlleleWithReference => alt_index,
                Arity::Single => 0,
            };
            let count =
                integer_at(value, index).map_err(|message| (format!("INFO {}", field.key), message))?;
            let Some(target) = aggregates
                .iter_mut()
                .find(|aggregate| aggregate.population == field.population)
            else {
                continue;
            };
            let slot = match field.kind {
                Kind::AlleleCount => &mut target.allele_count,
                Kind::AlleleNumber => &mut target.allele_number,
                Kind::Homozygous => &mut target.homozygous,
                Kind::Heterozygous => &mut target.heterozygous,
                Kind::Hemizygous => &mut target.hemizygous,
            };
            *slot = count;
        }
        aggregates.retain(|aggregate| aggregate.allele_count.is_some() && aggregate.allele_number.is_some());
        Ok(aggregates)
    }
}

/// The `index`-th integer of a field value; `.` is `None`; a negative count is an error.
fn integer_at(value: Option<Value<'_>>, index: usize) -> Result<Option<i64>, String> {
    let found = match value {
        None => None,
        Some(Value::Integer(number)) if index == 0 => Some(number),
        Some(Value::Array(Array::Integer(values))) => match values.iter().nth(index) {
            Some(result) => result.map_err(|error| error.to_string())?,
            None => return Err(format!("no value for allele {index}: too few values")),
        },
        Some(_) => return Err("expected integer counts".into()),
    };
    match found {
        Some(number) if number < 0 => Err(format!("negative count {number}")),
        other => Ok(other.map(i64::from)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_population_and_kind() {
        assert_eq!(classify("AC"), Some(("Total".into(), Kind::AlleleCount)));
        assert_eq!(classify("AN_XX_F"), Some(("XX_F".into(), Kind::AlleleNumber)));
        assert_eq!(classify("AC_XX"), Some(("XX".into(), Kind::AlleleCount)));
        assert_eq!(classify("AC_Hom"), Some(("Total".into(), Kind::Homozygous)));
        assert_eq!(classify("AC_Hemi_FR"), Some(("FR".into(), Kind::Hemizygous)));
        assert_eq!(classify("AF"), None);
        assert_eq!(classify("AC_"), None);
        assert_eq!(classify("DP"), None);
    }
}
