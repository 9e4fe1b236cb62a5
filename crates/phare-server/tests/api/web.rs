//! The web page at `/`, driven in a real headless browser: Debian's chromium through its
//! chromedriver (WebDriver), against a real node of the harness. What a person types goes in
//! with key presses; what they would read is read from the rendered page. Expected counts come
//! from bcftools on the same fixtures.
//!
//! chromium and chromium-driver must be installed (`.ci/run` installs them): without them these
//! tests fail, saying so, rather than pass without a browser.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use phare_access::dev::DEV_ISSUER;
use phare_domain::Granularity;
use phare_server::QueryBudget;
use serde_json::{Value, json};

use crate::support::{CARE_AUDIENCE, Dataset, Node, Who, bcftools, data, manifest};

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest wait for the page to show something after a key press.
const PATIENCE: Duration = Duration::from_secs(15);

/// chromedriver on a free loopback port, its chromium headless, one WebDriver session. The
/// driver runs in its own process group, which is killed whole (browser included) on drop, so a
/// failing test leaves no browser behind.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// A care token of CHU-LYON that expired an hour ago, as a tab may still hold.
fn expired_care_token(node: &Node) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    node.dev
        .mint(&json!({
            "iss": DEV_ISSUER, "sub": "dr-CHU-LYON", "aud": CARE_AUDIENCE,
            "iat": now - 7200, "exp": now - 3600,
            "phare_roles": ["clinician"], "phare_care_centre": "CHU-LYON",
        }))
        .expect("mint")
}

impl Browser {
    /// Puts `token` where the page keeps a signed-in user's token (the tab's session storage).
    async fn keep_token(&self, token: &str) {
        self.client
            .execute(
                "sessionStorage.setItem('phare.token', arguments[0]);",
                vec![json!(token)],
            )
            .await
            .expect("script");
    }

