//! End-to-end checks of the generated cohort: determinism, VCF structure, chrX ploidy, the
//! allele-frequency spectrum, the manifest shape, and (when bcftools is on PATH) that htslib
//! accepts the files.

// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use phare_synth::{CohortSpec, CohortSummary, GRCH38_CONTIGS, Manifest, Sex, in_par, write_cohort};

fn spec(samples: usize, sites: usize, seed: u64) -> CohortSpec {
    CohortSpec {
        samples,
        sites,
        seed,
        chr_prefix: true,
        bgzf: false,
    }
}

fn generate(spec: &CohortSpec) -> (Vec<u8>, Vec<u8>, CohortSummary) {
    let mut vcf = Vec::new();
    let mut manifest = Vec::new();
    let summary = write_cohort(spec, &mut vcf, &mut manifest).unwrap();
    (vcf, manifest, summary)
}

struct Record {
    chrom: String,
    pos: u64,
    reference: String,
    alts: Vec<String>,
    gts: Vec<String>,
}

fn parse(vcf: &[u8]) -> (Vec<String>, Vec<String>, Vec<Record>) {
    let text = std::str::from_utf8(vcf).unwrap();
    let mut meta = Vec::new();
    let mut samples = Vec::new();
    let mut records = Vec::new();
    for line in text.lines() {
        if line.starts_with("##") {
            meta.push(line.to_owned());
        } else if let Some(h) = line.strip_prefix('#') {
            let cols: Vec<&str> = h.split('\t').collect();
            assert_eq!(
                cols[..9],
                [
                    "CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"
                ]
            );
            samples = cols[9..].iter().map(|s| s.to_string()).collect();
        } else {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 9 + samples.len(), "column count in {line:.80}");
            assert_eq!(cols[2], ".");
            assert!(
                cols[5] == "." || cols[5].parse::<u64>().is_ok(),
                "qual {}",
                cols[5]
            );
            assert_eq!(cols[6], "PASS");
            assert_eq!(cols[7], ".");
            assert_eq!(cols[8], "GT");
            records.push(Record {
                chrom: cols[0].to_owned(),
                pos: cols[1].parse().unwrap(),
                reference: cols[3].to_owned(),
                alts: cols[4].split(',').map(str::to_owned).collect(),
                gts: cols[9..].iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    (meta, samples, records)
}

/// Allele indices of a GT string; `None` for missing alleles.
fn alleles(gt: &str) -> Vec<Option<usize>> {
    gt.split(['/', '|'])
        .map(|a| if a == "." { None } else { Some(a.parse().unwrap()) })
        .collect()
}

fn allele_counts(r: &Record) -> Vec<u64> {
    let mut ac = vec![0u64; r.alts.len() + 1];
    for gt in &r.gts {
        for a in alleles(gt).into_iter().flatten() {
            ac[a] += 1;
        }
    }
    ac
}

#[test]
fn same_seed_gives_identical_bytes() {
    for bgzf in [false, true] {
        let s = CohortSpec {
            bgzf,
            ..spec(50, 500, 7)
        };
        let (v1, m1, s1) = generate(&s);
        let (v2, m2, s2) = generate(&s);
        assert!(v1 == v2, "vcf differs for bgzf={bgzf}");
        assert_eq!(m1, m2);
        assert_eq!(s1, s2);
        let (v3, m3, _) = generate(&CohortSpec { seed: 8, ..s.clone() });
        assert!(v1 != v3, "different seeds gave the same vcf");
        assert_ne!(m1, m3);
    }
}

#[test]
fn manifest_depends_only_on_seed_and_samples() {
    let (_, m1, _) = generate(&spec(30, 100, 3));
    let (_, m2, _) = generate(&CohortSpec {
        bgzf: true,
        chr_prefix: false,
        ..spec(30, 900, 3)
    });
    assert_eq!(m1, m2);
}

#[test]
fn bgzf_decompresses_to_the_plain_text() {
    let (plain, _, _) = generate(&spec(40, 3000, 11));
    let (gz, _, _) = generate(&CohortSpec {
        bgzf: true,
        ..spec(40, 3000, 11)
    });
    assert_eq!(&gz[..4], &[0x1f, 0x8b, 0x08, 0x04], "not a bgzf member header");
    let mut out = Vec::new();
    noodles_bgzf::io::Reader::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert!(out == plain, "bgzf content differs from plain output");
}

#[test]
fn header_and_records_are_well_formed() {
    let s = spec(25, 4000, 5);
    let (vcf, _, summary) = generate(&s);
    let (meta, samples, records) = parse(&vcf);
    assert_eq!(meta[0], "##fileformat=VCFv4.3");
    assert!(meta.iter().any(|l| l.starts_with("##FORMAT=<ID=GT,")));
    let lengths: HashMap<String, u64> = GRCH38_CONTIGS
        .iter()
        .map(|&(n, l)| (format!("chr{n}"), l))
        .collect();
    for (name, len) in &lengths {
        let line = format!("##contig=<ID={name},length={len},assembly=GRCh38>");
        assert!(meta.contains(&line), "missing {line}");
    }
    assert_eq!(samples.len(), 25);
    assert_eq!(samples[0], "S000001");
    assert_eq!(samples[24], "S000025");
    assert_eq!(records.len(), 4000);
    assert_eq!(summary.records, 4000);
    assert_eq!(summary.genotypes, 4000 * 25);

    let order: HashMap<String, usize> = GRCH38_CONTIGS
        .iter()
        .enumerate()
        .map(|(i, &(n, _))| (format!("chr{n}"), i))
        .collect();
    let mut prev: Option<(usize, u64)> = None;
    let mut reference_at: HashMap<(String, u64), char> = HashMap::new();
    for r in &records {
        let key = (order[&r.chrom], r.pos);
        if let Some(p) = prev {
            assert!(p < key, "records not strictly sorted at {}:{}", r.chrom, r.pos);
        }
        prev = Some(key);
        let end = r.pos + r.reference.len() as u64 - 1;
        assert!(
            r.pos >= 1 && end <= lengths[&r.chrom],
            "{}:{} outside contig",
            r.chrom,
            r.pos
        );
        assert!(r.reference.bytes().all(|b| b"ACGT".contains(&b)));
        // Overlapping records agree on the reference.
        for (k, b) in r.reference.chars().enumerate() {
            let prev = reference_at.insert((r.chrom.clone(), r.pos + k as u64), b);
            assert!(
                prev.is_none() || prev == Some(b),
                "inconsistent reference at {}:{}",
                r.chrom,
                r.pos
            );
        }
        for a in &r.alts {
            assert!(!a.is_empty() && a.bytes().all(|b| b"ACGT".contains(&b)));
            assert_ne!(a, &r.reference);
            if a.len() != r.reference.len() {
                assert_eq!(
                    a.as_bytes()[0],
                    r.reference.as_bytes()[0],
                    "indel without anchor base"
                );
            }
        }
        let ac = allele_counts(r);
        assert!(
            ac[1..].iter().all(|&c| c > 0),
            "unobserved alt at {}:{}",
            r.chrom,
            r.pos
        );
    }
}

#[test]
fn allele_shape_rates_are_realistic() {
    let (vcf, _, summary) = generate(&spec(100, 20_000, 21));
    let (_, _, records) = parse(&vcf);
    let n = records.len() as f64;
    let multi = records.iter().filter(|r| r.alts.len() == 2).count() as f64 / n;
    assert!((0.02..0.045).contains(&multi), "multi-allelic rate {multi}");
    let alts: Vec<(&str, &str)> = records
        .iter()
        .flat_map(|r| r.alts.iter().map(|a| (r.reference.as_str(), a.as_str())))
        .collect();
    let indels = alts.iter().filter(|(r, a)| r.len() != a.len()).count() as f64 / alts.len() as f64;
    assert!((0.07..0.14).contains(&indels), "indel rate {indels}");
    assert!(alts.iter().any(|(r, a)| r.len() > a.len()), "no deletions");
    assert!(alts.iter().any(|(r, a)| r.len() < a.len()), "no insertions");

    let total = records.len() * 100;
    let missing = records
        .iter()
        .flat_map(|r| &r.gts)
        .filter(|g| g.contains('.'))
        .count();
    let rate = missing as f64 / total as f64;
    assert!((0.007..0.013).contains(&rate), "missing rate {rate}");
    assert_eq!(missing as u64, summary.missing_genotypes);

    let phased = records
        .iter()
        .filter(|r| r.gts.iter().any(|g| g.contains('|')))
        .count();
    let unphased = records
        .iter()
        .filter(|r| r.gts.iter().any(|g| g.contains('/') && !g.contains('.')))
        .count();
    assert!(
        phased > 1000 && unphased > 1000,
        "phased {phased}, unphased {unphased}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.gts.iter().any(|g| g == "1/2" || g == "1|2" || g == "2|1")),
        "no compound heterozygous call"
    );
}

#[test]
fn chrx_males_are_haploid_outside_par() {
    let s = spec(60, 30_000, 9);
    let (vcf, manifest, summary) = generate(&s);
    let manifest: Manifest = serde_json::from_slice(&manifest).unwrap();
    let (_, samples, records) = parse(&vcf);
    let sexes: Vec<Sex> = manifest.samples.iter().map(|m| m.sex).collect();
    assert_eq!(
        samples,
        manifest
            .samples
            .iter()
            .map(|m| m.sample.clone())
            .collect::<Vec<_>>()
    );
    assert!(sexes.contains(&Sex::Male) && sexes.contains(&Sex::Female));

    let x: Vec<&Record> = records.iter().filter(|r| r.chrom == "chrX").collect();
    let (par, non_par): (Vec<&Record>, Vec<&Record>) = x.iter().partition(|r| in_par(r.pos));
    assert!(
        !par.is_empty() && !non_par.is_empty(),
        "par {} non-par {}",
        par.len(),
        non_par.len()
    );
    let mut haploid = 0u64;
    for r in &non_par {
        for (gt, sex) in r.gts.iter().zip(&sexes) {
            if *sex == Sex::Male {
                assert!(
                    ["0", "1", "2", "."].contains(&gt.as_str()),
                    "male call {gt} at chrX:{}",
                    r.pos
                );
                haploid += 1;
            } else {
                assert_eq!(gt.len(), 3, "non-male call {gt} at chrX:{}", r.pos);
            }
        }
    }
    assert_eq!(haploid, summary.haploid_genotypes);
    assert!(
        non_par.iter().any(|r| r.gts.iter().any(|g| g == "1")),
        "no hemizygous alt call"
    );
    for r in par.iter().chain(
        records
            .iter()
            .filter(|r| r.chrom != "chrX")
            .collect::<Vec<_>>()
            .iter(),
    ) {
        assert!(
            r.gts.iter().all(|g| g.len() == 3),
            "haploid call at {}:{}",
            r.chrom,
            r.pos
        );
    }
}

#[test]
fn spectrum_has_many_rare_alleles_and_some_common() {
    let (vcf, _, summary) = generate(&spec(1000, 5000, 1234));
    let (_, _, records) = parse(&vcf);
    let mut rare = 0usize;
    let mut common = 0usize;
    let mut alleles_total = 0usize;
    let mut singletons = 0u64;
    for r in &records {
        let ac = allele_counts(r);
        for &c in &ac[1..] {
            alleles_total += 1;
            rare += usize::from(c <= 2);
            common += usize::from(c as f64 / 2000.0 >= 0.05);
            singletons += u64::from(c == 1);
        }
    }
    let rare_frac = rare as f64 / alleles_total as f64;
    let common_frac = common as f64 / alleles_total as f64;
    println!("AC<=2: {rare_frac:.3}, AF>=5%: {common_frac:.3}");
    assert!(rare_frac >= 0.30, "only {rare_frac} of alt alleles have AC <= 2");
    assert!(
        (0.01..0.15).contains(&common_frac),
        "common fraction {common_frac}"
    );
    assert_eq!(singletons, summary.singleton_alleles);
}

#[test]
fn manifest_has_the_ingester_shape() {
    let (_, bytes, summary) = generate(&spec(2000, 10, 77));
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let samples = v["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2000);
    let allowed = [
        "sample",
        "biosampleId",
        "individualId",
        "sex",
        "country",
        "region",
        "indication",
        "phenotypes",
        "diseases",
        "researchConsent",
    ];
    let (mut female, mut male, mut refused) = (0usize, 0usize, 0usize);
    for (i, s) in samples.iter().enumerate() {
        let obj = s.as_object().unwrap();
        assert!(
            obj.keys().all(|k| allowed.contains(&k.as_str())),
            "unexpected key in {obj:?}"
        );
        assert_eq!(s["sample"], format!("S{:06}", i + 1));
        assert_eq!(s["biosampleId"], format!("BS{:06}", i + 1));
        assert_eq!(s["individualId"], format!("IND{:06}", i + 1));
        match s["sex"].as_str().unwrap() {
            "female" => female += 1,
            "male" => male += 1,
            "unknown" => {}
            other => panic!("bad sex {other}"),
        }
        assert_eq!(s["country"].as_str().unwrap().len(), 2);
        if let Some(r) = s.get("region") {
            assert!(
                r.as_str()
                    .unwrap()
                    .starts_with(&format!("{}-", s["country"].as_str().unwrap()))
            );
        }
        if let Some(ind) = s.get("indication") {
            let n: u32 = ind
                .as_str()
                .unwrap()
                .strip_prefix("PFMG-")
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=14).contains(&n));
            assert_eq!(ind.as_str().unwrap().len(), 7);
        }
        for p in s["phenotypes"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            assert!(p.starts_with("HP:") && p.len() == 10, "{p}");
        }
        for d in s["diseases"].as_array().unwrap() {
            assert!(d.as_str().unwrap().starts_with("ORPHA:"));
        }
        refused += usize::from(!s["researchConsent"].as_bool().unwrap());
    }
    assert!(
        (900..1100).contains(&female) && (900..1100).contains(&male),
        "{female} f / {male} m"
    );
    assert!((60..150).contains(&refused), "{refused} refused consent");
    assert_eq!(
        (summary.females, summary.males, summary.consent_refused),
        (female, male, refused)
    );
    // Round-trips through the public types.
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.samples.len(), 2000);
}

#[test]
fn rejects_empty_cohort() {
    assert!(write_cohort(&spec(0, 10, 1), Vec::new(), Vec::new()).is_err());
    // Zero sites is a header-only VCF.
    let (vcf, _, summary) = generate(&spec(3, 0, 1));
    assert_eq!(summary.records, 0);
    assert!(vcf.ends_with(b"S000003\n"));
}

fn bcftools_available() -> bool {
    Command::new("bcftools")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    assert!(
        !stderr.contains("[W::") && !stderr.contains("[E::"),
        "{cmd:?} warned: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bcftools_check(path: &Path, records: &[Record], samples: usize) {
    let body = run(Command::new("bcftools").args(["view", "-H"]).arg(path));
    assert_eq!(body.lines().count(), records.len());
    // fill-tags through a pipe-free two-step: write BCF, then query AC/AN.
    let dir = path.parent().unwrap();
    let filled = dir.join(format!(
        "{}.filled.bcf",
        path.file_name().unwrap().to_string_lossy()
    ));
    run(Command::new("bcftools")
        .args(["+fill-tags", "-Ob", "-o"])
        .arg(&filled)
        .arg(path)
        .args(["--", "-t", "AC,AN"]));
    let q = run(Command::new("bcftools")
        .args(["query", "-f", "%CHROM\t%POS\t%AC\t%AN\n"])
        .arg(&filled));
    let lines: Vec<&str> = q.lines().collect();
    assert_eq!(lines.len(), records.len());
    for (line, r) in lines.iter().zip(records) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            (cols[0], cols[1].parse::<u64>().unwrap()),
            (r.chrom.as_str(), r.pos)
        );
        let ac = allele_counts(r);
        let expected_ac: Vec<String> = ac[1..].iter().map(u64::to_string).collect();
        assert_eq!(cols[2], expected_ac.join(","), "AC at {}:{}", r.chrom, r.pos);
        let an: u64 = r
            .gts
            .iter()
            .map(|g| alleles(g).iter().flatten().count() as u64)
            .sum();
        assert_eq!(cols[3].parse::<u64>().unwrap(), an, "AN at {}:{}", r.chrom, r.pos);
        assert!(an <= 2 * samples as u64);
    }
}

