//! Single-genome files, as PFMG platforms send them (issue #12, `scripts/bench-scale`): one
//! BGZF VCF and one manifest per genome, listing only the genome's non-reference calls, over a
//! region of chromosome 1 with a whole genome's per-base density of variants.
//!
//! Shared sites are SNVs at distinct random positions with allele frequencies from the neutral
//! spectrum (density ∝ 1/x on [5 × 10⁻⁶, 0.999]: about a third of a genome's calls are then
//! homozygous, as in real genomes); genotypes follow Hardy–Weinberg. On top, each genome
//! carries its own private heterozygous SNVs, 1% of its calls (novel variants, the worst case
//! for storage: one row each). Genomes are drawn in chunks of
//! [`CHUNK`], each site of each chunk from its own seeded stream, so genome `i` is the same
//! whatever range is asked for, and the work follows the calls written.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ref_base, snv_alt};

/// Genomes drawn together (one stream per site and chunk).
pub const CHUNK: usize = 100;

/// First position of the region on chromosome 1 (1-based).
const REGION_START: u64 = 10_000_001;

/// Lowest and highest allele frequencies of shared sites.
const MIN_AF: f64 = 5e-6;
const MAX_AF: f64 = 0.999;

/// Share of a genome's calls that are private to it.
const PRIVATE_SHARE: f64 = 0.01;

/// An allele frequency from the density ∝ 1/x on [MIN_AF, MAX_AF] (log-uniform).
fn draw_af<R: RngExt>(rng: &mut R) -> f64 {
    let u: f64 = rng.random();
    (MIN_AF.ln() + u * (MAX_AF.ln() - MIN_AF.ln())).exp()
}

/// One call of a genome: position, REF, ALT, 1 (0/1) or 2 (1/1).
type Call = (u64, u8, u8, u8);

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct GenomesSpec {
    /// Non-reference calls per genome on average (whole genomes: about 4.5 million over
    /// 3.1 Gb, so 14,500 over 10 Mb).
    pub variants_per_genome: f64,
    /// Length of the region, in bases.
    pub region_bases: u64,
    pub seed: u64,
}

/// The sites: sorted positions, their REF and ALT bases and allele frequencies.
pub struct Sites {
    positions: Vec<u64>,
    bases: Vec<(u8, u8)>,
    frequencies: Vec<f64>,
    private_per_genome: usize,
    region_bases: u64,
}

impl Sites {
    /// Enough sites that a genome carries `variants_per_genome` of them on average: each site
    /// is carried with probability 2p − p².
    pub fn draw(spec: &GenomesSpec) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let probe = 200_000;
        let carried: f64 = (0..probe)
            .map(|_| {
                let frequency = draw_af(&mut rng);
                2.0 * frequency - frequency * frequency
            })
            .sum::<f64>()
            / f64::from(probe);
        let shared = spec.variants_per_genome * (1.0 - PRIVATE_SHARE);
        let wanted = ((shared / carried).round() as u64).min(spec.region_bases);
        let mut positions: Vec<u64> = (0..wanted)
            .map(|_| REGION_START + rng.random_range(0..spec.region_bases))
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let bases = positions
            .iter()
            .map(|position| {
                let reference = ref_base(0, *position);
                (reference, snv_alt(&mut rng, reference, None))
            })
            .collect();
        let frequencies = positions.iter().map(|_| draw_af(&mut rng)).collect();
        Self {
            positions,
            bases,
            frequencies,
            private_per_genome: (spec.variants_per_genome * PRIVATE_SHARE).round() as usize,
            region_bases: spec.region_bases,
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Calls of genomes `chunk * CHUNK ..` (`CHUNK` of them), each sorted by position.
    fn chunk_calls(&self, seed: u64, chunk: usize) -> Vec<Vec<Call>> {
        let mut calls = vec![Vec::new(); CHUNK];
        for (site, frequency) in self.frequencies.iter().enumerate() {
            let carrier = 2.0 * frequency - frequency * frequency;
            let homozygous = frequency * frequency / carrier;
            let stream = seed ^ ((site as u64) << 20) ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = ChaCha8Rng::seed_from_u64(stream);
            // Geometric skipping: the next carrier after `genome`.
            let skip_log = (1.0 - carrier).ln();
            let mut genome = 0usize;
            loop {
                let u: f64 = rng.random();
                let gap = if skip_log < 0.0 {
                    ((1.0 - u).ln() / skip_log).floor() as usize
                } else {
                    0
                };
                genome += gap;
                if genome >= CHUNK {
                    break;
                }
                let call = if rng.random_bool(homozygous.clamp(0.0, 1.0)) {
                    2
                } else {
                    1
                };
                let (reference, alternate) = self.bases[site];
                calls[genome].push((self.positions[site], reference, alternate, call));
                genome += 1;
            }
        }
        for (offset, genome_calls) in calls.iter_mut().enumerate() {
            let genome = (chunk * CHUNK + offset) as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ genome.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 1);
            for _ in 0..self.private_per_genome {
                let position = REGION_START + rng.random_range(0..self.region_bases);
                let reference = ref_base(0, position);
                genome_calls.push((position, reference, snv_alt(&mut rng, reference, None), 1));
            }
            genome_calls.sort_unstable();
            // A private allele that happens to equal a shared one the genome carries.
            genome_calls.dedup_by_key(|call| (call.0, call.2));
        }
        calls
    }
}