    pub async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && which(CHROMEDRIVER),
            "the browser tests need Debian's chromium and chromium-driver: \
             apt-get install chromium chromium-driver (.ci/run installs them)"
        );
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt as _;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let profile = tempfile::tempdir().expect("profile directory");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // Root in CI containers: chromium's sandbox needs user namespaces.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-extensions",
                    "--window-size=1200,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        _profile: profile,
                    };
                }
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session from chromedriver on port {port}: {last_error}");
    }

    /// Opens `path` of the node's page (a fragment included) as a fresh load, as a link opened
    /// in the tab would, and waits until the page knows who the caller is.
    pub async fn open(&self, node: &Node, path: &str) {
        self.client.goto("about:blank").await.expect("blank page");
        self.client
            .goto(&format!("{}{path}", node.root))
            .await
            .expect("page loads");
        self.wait_for_text("#who", |text| !text.starts_with("Checking"))
            .await;
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!(
                "{css} never appeared: {error}\npage text:\n{}",
                self.text("body").await
            ),
        }
    }

    /// Waits until the text of `css` satisfies `ready`, and returns it.
    pub async fn wait_for_text(&self, css: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && ready(&text)
            {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never showed the expected text; page text:\n{}",
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The rendered text of `css` (empty when absent).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(css).await.attr(name).await.expect("attribute")
    }

    /// Types `text` into the quick search box and presses Enter, as a person would, then waits
    /// for an answer or an error.
    pub async fn search(&self, text: &str) {
        let input = self.wait_for("#quick").await;
        input.clear().await.expect("clear");
        input
            .send_keys(&format!("{text}{}", char::from(Key::Enter)))
            .await
            .expect("type");
        self.answered().await;
    }

    /// Waits until the results show a summary or an error.
    pub async fn answered(&self) {
        self.wait_for("#summary, #answer .notice, #error:not([hidden]), #quick-error:not([hidden]), #query-error:not([hidden])")
            .await;
    }

    /// Presses `key` wherever the focus is, as a keyboard does.
    pub async fn press(&self, key: Key) {
        let value = char::from(key);
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client.perform_actions(keys).await.expect("key press");
    }

    /// The id of the focused element.
    pub async fn focused(&self) -> Option<String> {
        let element = self.client.active_element().await.expect("focus");
        element.attr("id").await.expect("id")
    }

    /// Pastes `token` into the sign-in form with the keyboard only: Tab from the top of the page
    /// to the "Sign in" button, Enter, the token, Enter.
    pub async fn sign_in_with_keyboard(&self, token: &str) {
        for _ in 0..80 {
            if self.focused().await.as_deref() == Some("sign-in-open") {
                break;
            }
            self.press(Key::Tab).await;
        }
        assert_eq!(
            self.focused().await.as_deref(),
            Some("sign-in-open"),
            "Tab never reached the sign-in button"
        );
        self.press(Key::Enter).await;
        assert_eq!(
            self.focused().await.as_deref(),
            Some("token"),
            "the sign-in form did not take the focus"
        );
        let field = self.client.active_element().await.expect("focus");
        field
            .send_keys(&format!("{token}{}", char::from(Key::Enter)))
            .await
            .expect("type the token");
    }

    pub async fn session_token(&self) -> Value {
        self.client
            .execute("return sessionStorage.getItem('phare.token');", vec![])
            .await
            .expect("script")
    }

    pub async fn close(self) {
        self.client.clone().close().await.expect("close the session");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.driver.id()) {
            // The whole group: chromedriver and the chromium it started.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.wait();
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Alleles bcftools finds with at least one copy, multi-allelic records split, PASS only, on
/// `contig` between 1-based `from` and `to` (by POS).
fn bcftools_alleles(file: &str, contig: &str, from: u64, to: u64) -> usize {
    let text = bcftools(&format!(
        "bcftools view -f PASS,. '{}' | bcftools norm -m- - 2>/dev/null \
         | bcftools +fill-tags - -- -t AC | bcftools query -i 'CHROM=\"{contig}\" && POS>={from} && POS<={to} && AC>0' -f '%POS\\n'",
        data(file).display()
    ));
    text.lines().count()
}

/// AC and AN of the record at `contig:pos` as bcftools computes them.
fn bcftools_ac_an(file: &str, contig: &str, position: u64) -> (String, String) {
    let text = bcftools(&format!(
        "bcftools +fill-tags '{}' -- -t AC,AN | bcftools query -i 'CHROM=\"{contig}\" && POS={position}' -f '%AC\\t%AN\\n'",
        data(file).display()
    ));
    let (count, number) = text.trim().split_once('\t').expect("AC and AN");
    (count.to_owned(), number.to_owned())
}

/// The samples bcftools sees carrying an ALT at `contig:pos`.
fn bcftools_carriers(file: &str, contig: &str, position: u64) -> BTreeSet<String> {
    bcftools(&format!(
        "bcftools query -i 'CHROM=\"{contig}\" && POS={position}' -f '[%SAMPLE\\t%GT\\n]' '{}'",
        data(file).display()
    ))
    .lines()
    .filter_map(|line| line.split_once('\t'))
    .filter(|(_, genotype)| {
        genotype
            .chars()
            .any(|allele| allele.is_ascii_digit() && allele != '0')
    })
    .map(|(sample, _)| sample.to_owned())
    .collect()
}

/// `small.vcf` open to everyone at record level with exact counts; `access.vcf` with its ten
/// patients of two care centres, public at boolean (the default) and rounded to 5.
async fn node() -> Node {
    Node::builder()
        .dataset(Dataset::open("panel", "small.vcf", Granularity::Record))
        .dataset(Dataset::access("rare"))
        .spawn()
        .await
}

#[tokio::test]
async fn a_region_typed_in_the_page_shows_the_count_bcftools_gives_and_anonymous_users_see_only_the_public_answer()
 {
    let node = node().await;
    let browser = Browser::start().await;
    browser.open(&node, "/").await;
    assert!(browser.text("#who").await.contains("Not signed in"));

    browser.search("chr1:1-10,000").await;
    let expected = bcftools_alleles("small.vcf", "1", 1, 10_000);
    assert_eq!(
        browser
            .attr("article[data-dataset=panel] .headline", "data-count")
            .await,
        Some(expected.to_string()),
        "{}",
        browser.text("#results").await
    );
    assert!(
        browser
            .text("article[data-dataset=panel] .headline")
            .await
            .contains(&format!("{expected} variants"))
    );
    // The variants drawn along the region, one stem each.
    let stems = browser
        .client
        .find_all(Locator::Css("article[data-dataset=panel] svg.range g.stem"))
        .await
        .expect("stems");
    assert_eq!(stems.len(), expected);

    // The patient dataset answers the public yes or no, nothing more.
    let rare = "article[data-dataset=rare] .headline";
    browser.wait_for(rare).await;
    assert_eq!(
        browser.attr(rare, "data-granularity").await.as_deref(),
        Some("boolean")
    );
    assert_eq!(browser.attr(rare, "data-count").await.as_deref(), Some(""));
    let page = browser.text("#results").await;
    assert!(!page.contains("PAT-") && !page.contains("CHU-"), "{page}");
    assert!(page.contains("yes or no"), "the page says why: {page}");

    // The query is in the URL (its fragment); opening that URL again shows the same answer.
    let url = browser.client.current_url().await.expect("url");
    let fragment = url.fragment().expect("a fragment").to_owned();
    assert!(
        fragment.contains("kind=range") && fragment.contains("chr=chr1"),
        "{fragment}"
    );
    browser.open(&node, &format!("/#{fragment}")).await;
    browser.answered().await;
    assert_eq!(
        browser
            .attr("article[data-dataset=panel] .headline", "data-count")
            .await,
        Some(expected.to_string())
    );

    // One variant, written as people write it: its frequencies, AC/AN as bcftools computes.
    browser.search("1:1,000 A>G").await;
    let (count, number) = bcftools_ac_an("small.vcf", "1", 1000);
    let total = browser
        .wait_for_text(
            "article[data-dataset=panel] table.frequency tr[data-population=Total]",
            |text| !text.is_empty(),
        )
        .await;
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cells[2], count, "{total}");
    assert_eq!(cells[3], number, "{total}");
    assert!(
        browser
            .client
            .find(Locator::Css(
                "article[data-dataset=panel] svg.plot rect.bar.total"
            ))
            .await
            .is_ok(),
        "a frequency plot"
    );
    // After a search the focus is on the results, for keyboard and screen-reader users.
    assert_eq!(browser.focused().await.as_deref(), Some("results"));
    browser.close().await;
}

#[tokio::test]
async fn a_care_token_shows_its_own_patients_and_no_others() {
    let node = node().await;
    let browser = Browser::start().await;
    browser.open(&node, "/").await;
    let token = node.token(Who::Care("CHU-LYON")).expect("token");
    browser.sign_in_with_keyboard(&token).await;
    let who = browser
        .wait_for_text("#who", |text| text.contains("Signed in"))
        .await;
    assert!(who.contains("care space, CHU-LYON"), "{who}");
    // Never in the address bar; in this tab's session storage only.
    let url = browser.client.current_url().await.expect("url");
    assert!(!url.as_str().contains(&token[..20]));
    assert_eq!(browser.session_token().await, json!(token));

    browser.search("1:300000 G>A").await;
    let carriers = bcftools_carriers("access.vcf", "1", 300_000);
    let centres = manifest("access.manifest.json");
    let lyon: BTreeSet<String> = centres
        .samples
        .iter()
        .filter(|entry| carriers.contains(&entry.sample))
        .filter(|entry| entry.care_centre.as_deref() == Some("CHU-LYON"))
        .map(|entry| entry.individual_id.clone())
        .collect();
    let others: BTreeSet<String> = centres
        .samples
        .iter()
        .filter(|entry| entry.care_centre.as_deref() != Some("CHU-LYON"))
        .map(|entry| entry.individual_id.clone())
        .collect();
    assert!(!lyon.is_empty() && !others.is_empty());
    browser
        .wait_for("article[data-dataset=rare] li[data-individual]")
        .await;
    let mut shown = BTreeSet::new();
    for item in browser
        .client
        .find_all(Locator::Css("article[data-dataset=rare] li[data-individual]"))
        .await
        .expect("carriers")
    {
        shown.insert(item.attr("data-individual").await.expect("attr").expect("id"));
    }
    assert_eq!(shown, lyon);
    let page = browser.text("body").await;
    for other in &others {
        assert!(
            !page.contains(other.as_str()),
            "{other} of another centre is shown: {page}"
        );
    }
    // Care counts are exact: every carrier, of both centres, counted (bcftools).
    assert_eq!(
        browser.text("article[data-dataset=rare] td.carriers").await,
        carriers.len().to_string()
    );
    browser.close().await;
}

#[tokio::test]
async fn an_expired_token_shows_the_sign_in_again() {
    let node = node().await;
    let browser = Browser::start().await;
    browser.open(&node, "/").await;
    let expired = expired_care_token(&node);
    // A token kept from an earlier visit, expired since: the shared link opens on the sign-in.
    browser.keep_token(&expired).await;
    browser
        .open(&node, "/#kind=variant&chr=1&pos=300000&ref=G&alt=A")
        .await;
    let reason = browser
        .wait_for_text("#sign-in-reason", |text| !text.is_empty())
        .await;
    assert!(
        reason.contains("no longer valid") && reason.contains("expired"),
        "{reason}"
    );
    assert!(
        browser
            .wait_for("#sign-in")
            .await
            .is_displayed()
            .await
            .expect("shown"),
        "the sign-in form is shown"
    );
    assert_eq!(
        browser.session_token().await,
        Value::Null,
        "the stale token is forgotten"
    );
    assert!(browser.text("#who").await.contains("Not signed in"));
    browser.close().await;
}

#[tokio::test]
async fn errors_are_shown_as_a_person_needs_them() {
    // A budget of three queries an hour for this client address.
    let node = Node::builder()
        .dataset(Dataset::open("panel", "small.vcf", Granularity::Record))
        .budget(QueryBudget {
            queries: 3,
            window: Duration::from_secs(3600),
        })
        .spawn()
        .await;
    let browser = Browser::start().await;
    browser.open(&node, "/").await;

    // Checked in the page: a position 0, where coordinates start at 1.
    browser.search("1:0 A>G").await;
    let message = browser.text("#query-error").await;
    assert!(message.contains("count from 1"), "{message}");
    let focused = browser.client.active_element().await.expect("focus");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("pos"));
    assert_eq!(
        focused.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );

    // Refused by the node: an HGVS name it cannot read; its message, never its JSON.
    browser.search("NC_000001.11:g.1000A>").await;
    let error = browser.wait_for_text("#error", |text| !text.is_empty()).await;
    assert!(
        error.starts_with("The node could not read this query."),
        "{error}"
    );
    assert!(!error.contains('{') && !error.contains("errorCode"), "{error}");

    // The budget runs out: the time to wait, in words.
    let mut message = String::new();
    for _ in 0..4 {
        browser.search("1:1000 A>G").await;
        message = browser.text("#error").await;
        if !message.is_empty() {
            break;
        }
    }
    assert!(message.contains("query budget"), "{message}");
    assert!(
        message.contains("search again in") && message.contains("minutes"),
        "{message}"
    );
    browser.close().await;
}

