//! Amino-acid changes in one spelling, so that `V600E`, `p.V600E`, `p.Val600Glu`,
//! `ENSP00000288602.7:p.(Val600Glu)` (VEP) and `600V>600E` (bcftools csq) all match.

const THREE_LETTER: [(&str, &str); 25] = [
    ("Ala", "A"),
    ("Arg", "R"),
    ("Asn", "N"),
    ("Asp", "D"),
    ("Cys", "C"),
    ("Gln", "Q"),
    ("Glu", "E"),
    ("Gly", "G"),
    ("His", "H"),
    ("Ile", "I"),
    ("Leu", "L"),
    ("Lys", "K"),
    ("Met", "M"),
    ("Phe", "F"),
    ("Pro", "P"),
    ("Ser", "S"),
    ("Thr", "T"),
    ("Trp", "W"),
    ("Tyr", "Y"),
    ("Val", "V"),
    ("Ter", "*"),
    ("Sec", "U"),
    ("Pyl", "O"),
    ("Xaa", "X"),
    ("Asx", "B"),
];

/// The one-letter form of a protein change (`V600E`), or `None` for an empty or synonymous-only
/// description (`p.=`, `p.?`).
pub fn normalise_protein_change(text: &str) -> Option<String> {
    let without_protein = text.rsplit_once(':').map_or(text, |(_, change)| change).trim();
    let without_prefix = without_protein.strip_prefix("p.").unwrap_or(without_protein);
    let bare = without_prefix.trim_start_matches('(').trim_end_matches(')');
    if bare.is_empty() || bare == "=" || bare == "?" {
        return None;
    }
    if let Some(change) = bcftools_form(bare) {
        return Some(change);
    }
    let mut one_letter = bare.to_owned();
    for (three, one) in THREE_LETTER {
        one_letter = one_letter.replace(three, one);
    }
    // A residue, then its position: anything else is not a protein change.
    let mut characters = one_letter.chars();
    let residue = characters
        .next()
        .is_some_and(|first| first.is_ascii_uppercase() || first == '*');
    let position = characters.next().is_some_and(|second| second.is_ascii_digit());
    (residue && position).then_some(one_letter)
}

/// bcftools csq writes `600V>600E`: position, reference, `>`, position, alternate.
fn bcftools_form(text: &str) -> Option<String> {
    let (reference, alternate) = text.split_once('>')?;
    let split = |part: &str| -> Option<(String, String)> {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let residues: String = part.chars().skip(digits.len()).collect();
        (!digits.is_empty() && !residues.is_empty()).then_some((digits, residues))
    };
    let (position, reference_residues) = split(reference)?;
    let (_, alternate_residues) = split(alternate)?;
    Some(format!("{reference_residues}{position}{alternate_residues}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_usual_spelling_gives_one_letter_codes() {
        for text in [
            "V600E",
            "p.V600E",
            "p.Val600Glu",
            "ENSP00000288602.7:p.Val600Glu",
            "p.(Val600Glu)",
            "600V>600E",
        ] {
            assert_eq!(normalise_protein_change(text).as_deref(), Some("V600E"), "{text}");
        }
        assert_eq!(normalise_protein_change("p.Arg175His").as_deref(), Some("R175H"));
        assert_eq!(normalise_protein_change("p.Gln61Ter").as_deref(), Some("Q61*"));
        assert_eq!(
            normalise_protein_change("p.Gly12ValfsTer5").as_deref(),
            Some("G12Vfs*5")
        );
    }

    #[test]
    fn empty_and_unknown_changes_are_none() {
        for text in ["", "p.=", "p.?", "ENST1:p.=", "xyz", "c.35G>A"] {
            assert_eq!(normalise_protein_change(text), None, "{text}");
        }
    }
}
