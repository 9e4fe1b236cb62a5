// Phare's web page: sign-in with a pasted bearer token, a form for every query the Beacon API
// answers, and answers shown as people read them. Plain script, no framework, no build step.
// The token lives in sessionStorage (this tab only) and goes in the Authorization header of
// requests to this node; the query lives in the URL fragment, so a result can be shared without
// the token and the fragment never reaches a server log.
'use strict';

const TOKEN_KEY = 'phare.token';
const RECORD_LIMIT = 100;
const SVG_NS = 'http://www.w3.org/2000/svg';
const KINDS = ['variant', 'range', 'bracket', 'gene', 'hgvs', 'id', 'individuals'];
const FIELDS = ['chr', 'pos', 'ref', 'alt', 'from', 'to', 'smin', 'smax', 'emin', 'emax', 'vtype',
  'gene', 'aa', 'hgvs', 'vid', 'ind', 'sex', 'hpo'];
const TIER_TEXT = {
  public: 'anonymous users (public)',
  registered: 'registered researchers',
  controlled: 'researchers granted this dataset',
  care: 'clinicians (care space)',
};
const GRANULARITY_TEXT = {
  none: 'nothing',
  boolean: 'yes or no',
  count: 'counts',
  record: 'full records',
};
const SEX_LABEL = { 'NCIT:C16576': 'female', 'NCIT:C20197': 'male' };

const page = {
  token: sessionStorage.getItem(TOKEN_KEY),
  who: null,
  terms: [],
  lastQuery: null,
  generation: 0,
};

// ---------------------------------------------------------------- small DOM helpers

function $(id) {
  return document.getElementById(id);
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function show(node, visible) {
  node.hidden = !visible;
}

function formatNumber(value) {
  return Number(value).toLocaleString('en-GB');
}

function plural(count, one, many) {
  return `${formatNumber(count)} ${count === 1 ? one : many}`;
}

// ---------------------------------------------------------------- talking to the node

class NodeError extends Error {
  constructor(status, message, retryAfter, requestId) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }
}

async function call(method, path, body, withToken = true) {
  const headers = { Accept: 'application/json' };
  if (withToken && page.token) headers.Authorization = `Bearer ${page.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (_) {
    throw new NodeError(0, 'network');
  }
  let document_ = null;
  try {
    document_ = await response.json();
  } catch (_) {
    document_ = null;
  }
  if (!response.ok) {
    const message = document_ && document_.error && document_.error.errorMessage;
    throw new NodeError(response.status, message || response.statusText,
      Number(response.headers.get('Retry-After')) || null, response.headers.get('x-request-id'));
  }
  return document_;
}

// What a person needs to know about a failed request, in words.
function explain(error) {
  if (!(error instanceof NodeError)) {
    return { title: 'Something went wrong in this page.', detail: 'Reload the page and try again.' };
  }
  const detail = (error.message || '').replace(/^invalid credentials: /, '');
  switch (error.status) {
    case 0:
      return { title: 'The node could not be reached.', detail: 'Check your network connection and try again.' };
    case 400:
      return { title: 'The node could not read this query.', detail: sentence(detail) };
    case 401:
      return page.token
        ? { title: 'Your sign-in is no longer valid.', detail: `${sentence(detail)} Sign in again with a new token.` }
        : { title: 'This needs you to sign in.', detail: sentence(detail) };
    case 403:
      return { title: 'Your credentials do not allow this.', detail: sentence(detail) };
    case 404:
      return { title: 'Not found.', detail: sentence(detail) };
    case 413:
      return { title: 'This query is too large.', detail: sentence(detail) };
    case 429: {
      const wait = error.retryAfter || 60;
      const at = new Date(Date.now() + wait * 1000);
      const clock = at.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
      return {
        title: 'You have used up your query budget for now.',
        detail: `You can search again in ${duration(wait)} (at about ${clock}).`,
      };
    }
    case 503:
      return { title: 'The node cannot answer right now.', detail: 'Try again in a moment.' };
    default:
      return {
        title: 'The node could not answer.',
        detail: `Try again later${error.requestId ? `; if it keeps failing, give the node's operator this reference: ${error.requestId}` : ''}.`,
      };
  }
}

function sentence(text) {
  if (!text) return '';
  const trimmed = text.trim().replace(/`/g, '');
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function duration(seconds) {
  if (seconds < 90) return plural(Math.ceil(seconds), 'second', 'seconds');
  if (seconds < 5400) return plural(Math.ceil(seconds / 60), 'minute', 'minutes');
  return plural(Math.round(seconds / 3600), 'hour', 'hours');
}

// ---------------------------------------------------------------- who you are

async function loadIdentity() {
  try {
    page.who = await call('GET', '/whoami');
  } catch (error) {
    if (error instanceof NodeError && error.status === 401 && page.token) {
      const reason = explain(error);
      signOut();
      openSignIn(reason);
      page.who = await call('GET', '/whoami').catch(() => null);
    } else {
      page.who = null;
      showError(error);
    }
  }
  renderIdentity();
  await loadTerms();
}

function renderIdentity() {
  const who = page.who;
  const line = $('who');
  line.replaceChildren();
  show($('sign-out'), Boolean(page.token));
  show($('sign-in-open'), !page.token);
  if (!who) {
    line.textContent = 'The node did not say who you are.';
    show($('access'), false);
    return;
  }
  if (!who.authenticated) {
    append(line, [el('strong', { text: 'Not signed in' }), ': you see the public answers only.']);
  } else {
    const space = who.space === 'care'
      ? `care space${who.careCentre ? `, ${who.careCentre}` : ''}`
      : 'research space';
    append(line, ['Signed in as ', el('strong', { id: 'who-subject', text: who.subject }),
      ` · ${space} · highest tier: ${who.highestTier}`]);
    line.title = `issuer: ${who.issuer}`;
  }
  line.dataset.space = who.space;
  line.dataset.tier = who.highestTier;
  renderAccess(who);
}