/// What people type, read by the page's own script in the browser, and the Beacon parameters
/// it sends: 1-based positions become 0-based starts, contigs are cleaned, bad input is named.
/// Expected values worked out by hand.
#[tokio::test]
async fn the_page_reads_variants_regions_genes_and_hgvs_as_people_write_them() {
    let node = Node::builder().spawn().await;
    let browser = Browser::start().await;
    browser.open(&node, "/").await;
    let read = |text: &'static str| {
        let client = browser.client.clone();
        async move {
            client
                .execute(
                    "try { const request = toRequest(parseQuick(arguments[0])); \
                       return { path: request.path, parameters: request.parameters }; } \
                     catch (error) { return { error: error.message, field: error.field }; }",
                    vec![json!(text)],
                )
                .await
                .expect("script")
        }
    };
    let cases = [
        (
            "17:7674220 C>T",
            json!({"referenceName": "17", "start": [7674219], "referenceBases": "C", "alternateBases": "T"}),
        ),
        (
            "chr17:7,674,220 c>t",
            json!({"referenceName": "17", "start": [7674219], "referenceBases": "C", "alternateBases": "T"}),
        ),
        (
            "17-7674220-C-T",
            json!({"referenceName": "17", "start": [7674219], "referenceBases": "C", "alternateBases": "T"}),
        ),
        (
            "chrX 1000 A G",
            json!({"referenceName": "X", "start": [999], "referenceBases": "A", "alternateBases": "G"}),
        ),
        (
            "chrM:73 A>G",
            json!({"referenceName": "MT", "start": [72], "referenceBases": "A", "alternateBases": "G"}),
        ),
        (
            "NC_000017.11:7674220 C>T",
            json!({"referenceName": "NC_000017.11", "start": [7674219], "referenceBases": "C", "alternateBases": "T"}),
        ),
        (
            "1:1000 TCG>TCGCG",
            json!({"referenceName": "1", "start": [999], "referenceBases": "TCG", "alternateBases": "TCGCG"}),
        ),
        (
            "chr7:140,700,000-140,800,000",
            json!({"referenceName": "7", "start": [140_699_999], "end": [140_800_000]}),
        ),
        (
            "X:1000000..2000000",
            json!({"referenceName": "X", "start": [999_999], "end": [2_000_000]}),
        ),
        (
            "chr7:140753336",
            json!({"referenceName": "7", "start": [140_753_335], "end": [140_753_336]}),
        ),
        (
            "BRAF V600E",
            json!({"geneId": "BRAF", "aminoacidChange": "V600E"}),
        ),
        (
            "braf p.Val600Glu",
            json!({"geneId": "BRAF", "aminoacidChange": "Val600Glu"}),
        ),
        ("TP53", json!({"geneId": "TP53"})),
        (
            "NC_000017.11:g.7674220C>T",
            json!({"genomicAlleleShortForm": "NC_000017.11:g.7674220C>T"}),
        ),
    ];
    for (typed, expected) in cases {
        let answer = read(typed).await;
        assert_eq!(answer["path"], "/api/g_variants", "{typed}: {answer}");
        assert_eq!(answer["parameters"], expected, "{typed}");
    }
    for (typed, field, words) in [
        ("1:0 A>G", "pos", "1 or more"),
        ("chr1:500-100", "to", "before it starts"),
        ("chr23:100 A>G", "chr", "not a chromosome"),
        ("what is this?", "quick", "not a variant"),
        ("1:100 A>A", "alt", "same as the reference"),
        ("", "quick", "Type a variant"),
    ] {
        let answer = read(typed).await;
        assert_eq!(answer["field"], field, "{typed}: {answer}");
        assert!(
            answer["error"].as_str().expect("message").contains(words),
            "{typed}: {answer}"
        );
    }
    browser.close().await;
}

