use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use crate::filtering::{FilteringTerm, document};
use crate::obo::{self, ParsedFile};
use crate::{OntologyError, pre_indication};

/// One or more OBO files merged into one hierarchy, read-only once built (so `Send + Sync`
/// and shareable across request handlers behind an `Arc`).
#[derive(Clone, Debug, Default)]
pub struct Ontology {
    /// Primary id → term; ordered so listings come out the same on every run.
    terms: BTreeMap<String, Term>,
    /// Secondary id (`alt_id`) → primary id.
    alt_ids: HashMap<String, String>,
    /// Primary id → the primary ids of the terms that name it in `is_a`. Derived from `terms`.
    children: HashMap<String, Vec<String>>,
    /// Prefix (`HP`) → the `data-version` of the first file that defined terms with it.
    versions: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default)]
struct Term {
    label: Option<String>,
    parents: Vec<String>,
    obsolete: bool,
    replaced_by: Vec<String>,
}

impl Ontology {
    /// Reads and merges OBO files, in order: when two files define the same term, the first
    /// file's label and obsolete flag win and the parents of both are kept.
    pub fn load(paths: &[PathBuf]) -> Result<Self, OntologyError> {
        let mut ontology = Self::default();
        for path in paths {
            ontology.add(obo::read_file(path)?);
        }
        ontology.index_children();
        Ok(ontology)
    }

    /// Reads OBO text already in memory; `name` stands for the file in error messages.
    pub fn from_obo_text(name: &str, text: &str) -> Result<Self, OntologyError> {
        let mut ontology = Self::default();
        ontology.add(obo::read_text(name, text)?);
        ontology.index_children();
        Ok(ontology)
    }

    /// Both ontologies in one; where they overlap, `self` comes first as in [`Ontology::load`].
    pub fn merge(mut self, other: Ontology) -> Self {
        for (id, term) in other.terms {
            self.add_term(id, term);
        }
        for (alt_id, primary) in other.alt_ids {
            self.alt_ids.entry(alt_id).or_insert(primary);
        }
        for (prefix, version) in other.versions {
            self.versions.entry(prefix).or_insert(version);
        }
        self.index_children();
        self
    }

    /// How many terms (primary ids, obsolete ones included) the ontology holds.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The term's `name`, looked up after [`Ontology::normalise_id`].
    pub fn label(&self, id: &str) -> Option<&str> {
        self.terms.get(&self.normalise_id(id))?.label.as_deref()
    }

    /// Whether a file defined the term, under this id or as an `alt_id`.
    pub fn contains(&self, id: &str) -> bool {
        self.terms.contains_key(&self.normalise_id(id))
    }

    /// The `data-version` header of the file that brought a prefix's terms (`HP`), for the
    /// `version` of a `/filtering_terms` resource.
    pub fn data_version(&self, prefix: &str) -> Option<&str> {
        self.versions.get(prefix).map(String::as_str)
    }

    /// The ids a filter on `id` with `includeDescendantTerms` selects: the term and all its
    /// transitive `is_a` children, sorted. Ids are normalised and `alt_id`s resolved to
    /// primary ids; an obsolete term is replaced by its `replaced_by` terms (with their
    /// descendants), or dropped when it has none, so a filter on an obsolete term without a
    /// replacement selects nothing. A term no file defines is returned alone: the node may
    /// still hold data under it. Each term is visited once, so a cycle in a file terminates.
    pub fn with_descendants(&self, id: &str) -> Vec<String> {
        let mut selected: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<String> = self.current_ids(&self.normalise_id(id)).into();
        while let Some(current) = queue.pop_front() {
            if !selected.insert(current.clone()) {
                continue;
            }
            for child in self.children.get(&current).into_iter().flatten() {
                queue.extend(self.current_ids(child));
            }
        }
        let mut ids: Vec<String> = selected.into_iter().collect();
        ids.sort_unstable();
        ids
    }