function renderAccess(who) {
  const holder = $('access-table');
  holder.replaceChildren();
  show($('access'), true);
  if (!who.mayQuery) {
    holder.append(el('p', { text: 'These credentials are for pushing data or administration, not for queries.' }));
    return;
  }
  if (who.datasets.length === 0) {
    holder.append(el('p', {
      text: who.authenticated
        ? 'No dataset of this node is open to you.'
        : 'No dataset of this node is open to the public: sign in to search.',
    }));
    return;
  }
  const rows = who.datasets.map((dataset) => {
    const variants = dataset.entryTypes.genomicVariation;
    const patients = dataset.entryTypes.individual;
    const rounding = [variants, patients].filter(Boolean).map((rule) => rule.roundedTo)[0];
    return el('tr', { 'data-dataset': dataset.id },
      el('th', { scope: 'row' }, dataset.name, dataset.name !== dataset.id ? ` (${dataset.id})` : ''),
      el('td', { text: dataset.assemblyId }),
      el('td', { text: dataset.tier }),
      el('td', { text: variants ? GRANULARITY_TEXT[variants.maxGranularity] : 'nothing' }),
      el('td', { text: patients ? GRANULARITY_TEXT[patients.maxGranularity] : 'nothing' }),
      el('td', { text: rounding ? `rounded to multiples of ${rounding}` : 'exact' }));
  });
  holder.append(el('table', { class: 'access' },
    el('thead', {}, el('tr', {},
      ['Dataset', 'Assembly', 'Your tier', 'Variants', 'Patients', 'Counts'].map((name) => el('th', { scope: 'col', text: name })))),
    el('tbody', {}, rows)));
}

async function loadTerms() {
  const select = $('ind');
  const list = $('hpo-terms');
  const open = page.who && page.who.datasets.some((dataset) => dataset.entryTypes.individual);
  let terms = [];
  if (open) {
    try {
      const document_ = await call('GET', '/api/filtering_terms?limit=0');
      terms = document_.response.filteringTerms || [];
    } catch (_) {
      terms = [];
    }
  }
  page.terms = terms;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '', text: 'any' }));
  for (const term of terms.filter((candidate) => candidate.id.startsWith('PFMG:'))) {
    select.append(el('option', { value: term.id, text: `${term.id} ${term.label || ''}`.trim() }));
  }
  select.value = chosen;
  list.replaceChildren(...terms.filter((term) => term.id.startsWith('HP:'))
    .map((term) => el('option', { value: term.id, label: term.label || term.id })));
}

function openSignIn(reason) {
  show($('sign-in'), true);
  const notice = $('sign-in-reason');
  notice.replaceChildren();
  if (reason) {
    append(notice, [el('strong', { text: reason.title }), ' ', reason.detail]);
  }
  show(notice, Boolean(reason));
  $('token').focus();
}

function closeSignIn() {
  show($('sign-in'), false);
  show($('token-error'), false);
  $('token').value = '';
}