/// `/whoami` over HTTP: who the node thinks the caller is, per dataset, through the gate.
#[tokio::test]
async fn whoami_tells_each_caller_their_tier_per_dataset_audited_and_never_echoes_the_token() {
    let node = node().await;
    let whoami = format!("{}/whoami", node.root);

    let anonymous = node.get_answer(Who::Anonymous, &whoami).await.ok();
    assert_eq!(anonymous["authenticated"], false);
    assert_eq!(anonymous["space"], "public");
    let tiers = |document: &Value| -> Vec<(String, String, String)> {
        document["datasets"]
            .as_array()
            .expect("datasets")
            .iter()
            .map(|dataset| {
                (
                    dataset["id"].as_str().expect("id").to_owned(),
                    dataset["tier"].as_str().expect("tier").to_owned(),
                    dataset["entryTypes"]["genomicVariation"]["maxGranularity"]
                        .as_str()
                        .expect("granularity")
                        .to_owned(),
                )
            })
            .collect()
    };
    let expected = |tier: &str, panel: &str, rare: &str| {
        vec![
            ("panel".to_owned(), tier.to_owned(), panel.to_owned()),
            ("rare".to_owned(), tier.to_owned(), rare.to_owned()),
        ]
    };
    // The defaults of docs/security.md: public at the dataset's ceiling, registered at count,
    // care at record (a higher tier never below a lower one: panel is open at record).
    assert_eq!(tiers(&anonymous), expected("public", "record", "boolean"));
    assert_eq!(
        anonymous["datasets"][1]["entryTypes"]["genomicVariation"]["roundedTo"],
        5
    );
    assert_eq!(
        anonymous["datasets"][0]["entryTypes"]["genomicVariation"]["roundedTo"],
        0
    );

    let registered = node.get_answer(Who::Registered, &whoami).await.ok();
    assert_eq!(registered["space"], "research");
    assert_eq!(registered["subject"], "researcher-1");
    assert_eq!(tiers(&registered), expected("registered", "record", "count"));

    let care_token = node.token(Who::Care("CHU-LYON")).expect("token");
    let care = node.get_answer(Who::Care("CHU-LYON"), &whoami).await;
    assert!(!care.text.contains(&care_token), "the token is echoed");
    let care = care.ok();
    assert_eq!(care["space"], "care");
    assert_eq!(care["careCentre"], "CHU-LYON");
    assert_eq!(care["roles"], json!(["clinician"]));
    assert_eq!(tiers(&care), expected("care", "record", "record"));
    assert_eq!(
        care["datasets"][1]["entryTypes"]["genomicVariation"]["roundedTo"],
        0
    );

    // A token that does not verify: 401 in words, never an anonymous answer.
    let forged = node.get_answer(Who::Forged, &whoami).await;
    assert_eq!(forged.status, 401, "{}", forged.text);

    let rows = node.store.audit_rows(100).await.expect("audit");
    let audited: Vec<_> = rows.iter().filter(|row| row.action == "GET /whoami").collect();
    assert_eq!(audited.len(), 4, "one audit row per call");
    assert!(audited.iter().any(|row| row.status == 401));
    assert!(
        audited
            .iter()
            .any(|row| row.subject.ends_with(" dr-CHU-LYON") && row.tier == "care")
    );
}