    /// Whether `child` is `ancestor` or one of its transitive `is_a` children, after the same
    /// normalisation and replacement of obsolete terms as [`Ontology::with_descendants`].
    pub fn is_descendant(&self, child: &str, ancestor: &str) -> bool {
        let ancestors: HashSet<String> = self
            .current_ids(&self.normalise_id(ancestor))
            .into_iter()
            .collect();
        if ancestors.is_empty() {
            return false;
        }
        let mut visited: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<String> = self.current_ids(&self.normalise_id(child)).into();
        while let Some(current) = queue.pop_front() {
            if ancestors.contains(&current) {
                return true;
            }
            if !visited.insert(current.clone()) {
                continue;
            }
            let parents = self
                .terms
                .get(&current)
                .map(|term| term.parents.as_slice())
                .unwrap_or_default();
            for parent in parents {
                queue.extend(self.current_ids(&self.primary_id(parent)));
            }
        }
        false
    }

    /// Every current (non-obsolete) term that has a label, as `(id, label)` sorted by id, for
    /// `/filtering_terms` listings.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &str)> {
        self.terms
            .iter()
            .filter(|(_, term)| !term.obsolete)
            .filter_map(|(id, term)| Some((id.as_str(), term.label.as_deref()?)))
    }

    /// The spelling Phare stores and compares: surrounding spaces removed, the prefix in
    /// upper case (`hp:0001250` → `HP:0001250`), `ORPHANET:` as `ORPHA:`, a pre-indication as
    /// `PFMG:01`, and an `alt_id` as its primary id. Anything that is not a CURIE comes back
    /// trimmed and otherwise unchanged.
    pub fn normalise_id(&self, id: &str) -> String {
        self.primary_id(&normalise_curie(id))
    }

    /// The `response` section of a `beaconFilteringTermsResponse`, as
    /// [`crate::filtering_terms_document`] builds it, with each resource's `version` taken
    /// from the `data-version` of the file that brought its terms.
    pub fn filtering_terms_document(&self, terms: &[FilteringTerm]) -> serde_json::Value {
        document(terms, |prefix| self.data_version(prefix))
    }

    /// An already normalised id with an `alt_id` replaced by its primary id. A primary id
    /// wins over an `alt_id` of the same spelling from another file.
    fn primary_id(&self, id: &str) -> String {
        if self.terms.contains_key(id) {
            return id.to_owned();
        }
        self.alt_ids.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// A primary id as the current terms it stands for: itself, or for an obsolete term its
    /// replacements (followed through chains of obsolete replacements), or nothing.
    fn current_ids(&self, id: &str) -> Vec<String> {
        let mut current = Vec::new();
        let mut visited: HashSet<String> = HashSet::new();
        let mut pending = vec![id.to_owned()];
        while let Some(candidate) = pending.pop() {
            if !visited.insert(candidate.clone()) {
                continue;
            }
            match self.terms.get(&candidate) {
                Some(term) if term.obsolete => {
                    pending.extend(
                        term.replaced_by
                            .iter()
                            .map(|replacement| self.primary_id(replacement)),
                    );
                }
                _ => current.push(candidate),
            }
        }
        current
    }

    fn add(&mut self, file: ParsedFile) {
        for parsed in file.terms {
            if let (Some(version), Some((prefix, _))) = (&file.data_version, parsed.id.split_once(':')) {
                self.versions
                    .entry(prefix.to_owned())
                    .or_insert_with(|| version.clone());
            }
            for alt_id in parsed.alt_ids {
                self.alt_ids.entry(alt_id).or_insert_with(|| parsed.id.clone());
            }
            let term = Term {
                label: parsed.label,
                parents: parsed.parents,
                obsolete: parsed.obsolete,
                replaced_by: parsed.replaced_by,
            };
            self.add_term(parsed.id, term);
        }
    }

    fn add_term(&mut self, id: String, term: Term) {
        let Some(existing) = self.terms.get_mut(&id) else {
            self.terms.insert(id, term);
            return;
        };
        if existing.label.is_none() {
            existing.label = term.label;
        }
        for parent in term.parents {
            if !existing.parents.contains(&parent) {
                existing.parents.push(parent);
            }
        }
        for replacement in term.replaced_by {
            if !existing.replaced_by.contains(&replacement) {
                existing.replaced_by.push(replacement);
            }
        }
    }

    /// Rebuilds the child index after terms change: `is_a` targets may be written as
    /// `alt_id`s, so they are resolved first.
    fn index_children(&mut self) {
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for (id, term) in &self.terms {
            for parent in &term.parents {
                children
                    .entry(self.primary_id(parent))
                    .or_default()
                    .push(id.clone());
            }
        }
        self.children = children;
    }
}