function signOut() {
  page.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

async function submitSignIn(event) {
  event.preventDefault();
  const token = $('token').value.trim().replace(/^Bearer\s+/i, '');
  const problem = $('token-error');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) {
    problem.textContent = 'This is not a token: a token is three parts separated by dots (header.claims.signature).';
    show(problem, true);
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
    return;
  }
  $('token').removeAttribute('aria-invalid');
  page.token = token;
  try {
    page.who = await call('GET', '/whoami');
  } catch (error) {
    signOut();
    const reason = explain(error);
    problem.textContent = `${reason.title} ${reason.detail}`;
    show(problem, true);
    $('token').focus();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  closeSignIn();
  renderIdentity();
  await loadTerms();
  $('sign-out').focus();
  if (page.lastQuery) await run(page.lastQuery, false);
}

async function clickSignOut() {
  signOut();
  clearResults();
  await loadIdentity();
  $('sign-in-open').focus();
}

// ---------------------------------------------------------------- reading what people type

class InputError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function cleanContig(text, field = 'chr') {
  const raw = text.trim();
  if (!raw) throw new InputError(field, 'Give the chromosome: 1 to 22, X, Y or MT (chr17, NC_000017.11 work too).');
  if (/^(refseq:)?N[CT]_\d+(\.\d+)?$/i.test(raw)) return raw.replace(/^refseq:/i, '').toUpperCase();
  const name = raw.replace(/^(chromosome|chrom|chr)\s*/i, '').toUpperCase();
  const canonical = name === 'M' ? 'MT' : name;
  if (/^([1-9]|1\d|2[0-2]|X|Y|MT)$/.test(canonical)) return canonical;
  throw new InputError(field, `“${raw}” is not a chromosome: use 1 to 22, X, Y or MT (chr17 and NC_000017.11 work too).`);
}

function cleanPosition(text, field, what, optional = false) {
  const raw = String(text || '').trim();
  if (!raw && optional) return null;
  const digits = raw.replace(/[,\s_’']/g, '');
  if (!/^\d+$/.test(digits)) {
    throw new InputError(field, raw ? `${what} must be a whole number (1-based), not “${raw}”.` : `Give the ${what.toLowerCase()}.`);
  }
  const value = Number(digits);
  if (value < 1) throw new InputError(field, `${what} must be 1 or more: positions on this page count from 1, as in VCF files.`);
  if (value > 2 ** 31) throw new InputError(field, `${what} ${formatNumber(value)} lies beyond the end of every chromosome.`);
  return value;
}

function cleanBases(text, field, what, optional) {
  const raw = text.trim().toUpperCase();
  if (!raw && optional) return null;
  if (!/^[ACGTN]+$/.test(raw)) {
    throw new InputError(field, raw ? `${what} must be bases (A, C, G, T or N), not “${text.trim()}”.` : `Give the ${what.toLowerCase()}.`);
  }
  return raw;
}

// The quick search box: the shapes people write variants, regions, genes and HGVS names in.
function parseQuick(text) {
  const raw = text.trim();
  if (!raw) throw new InputError('quick', 'Type a variant, a region, a gene or an HGVS name.');
  if (/:(g|c|p|m|n)\./i.test(raw)) return { kind: 'hgvs', hgvs: raw };
  const variant = raw.match(/^((?:chr)?[0-9XYMT]{1,2}|N[CT]_\d+(?:\.\d+)?)\s*[:\-\s]\s*([\d,]+)\s*[:\-\s]?\s*([ACGTN]+)\s*(?:>|\/|-|:|\s)\s*([ACGTN]+)$/i);
  if (variant) {
    return { kind: 'variant', chr: variant[1], pos: variant[2], ref: variant[3], alt: variant[4] };
  }
  const region = raw.match(/^((?:chr)?[0-9XYMT]{1,2}|N[CT]_\d+(?:\.\d+)?)\s*:\s*([\d,]+)\s*(?:-|\.\.|–)\s*([\d,]+)$/i);
  if (region) return { kind: 'range', chr: region[1], from: region[2], to: region[3] };
  const position = raw.match(/^((?:chr)?[0-9XYMT]{1,2}|N[CT]_\d+(?:\.\d+)?)\s*:\s*([\d,]+)$/i);
  if (position) return { kind: 'range', chr: position[1], from: position[2], to: position[2] };
  const gene = raw.match(/^([A-Za-z][A-Za-z0-9-]{0,19})(?:\s+(?:p\.)?\(?([A-Za-z]{1,3}\d+[A-Za-z*]{1,3}|[A-Za-z]{1,3}\d+(?:Ter|fs\*?\d*))\)?)?$/);
  if (gene) return { kind: 'gene', gene: gene[1].toUpperCase(), aa: gene[2] || '' };
  throw new InputError('quick', `“${raw}” is not a variant, region, gene or HGVS name this page reads. Try 17:7674220 G>A, BRAF V600E or 7:140,700,000-140,800,000.`);
}

// The form as a plain object (what goes in the URL fragment).
function readForm() {
  const query = { kind: document.querySelector('input[name=kind]:checked').value };
  for (const name of FIELDS) {
    const value = $(name).value.trim();
    if (value && fieldApplies(name, query.kind)) query[name] = value;
  }
  if (!$('desc').checked) query.desc = '0';
  return query;
}

function fieldApplies(name, kind) {
  const holder = $(name).closest('.field');
  if (!holder || !holder.dataset.kinds) return true;
  return holder.dataset.kinds.split(' ').includes(kind);
}

function fillForm(query) {
  const kind = KINDS.includes(query.kind) ? query.kind : 'variant';
  document.querySelector(`input[name=kind][value=${kind}]`).checked = true;
  for (const name of FIELDS) {
    const value = query[name] || '';
    const input = $(name);
    if (input.tagName === 'SELECT' && value && ![...input.options].some((option) => option.value === value)) {
      input.append(el('option', { value, text: value }));
    }
    input.value = value;
  }
  $('desc').checked = query.desc !== '0';
  showKindFields();
}

function showKindFields() {
  const kind = document.querySelector('input[name=kind]:checked').value;
  for (const holder of document.querySelectorAll('#query-form .field[data-kinds]')) {
    show(holder, holder.dataset.kinds.split(' ').includes(kind));
  }
}

// The Beacon request a page query stands for: path, parameters, filters, entry type.
function toRequest(query) {
  const parameters = {};
  let path = '/api/g_variants';
  let entryType = 'genomicVariation';
  switch (query.kind) {
    case 'variant': {
      parameters.referenceName = cleanContig(query.chr || '');
      const position = cleanPosition(query.pos, 'pos', 'Position');
      const reference = cleanBases(query.ref || '', 'ref', 'Reference bases', true);
      parameters.alternateBases = cleanBases(query.alt || '', 'alt', 'Alternate bases', false);
      if (reference && reference === parameters.alternateBases) {
        throw new InputError('alt', 'The alternate bases are the same as the reference: that is not a variant.');
      }
      parameters.start = [position - 1];
      if (reference) parameters.referenceBases = reference;
      break;
    }
    case 'range': {
      parameters.referenceName = cleanContig(query.chr || '');
      const from = cleanPosition(query.from, 'from', 'From');
      const to = cleanPosition(query.to, 'to', 'To');
      if (to < from) throw new InputError('to', `The region ends (${formatNumber(to)}) before it starts (${formatNumber(from)}).`);
      parameters.start = [from - 1];
      parameters.end = [to];
      if (query.vtype) parameters.variantType = query.vtype;
      break;
    }
    case 'bracket': {
      parameters.referenceName = cleanContig(query.chr || '');
      const startMin = cleanPosition(query.smin, 'smin', 'Starts from');
      const startMax = cleanPosition(query.smax, 'smax', 'Starts up to');
      const endMin = cleanPosition(query.emin, 'emin', 'Ends from');
      const endMax = cleanPosition(query.emax, 'emax', 'Ends up to');
      if (startMax < startMin) throw new InputError('smax', '“Starts up to” must not be before “Starts from”.');
      if (endMax < endMin) throw new InputError('emax', '“Ends up to” must not be before “Ends from”.');
      if (endMax < startMin) throw new InputError('emax', 'The variant would end before it starts.');
      parameters.start = [startMin - 1, startMax - 1];
      parameters.end = [endMin, endMax];
      if (query.vtype) parameters.variantType = query.vtype;
      break;
    }
    case 'gene': {
      const gene = (query.gene || '').trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9.\-]*$/.test(gene)) throw new InputError('gene', gene ? `“${gene}” is not a gene symbol.` : 'Give the gene symbol, e.g. BRAF.');
      parameters.geneId = gene.toUpperCase();
      if (query.aa) parameters.aminoacidChange = query.aa.trim().replace(/^p\./i, '').replace(/[()]/g, '');
      break;
    }
    case 'hgvs': {
      const name = (query.hgvs || '').trim();
      if (!name) throw new InputError('hgvs', 'Give the HGVS name, e.g. NC_000017.11:g.7674220G>A.');
      parameters.genomicAlleleShortForm = name;
      break;
    }
    case 'id': {
      const id = (query.vid || '').trim();
      if (!id) throw new InputError('vid', 'Give the variant id.');
      path = `/api/g_variants/${encodeURIComponent(id)}`;
      break;
    }
    case 'individuals':
      path = '/api/individuals';
      entryType = 'individual';
      break;
    default:
      throw new InputError('quick', 'Unknown kind of query.');
  }
  const filters = toFilters(query);
  if (query.kind === 'individuals' && filters.length === 0) {
    throw new InputError('ind', 'Choose at least one filter (pre-indication, sex or phenotype) to count patients.');
  }
  return { path, parameters, filters, entryType };
}

function toFilters(query) {
  const filters = [];
  if (query.ind) filters.push({ id: query.ind });
  if (query.sex) filters.push({ id: query.sex });
  if (query.hpo) {
    const match = query.hpo.trim().match(/^HP[:_\s]?(\d{7})$/i);
    if (!match) throw new InputError('hpo', `“${query.hpo}” is not an HPO term: write it as HP:0001250.`);
    filters.push({ id: `HP:${match[1]}`, includeDescendantTerms: query.desc !== '0' });
  }
  return filters;
}

function body(request, datasetId, granularity = 'record') {
  const query = {
    requestedGranularity: granularity,
    pagination: { skip: 0, limit: RECORD_LIMIT },
  };
  if (datasetId) query.datasetIds = [datasetId];
  if (Object.keys(request.parameters).length > 0) query.requestParameters = request.parameters;
  if (request.filters.length > 0) query.filters = request.filters;
  return { meta: { apiVersion: 'v2.0' }, query };
}

// ---------------------------------------------------------------- running a query

function clearResults() {
  $('answer').replaceChildren();
  $('status').textContent = '';
  show($('error'), false);
  for (const input of document.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  for (const message of document.querySelectorAll('.field-error')) show(message, false);
}

function showInputError(error) {
  const input = $(error.field);
  const message = error.field === 'quick' ? $('quick-error') : $('query-error');
  message.textContent = error.message;
  message.id = message.id || `${error.field}-error`;
  show(message, true);
  if (input) {
    if (error.field !== 'quick') $('details').open = true;
    if (input.closest('.field')) show(input.closest('.field'), true);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', message.id);
    input.focus();
  }
}

function showError(error, reason = explain(error)) {
  const box = $('error');
  const { title, detail } = reason;
  box.replaceChildren(el('strong', { text: title }), ' ', detail);
  box.dataset.status = error instanceof NodeError ? error.status : '';
  show(box, true);
}

async function run(query, remember = true) {
  // A later search wins: answers of an earlier one still on their way are dropped.
  page.generation += 1;
  const generation = page.generation;
  const stale = () => generation !== page.generation;
  clearResults();
  let request;
  try {
    request = toRequest(query);
  } catch (error) {
    if (error instanceof InputError) {
      fillForm(query);
      showInputError(error);
      return;
    }
    throw error;
  }
  page.lastQuery = query;
  if (remember) {
    const fragment = `#${new URLSearchParams(query).toString()}`;
    if (location.hash !== fragment) history.pushState(null, '', fragment);
  }
  const status = $('status');
  status.textContent = 'Searching…';
  if (!page.who) await loadIdentity();
  if (stale()) return;
  const datasets = (page.who ? page.who.datasets : []).filter((dataset) => {
    const rule = dataset.entryTypes[request.entryType];
    return rule && rule.maxGranularity !== 'none';
  });
  if (datasets.length === 0) {
    status.textContent = '';
    $('answer').append(el('p', {
      class: 'notice',
      text: page.who && page.who.authenticated
        ? 'No dataset of this node is open to you for this kind of query.'
        : 'No dataset of this node answers this kind of query for the public: sign in to search.',
    }));
    focusResults();
    return;
  }
  const outcomes = await Promise.all(datasets.map(async (dataset) => {
    try {
      // Research identifiers of patients help nobody reading a page: researchers get counts,
      // clinicians their own patients.
      const granularity = request.entryType === 'individual' && dataset.tier !== 'care' ? 'count' : 'record';
      return { dataset, document: await call('POST', request.path, body(request, dataset.id, granularity)) };
    } catch (error) {
      return { dataset, error };
    }
  }));
  if (stale()) return;
  status.textContent = '';
  const expired = outcomes.find((outcome) => outcome.error && outcome.error.status === 401 && page.token);
  if (expired) {
    const reason = explain(expired.error);
    signOut();
    await loadIdentity();
    openSignIn(reason);
    showError(expired.error, reason);
    return;
  }
  const failures = outcomes.filter((outcome) => outcome.error);
  if (failures.length === outcomes.length) {
    showError(failures[0].error);
    focusResults();
    return;
  }
  $('answer').append(summaryLine(query, request, outcomes));
  for (const outcome of outcomes) $('answer').append(datasetCard(query, request, outcome));
  if (request.entryType === 'individual') $('answer').append(breakdownOffer(request, datasets));
  focusResults();
}

// Keyboard users land on the answer, unless the sign-in form is waiting for them.
function focusResults() {
  if ($('sign-in').hidden) $('results').focus();
}

function describeQuery(query) {
  switch (query.kind) {
    case 'variant':
      return `${query.chr}:${query.pos} ${query.ref ? `${query.ref.toUpperCase()}>` : '>'}${(query.alt || '').toUpperCase()}`;
    case 'range':
      return `${query.chr}:${query.from}-${query.to}${query.vtype ? ` (${query.vtype})` : ''}`;
    case 'bracket':
      return `${query.chr}, starting ${query.smin}–${query.smax}, ending ${query.emin}–${query.emax}`;
    case 'gene':
      return `${query.gene}${query.aa ? ` ${query.aa}` : ''}`;
    case 'hgvs':
      return query.hgvs;
    case 'id':
      return query.vid;
    default:
      return 'patients';
  }
}

function describeFilters(filters) {
  return filters.map((filter) => {
    const term = page.terms.find((known) => known.id === filter.id);
    const label = SEX_LABEL[filter.id] || (term && term.label);
    return label ? `${label} (${filter.id})` : filter.id;
  }).join(', ');
}

function summaryLine(query, request, outcomes) {
  const found = outcomes.filter((outcome) => outcome.document && outcome.document.responseSummary.exists);
  const what = request.entryType === 'individual' ? 'Patients' : describeQuery(query);
  const among = request.entryType === 'individual' ? ' matching ' : ' among patients matching ';
  const filters = request.filters.length ? `${among}${describeFilters(request.filters)}` : '';
  return el('p', { class: `summary ${found.length ? 'found' : 'absent'}`, id: 'summary' },
    el('strong', { text: what }), filters, ': ',
    found.length
      ? `found in ${plural(found.length, 'dataset', 'datasets')} of ${outcomes.length}.`
      : `not found in the ${plural(outcomes.length, 'dataset', 'datasets')} you may search.`);
}

// ---------------------------------------------------------------- one dataset's answer

function datasetCard(query, request, outcome) {
  const { dataset } = outcome;
  const card = el('article', { class: 'dataset', 'data-dataset': dataset.id },
    el('h3', {}, dataset.name, dataset.name !== dataset.id ? el('span', { class: 'id', text: ` ${dataset.id}` }) : '',
      el('span', { class: 'assembly', text: ` · ${dataset.assemblyId}` })));
  if (outcome.error) {
    const { title, detail } = explain(outcome.error);
    card.append(el('p', { class: 'error', role: 'alert' }, el('strong', { text: title }), ' ', detail));
    return card;
  }
  const document_ = outcome.document;
  const summary = document_.responseSummary;
  const returned = document_.meta.returnedGranularity;
  const rule = dataset.entryTypes[request.entryType];
  const resultSet = document_.response && document_.response.resultSets
    ? document_.response.resultSets.find((set) => set.id === dataset.id) : null;
  const records = resultSet ? resultSet.results || [] : [];
  const noun = request.entryType === 'individual' ? ['patient', 'patients'] : ['variant', 'variants'];
  const headline = el('p', {
    class: `headline ${summary.exists ? 'found' : 'absent'}`,
    'data-granularity': returned,
    'data-exists': String(summary.exists),
    'data-count': summary.numTotalResults === undefined ? '' : summary.numTotalResults,
    'data-rounded': String(summary.countPrecision === 'rounded'),
  });
  if (returned === 'boolean' || summary.numTotalResults === undefined) {
    headline.append(el('span', { class: 'badge', text: summary.exists ? 'Found' : 'Not found' }));
  } else {
    const count = summary.numTotalResults;
    headline.append(el('span', { class: 'badge', text: summary.exists ? 'Found' : 'Not found' }), ' ');
    if (summary.countPrecision === 'rounded') {
      const [low, high] = String((summary.countAdjustedTo || [''])[0]).split('-');
      headline.append(el('span', { class: 'count', text: `about ${plural(count, noun[0], noun[1])}` }),
        el('span', { class: 'rounded', text: ` (rounded: between ${formatNumber(low)} and ${formatNumber(high)})` }));
    } else {
      headline.append(el('span', { class: 'count', text: plural(count, noun[0], noun[1]) }));
    }
  }
  card.append(headline, why(dataset, rule, returned, request));
  if (request.entryType === 'genomicVariation' && records.length > 0) {
    card.append(...variantRecords(query, records, summary, dataset));
  }
  if (request.entryType === 'individual' && records.length > 0) {
    card.append(patientList(records));
  }
  return card;
}

// Why the answer has the detail it has: the tier, the policy's ceiling, the rounding.
function why(dataset, rule, returned, request) {
  const parts = [];
  parts.push(`Answer given as ${GRANULARITY_TEXT[returned] || returned}: `);
  if (rule && rule.maxGranularity === returned) {
    parts.push(`the most this dataset shows ${TIER_TEXT[dataset.tier] || dataset.tier} for ${request.entryType === 'individual' ? 'patients' : 'variants'}.`);
  } else {
    parts.push(`this page asks for counts of patients outside the care space (the policy would allow ${GRANULARITY_TEXT[rule ? rule.maxGranularity : 'none']} for ${TIER_TEXT[dataset.tier] || dataset.tier}).`);
  }
  if (rule && rule.roundedTo > 0 && returned !== 'boolean') {
    parts.push(` Counts are rounded down to a multiple of ${rule.roundedTo}, and a count below ${rule.roundedTo} shows as ${rule.roundedTo}, so that no patient can be singled out.`);
  } else if (rule && rule.roundedTo === 0 && returned !== 'boolean') {
    parts.push(' Counts are exact.');
  }
  if (rule && rule.researchScope && returned !== 'boolean') {
    parts.push(' Patients who did not consent to research, or objected, are not counted.');
  }
  return el('p', { class: 'why', text: parts.join('') });
}

const CHROMOSOME_OF = (() => {
  const names = {};
  for (let number = 1; number <= 22; number += 1) names[`NC_0000${String(number).padStart(2, '0')}`] = String(number);
  names.NC_000023 = 'X';
  names.NC_000024 = 'Y';
  names.NC_012920 = 'MT';
  return names;
})();

function chromosomeOf(sequenceId) {
  const accession = String(sequenceId || '').replace(/^refseq:/, '');
  return CHROMOSOME_OF[accession.split('.')[0]] || accession;
}

// A record as people write it: chromosome, 1-based position, REF>ALT (or a structural span).
function describeRecord(record) {
  const variation = record.variation || {};
  const location = variation.location || {};
  const chromosome = chromosomeOf(location.sequence_id);
  const vcf = record.info && record.info.vcfStyle;
  if (vcf) {
    return {
      chromosome,
      position: vcf.start + 1,
      end: vcf.end,
      text: `${chromosome}:${formatNumber(vcf.start + 1)} ${vcf.referenceBases}>${vcf.alternateBases}`,
    };
  }
  const start = location.interval ? location.interval.start.value : 0;
  const end = location.interval ? location.interval.end.value : start;
  return {
    chromosome,
    position: start + 1,
    end,
    text: `${chromosome}:${formatNumber(start + 1)}-${formatNumber(end)} ${variation.variantType || ''}`.trim(),
  };
}

// Everyone first, then women and men, then each country with its strata.
function frequencies(record) {
  const sets = record.frequencyInPopulations || [];
  const rows = sets.length ? [...(sets[0].frequencies || [])] : [];
  const rank = (code) => ({ Total: '0', F: '1', M: '2' }[code] || `3${code}`);
  return rows.sort((left, right) => rank(left.population).localeCompare(rank(right.population)));
}

function carriersOf(frequency) {
  if (!frequency) return null;
  const parts = ['alleleCountHomozygous', 'alleleCountHeterozygous', 'alleleCountHemizygous']
    .map((key) => frequency[key]);
  if (parts.every((value) => value === undefined)) return null;
  return parts.reduce((sum, value) => sum + (value || 0), 0);
}

function formatFrequency(value) {
  if (value === 0) return '0';
  if (value >= 0.001) return value.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
  return value.toExponential(2);
}

function variantRecords(query, records, summary, dataset) {
  const nodes = [];
  const rounded = summary.countPrecision === 'rounded';
  if (records.length > 1 && (query.kind === 'range' || query.kind === 'bracket' || query.kind === 'gene')) {
    nodes.push(rangePlot(query, records, dataset));
  }
  const caring = dataset.tier === 'care';
  const listsPatients = caring || records.some((record) => (record.caseLevelData || []).length > 0);
  const rows = records.map((record, index) => {
    const where = describeRecord(record);
    const total = frequencies(record).find((frequency) => frequency.population === 'Total');
    const carriers = carriersOf(total);
    const attributes = record.molecularAttributes || {};
    const gene = [(attributes.geneIds || []).join(', '), (attributes.aminoacidChanges || []).join(', ')]
      .filter(Boolean).join(' ');
    const cases = record.caseLevelData || [];
    return el('tr', { 'data-variant': record.variantInternalId },
      el('th', { scope: 'row' }, where.text,
        record.identifiers && record.identifiers.genomicHGVSId
          ? el('span', { class: 'hgvs', text: record.identifiers.genomicHGVSId }) : ''),
      el('td', { text: gene || '—' }),
      el('td', { class: 'number carriers', text: carriers === null ? '—' : `${formatNumber(carriers)}${rounded ? ' (rounded)' : ''}` }),
      el('td', { class: 'number', text: total ? `${formatFrequency(total.alleleFrequency)} (${formatNumber(total.alleleCount)}/${formatNumber(total.alleleNumber)})` : '—' }),
      listsPatients ? el('td', { class: 'number own', text: cases.length ? formatNumber(cases.length) : '—' }) : null,
      el('td', {}, el('button', {
        type: 'button',
        class: 'link',
        'data-index': index,
        'aria-label': `Details of ${where.text}: frequencies by population${cases.length ? ' and your patients' : ''}`,
        text: 'Details',
      })));
  });
  const table = el('table', { class: 'variants' },
    el('caption', { text: records.length >= RECORD_LIMIT ? `The first ${records.length} variants of about ${formatNumber(summary.numTotalResults)}` : 'Variants found' }),
    el('thead', {}, el('tr', {}, ['Variant (1-based)', 'Gene, protein change', 'Carriers', 'Allele frequency (count/number)',
      listsPatients ? (caring ? 'Your patients' : 'Patients listed') : null, '']
      .filter((name) => name !== null)
      .map((name) => el('th', { scope: 'col', text: name })))),
    el('tbody', {}, rows));
  const detail = el('div', { class: 'detail' });
  table.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-index]');
    if (!button) return;
    detail.replaceChildren(...variantDetail(records[Number(button.dataset.index)], rounded, dataset));
    detail.querySelector('h4').focus();
  });
  if (records.length === 1) {
    detail.append(...variantDetail(records[0], rounded, dataset));
    nodes.push(table, detail);
  } else {
    // Above a long table, where the button that filled it is never far.
    nodes.push(detail, table);
  }
  return nodes;
}

