#!/usr/bin/env bash
# Cross-checks the hand-worked expectations in expected/*.tsv against bcftools.
#
# For every PASS (or ".") record of small.vcf and chr_prefixed.vcf:
#   bcftools view -f PASS,.  |  bcftools norm -m-  |  bcftools +fill-tags -- -t AC,AN
# then each split record is normalised with the rule of README.md (trim common trailing bases,
# then common leading bases, while both alleles are longer than 1 base; start0 = POS - 1).
# bcftools norm without -f does not trim, so the trimming is done here in awk.
#
#   * ac, an           come from bcftools +fill-tags             (the independent cross-check)
#   * hom, het, hemi   and expected/*.carriers.tsv are recounted from the split GT strings that
#                      bcftools norm -m- writes (1/2 becomes 1/0 and 0/1).
#
# Also checks that small.vcf.gz (BGZF), small.vcf.plain.gz (gzip) and small.bcf hold exactly
# the records of small.vcf. Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v bcftools >/dev/null 2>&1; then
    echo "check-expected: bcftools not found on PATH" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# derive VCF ROWS CARRIERS: writes bcftools-derived rows (same columns as expected/*.tsv, no
# header) and carrier rows.
derive() {
    local vcf=$1 rows=$2 carriers=$3
    bcftools view -f PASS,. -Ou "$vcf" \
        | bcftools norm -m- -Ou 2>"$tmp/norm.log" \
        | bcftools +fill-tags -Ou -- -t AC,AN \
        | bcftools query -f '%CHROM\t%POS\t%REF\t%ALT\t%AC\t%AN[\t%SAMPLE=%GT]\n' \
        | awk -v rows="$rows" -v carriers="$carriers" '
            BEGIN { FS = OFS = "\t" }
            {
                chrom = $1; pos = $2; ref = $3; alt = $4; ac = $5; an = $6
                if (alt ~ /,/) { print "check-expected: unsplit record at " chrom ":" pos > "/dev/stderr"; exit 1 }
                while (length(ref) > 1 && length(alt) > 1 && substr(ref, length(ref)) == substr(alt, length(alt))) {
                    ref = substr(ref, 1, length(ref) - 1); alt = substr(alt, 1, length(alt) - 1)
                }
                while (length(ref) > 1 && length(alt) > 1 && substr(ref, 1, 1) == substr(alt, 1, 1)) {
                    ref = substr(ref, 2); alt = substr(alt, 2); pos++
                }
                hom = het = hemi = 0
                for (i = 7; i <= NF; i++) {
                    eq = index($i, "="); sample = substr($i, 1, eq - 1); gt = substr($i, eq + 1)
                    n = split(gt, a, /[\/|]/)
                    copies = 0
                    for (j = 1; j <= n; j++) if (a[j] == "1") copies++
                    z = ""
                    if (n == 1 && copies == 1) { z = "hemi"; hemi++ }
                    else if (n == 2 && copies == 2) { z = "hom"; hom++ }
                    else if (n == 2 && copies == 1) { z = "het"; het++ }
                    if (z != "") print chrom, pos - 1, ref, alt, sample, z > carriers
                }
                print chrom, pos - 1, ref, alt, ac, an, hom, het, hemi > rows
            }'
    touch "$carriers"
}

# compare LABEL EXPECTED DERIVED: sorted comparison, diff shown on mismatch.
compare() {
    local label=$1
    LC_ALL=C sort "$2" >"$tmp/cmp.expected"
    LC_ALL=C sort "$3" >"$tmp/cmp.derived"
    if diff "$tmp/cmp.expected" "$tmp/cmp.derived" >"$tmp/diff"; then
        echo "ok    $label ($(wc -l <"$tmp/cmp.expected") rows)"
    else
        echo "FAIL  $label (< hand-worked, > bcftools)"
        sed 's/^/      /' "$tmp/diff"
        fail=1
    fi
}

for name in small chr_prefixed; do
    derive "$name.vcf" "$tmp/$name.rows" "$tmp/$name.carriers"
    tail -n +2 "expected/$name.tsv" >"$tmp/$name.expected"
    compare "$name ac/an" <(cut -f1-6 "$tmp/$name.expected") <(cut -f1-6 "$tmp/$name.rows")
    compare "$name hom/het/hemi" "$tmp/$name.expected" "$tmp/$name.rows"
    compare "$name carriers" <(tail -n +2 "expected/$name.carriers.tsv") "$tmp/$name.carriers"
done

# The committed binary/compressed copies must hold the same records as small.vcf.
bcftools view -H small.vcf >"$tmp/small.body"
bcftools query -l small.vcf >"$tmp/small.samples"
for copy in small.vcf.gz small.vcf.plain.gz small.bcf; do
    if bcftools view -H "$copy" | cmp -s - "$tmp/small.body" \
        && bcftools query -l "$copy" | cmp -s - "$tmp/small.samples"; then
        echo "ok    $copy matches small.vcf"
    else
        echo "FAIL  $copy differs from small.vcf (regenerate it, see README.md)"
        fail=1
    fi
done
if [ "$(head -c 4 small.vcf.gz | od -An -tx1 | tr -d ' \n')" != "1f8b0804" ]; then
    echo "FAIL  small.vcf.gz is not BGZF"
    fail=1
fi
if [ "$(head -c 4 small.vcf.plain.gz | od -An -tx1 | tr -d ' \n')" = "1f8b0804" ]; then
    echo "FAIL  small.vcf.plain.gz should be plain gzip, not BGZF"
    fail=1
fi

if [ "$fail" -ne 0 ]; then
    echo "check-expected: mismatches found" >&2
    exit 1
fi
echo "check-expected: all expectations agree with bcftools"