/// The page and its assets: served to anyone, even with credentials that do not verify (they
/// are never read there), with a policy that lets the page load nothing from elsewhere.
#[tokio::test]
async fn the_page_is_served_without_credentials_under_a_strict_content_security_policy() {
    let node = Node::builder().spawn().await;
    for (path, content_type) in [
        ("/", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let url = format!("{}{path}", node.root);
        let answer = node.get_answer(Who::Forged, &url).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        assert!(
            answer.content_type.starts_with(content_type),
            "{path}: {}",
            answer.content_type
        );
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(
            !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
            "{policy}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
    }
    // Nothing else escapes the gate (the probes excepted): the same forged token is refused on
    // the API.
    let refused = node
        .get_answer(Who::Forged, &format!("{}/api/info", node.root))
        .await;
    assert_eq!(refused.status, 401);
    let missing = node
        .get_answer(Who::Anonymous, &format!("{}/assets/other.js", node.root))
        .await;
    assert_eq!(missing.status, 404);
    // The page is not audited (it holds no data); nothing was written for it.
    let rows = node.store.audit_rows(100).await.expect("audit");
    assert!(
        rows.iter()
            .all(|row| !row.action.contains("/assets") && row.action != "GET /"),
        "{rows:?}"
    );
}

/// Writes a PNG of each main screen to docs/screenshots/ (the pictures README and docs/web.md
/// show). Not a check: run it by hand after changing the page, with
/// `scripts/test -E 'binary(api) and test(/screenshots/)' --run-ignored only`, and look at
/// the pictures before committing them.
#[tokio::test]
#[ignore = "writes docs/screenshots/; run by hand after changing the page"]
async fn screenshots_of_each_main_screen() {
    let cohort = tempfile::tempdir().expect("tempdir");
    let spec = phare_synth::CohortSpec {
        samples: 400,
        sites: 4000,
        seed: 7,
        chr_prefix: true,
        bgzf: false,
    };
    let vcf = cohort.path().join("cohort.vcf");
    let manifest_path = cohort.path().join("cohort.manifest.json");
    phare_synth::write_cohort_files(&spec, &vcf, &manifest_path).expect("synthetic cohort");
    let mut cohort_manifest =
        phare_domain::Manifest::from_json(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("valid manifest");
    // Two care centres, so that a clinician's own patients show.
    for (index, entry) in cohort_manifest.samples.iter_mut().enumerate() {
        entry.care_centre = Some(if index % 3 == 0 { "CHU-LYON" } else { "CHU-LILLE" }.to_owned());
    }
    let node = Node::builder()
        .dataset(
            Dataset::at("cohort", vcf)
                .with_manifest(cohort_manifest)
                .anonymous_max(Granularity::Record)
                .synthetic(),
        )
        .dataset(Dataset::open("annotated", "annotated.vcf", Granularity::Record))
        .spawn()
        .await;
    // The commonest allele of chromosome 1 and a region of about a dozen alleles.
    let listing = node
        .get(
            Who::Controlled,
            "/g_variants?referenceName=1&start=0&end=248956422&requestedGranularity=record&limit=1000&datasetIds=cohort",
        )
        .await;
    let records = listing["response"]["resultSets"][0]["results"]
        .as_array()
        .expect("records")
        .clone();
    let frequency = |record: &Value| {
        record["frequencyInPopulations"][0]["frequencies"][0]["alleleFrequency"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let common = records
        .iter()
        .filter(|record| record["info"]["vcfStyle"]["variantType"] == "SNP")
        .max_by(|left, right| frequency(left).total_cmp(&frequency(right)))
        .expect("a common SNV");
    // For the clinician: a variant a handful of her patients carry.
    let moderate = records
        .iter()
        .filter(|record| record["info"]["vcfStyle"]["variantType"] == "SNP")
        .min_by(|left, right| {
            (frequency(left) - 0.03)
                .abs()
                .total_cmp(&(frequency(right) - 0.03).abs())
        })
        .expect("an SNV near 3%");
    let moderate_style = &moderate["info"]["vcfStyle"];
    let moderate_variant = format!(
        "chr1:{} {}>{}",
        moderate_style["start"].as_u64().expect("start") + 1,
        moderate_style["referenceBases"].as_str().expect("ref"),
        moderate_style["alternateBases"].as_str().expect("alt")
    );
    let style = &common["info"]["vcfStyle"];
    let variant = format!(
        "chr1:{} {}>{}",
        style["start"].as_u64().expect("start") + 1,
        style["referenceBases"].as_str().expect("ref"),
        style["alternateBases"].as_str().expect("alt")
    );
    let region_start = style["start"].as_u64().expect("start").saturating_sub(4_000_000) + 1;
    let region = format!("chr1:{region_start}-{}", region_start + 8_000_000);

    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&directory).expect("docs/screenshots");
    let browser = Browser::start().await;
    browser
        .client
        .set_window_size(1200, 1400)
        .await
        .expect("window size");
    let save = |name: &'static str, png: Vec<u8>| {
        std::fs::write(directory.join(name), png).expect("write the screenshot");
    };

    browser.open(&node, "/").await;
    save("home.png", browser.client.screenshot().await.expect("screenshot"));

    browser.search(&variant).await;
    browser.wait_for("article[data-dataset=cohort] svg.plot").await;
    save(
        "variant-public.png",
        browser
            .wait_for("#results")
            .await
            .screenshot()
            .await
            .expect("screenshot"),
    );

    browser.search(&region).await;
    browser.wait_for("article[data-dataset=cohort] svg.range").await;
    save(
        "region.png",
        browser
            .wait_for("#results")
            .await
            .screenshot()
            .await
            .expect("screenshot"),
    );

    browser.search("BRAF V600E").await;
    browser
        .wait_for("article[data-dataset=annotated] table.variants")
        .await;
    save(
        "gene.png",
        browser
            .wait_for("#results")
            .await
            .screenshot()
            .await
            .expect("screenshot"),
    );

    browser.search("1:0 A>G").await;
    save(
        "error-coordinates.png",
        browser
            .wait_for("#search")
            .await
            .screenshot()
            .await
            .expect("screenshot"),
    );

    let care = node.token(Who::Care("CHU-LYON")).expect("token");
    browser.sign_in_with_keyboard(&care).await;
    browser
        .wait_for_text("#who", |text| text.contains("Signed in"))
        .await;
    browser.search(&moderate_variant).await;
    browser
        .wait_for("article[data-dataset=cohort] li[data-individual]")
        .await;
    browser
        .client
        .execute(
            "document.querySelector('details').open = false; window.scrollTo(0, 0);",
            vec![],
        )
        .await
        .expect("script");
    save("care.png", browser.client.screenshot().await.expect("screenshot"));

    let researcher = node.token(Who::Controlled).expect("token");
    browser
        .wait_for("#sign-out")
        .await
        .click()
        .await
        .expect("sign out");
    browser
        .wait_for_text("#who", |text| text.contains("Not signed in"))
        .await;
    browser.sign_in_with_keyboard(&researcher).await;
    browser
        .wait_for_text("#who", |text| text.contains("Signed in"))
        .await;
    browser.open(&node, "/#kind=individuals&sex=NCIT%3AC16576").await;
    browser.answered().await;
    browser
        .wait_for("section.breakdown button")
        .await
        .click()
        .await
        .expect("count");
    browser.wait_for("table.breakdown").await;
    save(
        "breakdown.png",
        browser
            .wait_for("#results")
            .await
            .screenshot()
            .await
            .expect("screenshot"),
    );

    let expired = expired_care_token(&node);
    browser.keep_token(&expired).await;
    browser.open(&node, "/").await;
    browser
        .wait_for_text("#sign-in-reason", |text| !text.is_empty())
        .await;
    save(
        "sign-in-expired.png",
        browser.client.screenshot().await.expect("screenshot"),
    );
    browser.close().await;
}