// One variant in full: who carries it (care: the clinician's own patients) and its frequencies.
function variantDetail(record, rounded, dataset) {
  const nodes = [frequencyView(record, rounded, dataset)];
  const cases = record.caseLevelData || [];
  if (cases.length > 0) {
    const where = describeRecord(record);
    const heading = dataset.tier === 'care'
      ? `Your patients carrying ${where.text}${page.who && page.who.careCentre ? ` (${page.who.careCentre})` : ''}`
      : `Patients carrying ${where.text} (research identifiers)`;
    nodes.unshift(el('section', { class: 'carriers', 'aria-label': heading },
      el('h4', { tabindex: '-1', text: `${heading}: ${cases.length}` }), caseList(cases)));
  }
  return nodes;
}

const ZYGOSITY = { 'GENO:0000458': 'heterozygous', 'GENO:0000136': 'homozygous', 'GENO:0000134': 'hemizygous' };

function caseList(cases) {
  return el('ul', { class: 'cases' }, cases.map((carrier) => el('li', { 'data-individual': carrier.individualId },
    el('span', { class: 'patient', text: carrier.individualId }),
    carrier.zygosity ? el('span', { class: 'zygosity', text: ZYGOSITY[carrier.zygosity.id] || carrier.zygosity.label }) : '')));
}