/// The CURIE spelling Phare uses, without looking at any ontology: see
/// [`Ontology::normalise_id`].
pub(crate) fn normalise_curie(id: &str) -> String {
    let id = id.trim();
    if let Some(indication) = pre_indication(id) {
        return indication.id.to_owned();
    }
    let Some((prefix, local)) = id.split_once(':') else {
        return id.to_owned();
    };
    // A URL (`https://…`) or a prefix with odd characters is not a CURIE: leave it alone.
    let is_prefix = !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !is_prefix || local.is_empty() || local.starts_with("//") {
        return id.to_owned();
    }
    let prefix = prefix.to_ascii_uppercase();
    // Orphanet's own files write `Orphanet:558`; Beacon and Phenopackets data use `ORPHA:558`.
    let prefix = if prefix == "ORPHANET" {
        "ORPHA".to_owned()
    } else {
        prefix
    };
    format!("{prefix}:{local}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic tree (real HP ids where the shape is real) with the awkward cases: an alt_id, an obsolete term with a replacement,
    /// one without, an is_a written as an alt_id, and a term listed in two stanzas.
    const HIERARCHY: &[u8] = b"format-version: 1.2
data-version: test-1

[Term]
id: HP:0000118
name: Phenotypic abnormality

[Term]
id: HP:0001250
name: Seizure
alt_id: HP:0002279
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0002069
name: Bilateral tonic-clonic seizure
is_a: HP:0002279 ! Seizure, through its alt_id

[Term]
id: HP:0007359
name: Focal-onset seizure
is_a: HP:0001250

[Term]
id: HP:0001263
name: Global developmental delay
is_a: HP:0000118

[Term]
id: HP:9999001
name: Old seizure term
is_obsolete: true
replaced_by: HP:0001250

[Term]
id: HP:9999002
name: Old unreplaced term
is_obsolete: true

[Term]
id: HP:0002069
xref: SNOMEDCT_US:54200006
";

    fn hierarchy() -> Ontology {
        let text = std::str::from_utf8(HIERARCHY).unwrap();
        Ontology::from_obo_text("hierarchy.obo", text).unwrap()
    }

    #[test]
    fn descendants_follow_is_a_transitively_and_only_downwards() {
        let ontology = hierarchy();
        let seizures = ontology.with_descendants("HP:0001250");
        assert_eq!(seizures, ["HP:0001250", "HP:0002069", "HP:0007359"]);
        assert!(!seizures.contains(&"HP:0001263".to_owned()));
        assert_eq!(ontology.with_descendants("HP:0000118").len(), 5);
        assert_eq!(ontology.with_descendants("HP:0002069"), ["HP:0002069"]);
    }

    #[test]
    fn alt_ids_resolve_to_primary_ids() {
        let ontology = hierarchy();
        assert_eq!(ontology.normalise_id("hp:0002279"), "HP:0001250");
        assert_eq!(
            ontology.with_descendants("HP:0002279"),
            ontology.with_descendants("HP:0001250")
        );
        assert_eq!(ontology.label("HP:0002279"), Some("Seizure"));
        assert!(ontology.contains("HP:0002279"));
        assert!(ontology.is_descendant("HP:0002069", "HP:0002279"));
    }

    #[test]
    fn obsolete_terms_are_replaced_or_dropped() {
        let ontology = hierarchy();
        assert_eq!(
            ontology.with_descendants("HP:9999001"),
            ontology.with_descendants("HP:0001250")
        );
        assert!(ontology.with_descendants("HP:9999002").is_empty());
        assert!(ontology.contains("HP:9999002"));
        assert!(
            ontology
                .terms()
                .all(|(id, _)| id != "HP:9999001" && id != "HP:9999002")
        );
        assert!(ontology.is_descendant("HP:0002069", "HP:9999001"));
        assert!(!ontology.is_descendant("HP:9999002", "HP:9999002"));
    }

    #[test]
    fn unknown_terms_stand_for_themselves() {
        let ontology = hierarchy();
        assert_eq!(ontology.with_descendants(" mondo:0005021 "), ["MONDO:0005021"]);
        assert!(!ontology.contains("MONDO:0005021"));
        assert!(ontology.is_descendant("MONDO:0005021", "mondo:0005021"));
        assert!(!ontology.is_descendant("MONDO:0005021", "HP:0000118"));
    }

    #[test]
    fn is_descendant_goes_upwards_and_counts_the_term_itself() {
        let ontology = hierarchy();
        assert!(ontology.is_descendant("HP:0002069", "HP:0000118"));
        assert!(ontology.is_descendant("HP:0001250", "HP:0001250"));
        assert!(!ontology.is_descendant("HP:0000118", "HP:0001250"));
        assert!(!ontology.is_descendant("HP:0001263", "HP:0001250"));
    }

    #[test]
    fn a_second_stanza_for_a_term_adds_to_it() {
        let ontology = hierarchy();
        assert_eq!(
            ontology.label("HP:0002069"),
            Some("Bilateral tonic-clonic seizure")
        );
        assert_eq!(ontology.data_version("HP"), Some("test-1"));
    }

    #[test]
    fn a_cycle_terminates() {
        let text = "[Term]\nid: X:1\nis_a: X:3\n\n[Term]\nid: X:2\nis_a: X:1\n\n[Term]\nid: X:3\nis_a: X:2\n\n\
            [Term]\nid: X:4\nis_a: X:4\n\n[Term]\nid: X:5\nis_obsolete: true\nreplaced_by: X:6\n\n\
            [Term]\nid: X:6\nis_obsolete: true\nreplaced_by: X:5\n";
        let ontology = Ontology::from_obo_text("cycle.obo", text).unwrap();
        assert_eq!(ontology.with_descendants("X:2"), ["X:1", "X:2", "X:3"]);
        assert_eq!(ontology.with_descendants("X:4"), ["X:4"]);
        assert!(ontology.is_descendant("X:1", "X:3"));
        assert!(!ontology.is_descendant("X:4", "X:1"));
        assert!(ontology.with_descendants("X:5").is_empty());
    }

    #[test]
    fn merge_joins_hierarchies_across_files() {
        let first =
            Ontology::from_obo_text("a.obo", "data-version: a-1\n[Term]\nid: MONDO:1\nname: parent\n")
                .unwrap();
        let second = Ontology::from_obo_text(
            "b.obo",
            "data-version: b-1\n[Term]\nid: MONDO:2\nname: child\nis_a: MONDO:1\n\n[Term]\nid: MONDO:1\nname: other label\n",
        )
        .unwrap();
        let merged = first.merge(second);
        assert_eq!(merged.with_descendants("MONDO:1"), ["MONDO:1", "MONDO:2"]);
        assert_eq!(merged.label("MONDO:1"), Some("parent"));
        assert_eq!(merged.data_version("MONDO"), Some("a-1"));
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn normalises_prefixes_and_pre_indications() {
        let ontology = Ontology::default();
        assert!(ontology.is_empty());
        assert_eq!(ontology.normalise_id("hp:0001250"), "HP:0001250");
        assert_eq!(ontology.normalise_id("Orphanet:558"), "ORPHA:558");
        assert_eq!(ontology.normalise_id("ORPHANET:558"), "ORPHA:558");
        assert_eq!(ontology.normalise_id("ncit:C16576"), "NCIT:C16576");
        assert_eq!(ontology.normalise_id("PFMG-08"), "PFMG:08");
        assert_eq!(
            ontology.normalise_id("https://example.org/x"),
            "https://example.org/x"
        );
        assert_eq!(ontology.normalise_id("ownsIPhone"), "ownsIPhone");
    }

    #[test]
    fn ontologies_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Ontology>();
    }
}