/// Writes genomes `from..to` as `DIR/G{index:06}.vcf.gz` and `DIR/G{index:06}.manifest.json`.
/// Returns the non-reference calls written.
pub fn write_genomes(
    spec: &GenomesSpec,
    sites: &Sites,
    from: usize,
    to: usize,
    dir: &Path,
) -> io::Result<u64> {
    let mut written = 0u64;
    let mut chunk = from / CHUNK;
    while chunk * CHUNK < to {
        let calls = sites.chunk_calls(spec.seed, chunk);
        for (offset, genome_calls) in calls.iter().enumerate() {
            let index = chunk * CHUNK + offset;
            if index < from || index >= to {
                continue;
            }
            write_genome(index, genome_calls, dir)?;
            written += genome_calls.len() as u64;
        }
        chunk += 1;
    }
    Ok(written)
}

fn write_genome(index: usize, calls: &[Call], dir: &Path) -> io::Result<()> {
    let name = format!("G{index:06}");
    let file = File::create(dir.join(format!("{name}.vcf.gz")))?;
    let mut writer = noodles_bgzf::io::Writer::new(BufWriter::new(file));
    write!(
        writer,
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{name}\n"
    )?;
    let mut line = Vec::with_capacity(64);
    for (position, reference, alternate, call) in calls {
        line.clear();
        write!(line, "1\t{position}\t.\t")?;
        line.extend_from_slice(&[*reference, b'\t', *alternate]);
        line.extend_from_slice(b"\t.\tPASS\t.\tGT\t");
        line.extend_from_slice(if *call == 2 { b"1/1\n" } else { b"0/1\n" });
        writer.write_all(&line)?;
    }
    writer.finish()?;
    let manifest = serde_json::json!({
        "samples": [{
            "sample": name,
            "biosampleId": format!("B{index:06}"),
            "individualId": format!("P{index:06}"),
            "sex": if index.is_multiple_of(2) { "female" } else { "male" },
            "country": "FR",
            "careCentre": format!("CHU-{}", index % 8),
            "researchConsent": true,
        }]
    });
    std::fs::write(dir.join(format!("{name}.manifest.json")), manifest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_genome_is_the_same_whatever_range_writes_it_and_has_the_density_asked_for() {
        let spec = GenomesSpec {
            variants_per_genome: 1_450.0,
            region_bases: 1_000_000,
            seed: 3,
        };
        let sites = Sites::draw(&spec);
        let whole = tempfile::tempdir().unwrap();
        let part = tempfile::tempdir().unwrap();
        let calls = write_genomes(&spec, &sites, 0, 200, whole.path()).unwrap();
        write_genomes(&spec, &sites, 150, 160, part.path()).unwrap();
        let read = |dir: &Path| std::fs::read(dir.join("G000155.vcf.gz")).unwrap();
        assert_eq!(read(whole.path()), read(part.path()));
        // 200 genomes of 1,450 calls on average, within 10%.
        let mean = calls as f64 / 200.0;
        assert!((1_305.0..1_595.0).contains(&mean), "{mean}");
    }
}