function patientList(records) {
  return el('ul', { class: 'cases' }, records.map((record) => el('li', { 'data-individual': record.id },
    el('span', { class: 'patient', text: record.id }),
    record.sex ? el('span', { class: 'zygosity', text: record.sex.label || '' }) : '')));
}

// ---------------------------------------------------------------- frequencies and plots

function frequencyView(record, rounded, dataset) {
  const where = describeRecord(record);
  const rows = frequencies(record);
  const holder = el('section', { class: 'frequencies', 'aria-label': `Frequencies of ${where.text}` },
    el('h4', { tabindex: '-1', text: `${where.text}: frequency by population (${dataset.name})` }));
  if (rows.length === 0) {
    holder.append(el('p', { text: 'No population frequencies are given for this variant here.' }));
    return holder;
  }
  // Many strata make a plot nobody reads: then it shows everyone, women, men and countries,
  // and the table below keeps every row.
  holder.append(frequencyPlot(rows.length > 8 ? rows.filter((row) => !row.population.includes('_')) : rows));
  holder.append(el('table', { class: 'frequency' },
    el('thead', {}, el('tr', {}, ['Population', 'Allele frequency', 'Allele count', 'Allele number', 'Homozygous', 'Heterozygous', 'Hemizygous']
      .map((name) => el('th', { scope: 'col', text: name })))),
    el('tbody', {}, rows.map((row) => el('tr', { 'data-population': row.population },
      el('th', { scope: 'row', text: populationLabel(row.population) }),
      el('td', { class: 'number', text: formatFrequency(row.alleleFrequency) }),
      el('td', { class: 'number', text: formatNumber(row.alleleCount) }),
      el('td', { class: 'number', text: formatNumber(row.alleleNumber) }),
      ...['alleleCountHomozygous', 'alleleCountHeterozygous', 'alleleCountHemizygous']
        .map((key) => el('td', { class: 'number', text: row[key] === undefined ? '—' : formatNumber(row[key]) })))))));
  if (rounded) {
    holder.append(el('p', { class: 'why', text: 'These counts are rounded; the frequencies are computed from the rounded counts. Small populations are left out of public answers.' }));
  }
  return holder;
}