#[test]
fn bcftools_accepts_the_output() {
    if !bcftools_available() {
        println!("note: bcftools not on PATH, skipping the htslib cross-check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (bgzf, chr_prefix) in [(false, true), (true, false)] {
        let s = CohortSpec {
            samples: 40,
            sites: 3000,
            seed: 99,
            chr_prefix,
            bgzf,
        };
        let ext = if bgzf { "vcf.gz" } else { "vcf" };
        let vcf_path = dir.path().join(format!("cohort-{chr_prefix}.{ext}"));
        let manifest_path = dir.path().join(format!("manifest-{chr_prefix}.json"));
        phare_synth::write_cohort_files(&s, &vcf_path, &manifest_path).unwrap();
        let plain = generate(&CohortSpec {
            bgzf: false,
            ..s.clone()
        })
        .0;
        let (_, _, records) = parse(&plain);
        bcftools_check(&vcf_path, &records, 40);
        if bgzf {
            // BGZF output is indexable.
            let out = Command::new("bcftools")
                .args(["index", "-t"])
                .arg(&vcf_path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// The ingester reads VCFs with noodles-vcf: the generated text (haploid calls, `./.`, phased
/// and unphased calls, multi-allelic records) must go through its header and record parsers and
/// give the same allele counts as the text itself.
#[test]
fn noodles_reads_the_output() {
    use noodles_vcf::variant::record::samples::series::Value;
    use noodles_vcf::variant::record::{AlternateBases as _, Samples as _};

    let (plain, _, _) = generate(&spec(30, 4000, 31));
    let (_, _, expected) = parse(&plain);
    let mut reader = noodles_vcf::io::Reader::new(&plain[..]);
    let header = reader.read_header().unwrap();
    assert_eq!(header.sample_names().len(), 30);
    assert_eq!(header.contigs().len(), GRCH38_CONTIGS.len());
    let mut n = 0usize;
    for (result, exp) in reader.records().zip(&expected) {
        let record = result.unwrap();
        let record: &dyn noodles_vcf::variant::Record = &record;
        assert_eq!(record.reference_sequence_name(&header).unwrap(), exp.chrom);
        assert_eq!(
            usize::from(record.variant_start().unwrap().unwrap()) as u64,
            exp.pos
        );
        let n_alts = record.alternate_bases().len();
        assert_eq!(n_alts, exp.alts.len());
        let samples = record.samples().unwrap();
        let series = samples.select(&header, "GT").unwrap().unwrap();
        let mut ac = vec![0u64; n_alts + 1];
        for value in series.iter(&header) {
            match value.unwrap() {
                Some(Value::Genotype(gt)) => {
                    for allele in gt.iter() {
                        if let (Some(a), _) = allele.unwrap() {
                            ac[a] += 1;
                        }
                    }
                }
                // A lone `.` (haploid missing) is a missing value for noodles.
                None => {}
                other => panic!("unexpected GT value {other:?}"),
            }
        }
        assert_eq!(ac, allele_counts(exp), "{}:{}", exp.chrom, exp.pos);
        n += 1;
    }
    assert_eq!(n, expected.len());
}