function populationLabel(code) {
  if (code === 'Total') return 'All';
  if (code === 'F') return 'Women';
  if (code === 'M') return 'Men';
  const [country, sex] = code.split('_');
  if (sex === 'F') return `${country}, women`;
  if (sex === 'M') return `${country}, men`;
  return country;
}

// Horizontal bars: one per population, the frequency at the end of each.
function frequencyPlot(rows) {
  const rowHeight = 22;
  const labelWidth = 110;
  const barWidth = 380;
  const height = rows.length * rowHeight + 24;
  const largest = Math.max(...rows.map((row) => row.alleleFrequency), 1e-9);
  const scale = largest > 0.5 ? 1 : largest * 1.15;
  const chart = svg('svg', {
    class: 'plot',
    viewBox: `0 0 ${labelWidth + barWidth + 90} ${height}`,
    role: 'img',
    'aria-label': `Allele frequency by population: ${rows.map((row) => `${populationLabel(row.population)} ${formatFrequency(row.alleleFrequency)}`).join(', ')}`,
  });
  rows.forEach((row, index) => {
    const y = index * rowHeight + 4;
    const width = Math.max(1, (row.alleleFrequency / scale) * barWidth);
    chart.append(
      svg('text', { x: labelWidth - 8, y: y + 14, 'text-anchor': 'end', class: 'label', text: populationLabel(row.population) }),
      svg('rect', { x: labelWidth, y, width: barWidth, height: rowHeight - 6, class: 'track' }),
      svg('rect', { x: labelWidth, y, width, height: rowHeight - 6, class: row.population === 'Total' ? 'bar total' : 'bar' },
        svg('title', { text: `${populationLabel(row.population)}: ${formatFrequency(row.alleleFrequency)} (${row.alleleCount}/${row.alleleNumber})` })),
      svg('text', { x: labelWidth + barWidth + 6, y: y + 14, class: 'value', text: formatFrequency(row.alleleFrequency) }));
  });
  const axisY = rows.length * rowHeight + 16;
  chart.append(
    svg('text', { x: labelWidth, y: axisY, class: 'axis', text: '0' }),
    svg('text', { x: labelWidth + barWidth, y: axisY, 'text-anchor': 'end', class: 'axis', text: `${formatFrequency(scale)} allele frequency` }));
  return chart;
}

// Variants along the region asked for: a stem per variant, as tall as its frequency.
function rangePlot(query, records, dataset) {
  const places = records.map((record) => ({ record, where: describeRecord(record) }));
  let low = Math.min(...places.map((place) => place.where.position));
  let high = Math.max(...places.map((place) => Math.max(place.where.position, place.where.end)));
  if (query.kind === 'range') {
    low = Number(String(query.from).replace(/[^\d]/g, '')) || low;
    high = Number(String(query.to).replace(/[^\d]/g, '')) || high;
  }
  if (high <= low) high = low + 1;
  const width = 720;
  const left = 50;
  const right = 20;
  const top = 16;
  const baseline = 150;
  const span = width - left - right;
  const x = (position) => left + ((position - low) / (high - low)) * span;
  const values = places.map((place) => {
    const total = frequencies(place.record).find((frequency) => frequency.population === 'Total');
    return total ? total.alleleFrequency : 0;
  });
  const largest = Math.max(...values, 1e-9);
  const chart = svg('svg', {
    class: 'plot range',
    viewBox: `0 0 ${width} ${baseline + 40}`,
    role: 'img',
    'aria-label': `${plural(records.length, 'variant', 'variants')} of ${dataset.name} between ${formatNumber(low)} and ${formatNumber(high)}, drawn by position with height by allele frequency`,
  });
  chart.append(
    svg('line', { x1: left, y1: baseline, x2: width - right, y2: baseline, class: 'axis-line' }),
    svg('text', { x: left, y: baseline + 18, class: 'axis', text: formatNumber(low) }),
    svg('text', { x: width - right, y: baseline + 18, 'text-anchor': 'end', class: 'axis', text: formatNumber(high) }),
    svg('text', { x: left + span / 2, y: baseline + 34, 'text-anchor': 'middle', class: 'axis', text: `chromosome ${places[0].where.chromosome}, 1-based position; height: allele frequency (square-root scale)` }),
    svg('text', { x: 4, y: top + 4, class: 'axis', text: formatFrequency(largest) }),
    svg('text', { x: 4, y: baseline, class: 'axis', text: '0' }));
  places.forEach((place, index) => {
    // Square-root scale: rare variants, most of them, stay visible beside common ones.
    const height = Math.max(4, Math.sqrt(values[index] / largest) * (baseline - top - 6));
    const cx = x(place.where.position);
    chart.append(svg('g', { class: 'stem' },
      svg('line', { x1: cx, y1: baseline, x2: cx, y2: baseline - height }),
      svg('circle', { cx, cy: baseline - height, r: 4 }),
      svg('title', { text: `${place.where.text}: allele frequency ${formatFrequency(values[index])}` })));
  });
  return chart;
}

// ---------------------------------------------------------------- patients by indication and sex

function breakdownOffer(request, datasets) {
  const holder = el('section', { class: 'breakdown', 'aria-labelledby': 'breakdown-title' },
    el('h3', { id: 'breakdown-title', text: 'Patients by pre-indication and sex' }));
  const indications = page.terms.filter((term) => term.id.startsWith('PFMG:'));
  const cost = indications.length * 3;
  const button = el('button', { type: 'button', text: 'Count them' });
  holder.append(el('p', { class: 'hint', text: `Counts every pre-indication for women, men and everyone, with the other filters kept: ${cost} queries of your budget.` }), button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    const table = await breakdown(request, indications);
    button.replaceWith(table);
    table.focus();
  });
  return holder;
}

async function breakdown(request, indications) {
  // A new search stops the counting: its budget is not spent on a table nobody will see.
  const generation = page.generation;
  const others = request.filters.filter((filter) => !filter.id.startsWith('PFMG:') && !SEX_LABEL[filter.id]);
  const columns = [['NCIT:C16576', 'Women'], ['NCIT:C20197', 'Men'], [null, 'Everyone']];
  const rows = [];
  for (const term of indications) {
    if (generation !== page.generation) break;
    const cells = [];
    for (const [sex] of columns) {
      const filters = [...others, { id: term.id }];
      if (sex) filters.push({ id: sex });
      try {
        const answer = await call('POST', '/api/individuals', body({ parameters: {}, filters }, null, 'count'));
        const summary = answer.responseSummary;
        cells.push(summary.numTotalResults === undefined
          ? (summary.exists ? 'some' : 'none')
          : `${formatNumber(summary.numTotalResults)}${summary.countPrecision === 'rounded' ? '*' : ''}`);
      } catch (error) {
        cells.push(explain(error).title);
      }
    }
    rows.push(el('tr', {}, el('th', { scope: 'row', text: `${term.id} ${term.label || ''}` }),
      cells.map((cell) => el('td', { class: 'number', text: cell }))));
  }
  return el('table', { class: 'breakdown', tabindex: '-1' },
    el('caption', { text: 'Patients by pre-indication and sex, over every dataset you may search (* rounded)' }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Pre-indication' }),
      columns.map(([, name]) => el('th', { scope: 'col', text: name })))),
    el('tbody', {}, rows));
}

// ---------------------------------------------------------------- wiring

function queryFromFragment() {
  if (!location.hash || location.hash.length < 2) return null;
  const parameters = new URLSearchParams(location.hash.slice(1));
  if (!parameters.get('kind')) return null;
  const query = {};
  for (const [name, value] of parameters) {
    if (name === 'kind' || name === 'desc' || FIELDS.includes(name)) query[name] = value;
  }
  return query;
}

async function fromFragment() {
  const query = queryFromFragment();
  if (!query) return;
  fillForm(query);
  await run(query, false);
}

function start() {
  $('sign-in-open').addEventListener('click', () => openSignIn(null));
  $('sign-in-cancel').addEventListener('click', () => {
    closeSignIn();
    $('sign-in-open').focus();
  });
  $('sign-in-form').addEventListener('submit', submitSignIn);
  $('sign-out').addEventListener('click', clickSignOut);
  for (const radio of document.querySelectorAll('input[name=kind]')) radio.addEventListener('change', showKindFields);
  $('quick-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearResults();
    let parsed;
    try {
      parsed = parseQuick($('quick').value);
    } catch (error) {
      showInputError(error);
      return;
    }
    const filters = readForm();
    for (const name of ['ind', 'sex', 'hpo', 'desc']) {
      if (filters[name]) parsed[name] = filters[name];
    }
    fillForm(parsed);
    run(parsed);
  });
  $('query-form').addEventListener('submit', (event) => {
    event.preventDefault();
    run(readForm());
  });
  window.addEventListener('popstate', fromFragment);
  showKindFields();
  call('GET', '/api/info', undefined, false)
    .then((info) => {
      $('node-name').textContent = info.response.name;
      document.title = `${info.response.name} variant search`;
    })
    .catch(() => {});
  loadIdentity().then(fromFragment);
}

document.addEventListener('DOMContentLoaded', start);
