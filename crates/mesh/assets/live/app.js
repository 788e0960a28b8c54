// fnmesh live view. Plain JavaScript, no framework, nothing from the internet.
//
// What it reads (all under /.fnmesh/, see crates/mesh/src/dataplane/live.rs):
//   graph             {nodes:[{id,shape}], edges:[{key,from,to,label,dashed}], counts:{key:{events,failures,retries,filtered}}}
//   journeys?q=       the recent journeys, oldest first (no event bodies)
//   journeys/{key}    {journey, events:[{attributes, data, display}]}
//   stream            Server-Sent Events: {"journey": ...} | {"route": key, "counts": ...} | {"lagged": n}
//   send (POST)       {target, type, source, id, data, extensions} -> {status, id, journey, body}
//
// Hooks for tests (and people with devtools): #live[data-state], body[data-ready],
// #events tr[data-id][data-key][data-outcome], .outcome, #journey[data-key],
// #hops tr.hop[data-kind], #graph g.edge[data-key] .count[data-count], #send-form, #send-result.
'use strict';

const BASE = '/.fnmesh/';

// ---- state -------------------------------------------------------------------------------

const state = {
  journeys: new Map(), // key -> journey (as the list and the stream give it)
  graph: null, // the last /graph answer
  counts: {}, // route key -> counts
  selected: null, // the key of the journey shown in #journey
  detail: null, // its /journeys/{key} answer
  layout: null, // where the graph's nodes are drawn
  hop: 0, // the hop whose event is shown
  showReply: false, // whether it is the reply that hop produced
  view: 'display', // how events are shown: 'display' (as event-display prints them) or 'json'
  filter: '', // the filter box's text
  serverMatches: new Set(), // keys the server says match the filter (extensions included)
};

// ---- small helpers -----------------------------------------------------------------------

const $ = (selector, root = document) => root.querySelector(selector);

/** An element: el('td', {class: 'x', 'data-id': id}, child, 'text', ...). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(BASE + path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A journey key as a path (keys without a trace are `source/id`: keep their slashes). */
const keyPath = (key) => key.split('/').map(encodeURIComponent).join('/');

/** How many things happened to a journey: the newer of two copies has more. */
const progress = (journey) => journey.hops.length + (journey.hops_dropped || 0);

/** `12:03:04.123` in local time. */
function clock(rfc3339) {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** `3.2 ms`, `1.25 s`. */
function ms(value) {
  if (value === undefined || value === null) return '';
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

/** Debounces `run` by `wait` ms. */
function later(run, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => run(...args), wait);
  };
}

/** The badge of an outcome (or of a hop's kind). */
const OUTCOME_WORDS = {
  'in-flight': 'in flight',
  delivered: 'delivered',
  'filtered-out': 'filtered out',
  retrying: 'retrying',
  'dead-lettered': 'dead-lettered',
  failed: 'failed',
  received: 'received',
  filtered: 'filtered out',
};
const badge = (outcome, extra = '') =>
  el('span', { class: `outcome ${outcome} ${extra}`.trim(), 'data-outcome': outcome }, OUTCOME_WORDS[outcome] || outcome);

// ---- the flow graph ----------------------------------------------------------------------

// Layered left to right: sources, then flows and hubs, then services; a node that a
// flow, hub or service sends on to goes one layer further right than its sender.
// Replies and dead letters back into a flow or hub do not move it, and what cycles are
// left (an event loop) are broken where a depth-first walk finds them.
const LAYER = { source: 0, flow: 1, hub: 1, service: 2, uri: 2 };
const NODE_W = 176;
const NODE_H = 38;
const ROW_GAP = 84;

function layers(graph) {
  const shape = new Map(graph.nodes.map((n) => [n.id, n.shape]));
  const hub = (id) => shape.get(id) === 'flow' || shape.get(id) === 'hub';
  const back = (e) => hub(e.to) && (!hub(e.from) || e.key.endsWith(' reply') || e.dashed);
  const next = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const edge of graph.edges) {
    if (edge.from !== edge.to && shape.get(edge.to) !== 'source' && !back(edge) && next.has(edge.from)) {
      next.get(edge.from).push(edge.to);
    }
  }
  // Depth-first from the sources (then from whatever is left), keeping the edges that
  // do not close a cycle, and the nodes in an order where senders come first.
  const mark = new Map();
  const order = [];
  const kept = [];
  const visit = (id) => {
    mark.set(id, 'open');
    for (const to of next.get(id) || []) {
      if (mark.get(to) === 'open') continue;
      kept.push([id, to]);
      if (!mark.has(to)) visit(to);
    }
    mark.set(id, 'done');
    order.push(id);
  };
  const roots = [...graph.nodes].sort((a, b) => (LAYER[a.shape] ?? 2) - (LAYER[b.shape] ?? 2));
  for (const node of roots) if (!mark.has(node.id)) visit(node.id);
  order.reverse();
  const layer = new Map(graph.nodes.map((n) => [n.id, LAYER[n.shape] ?? 2]));
  const position = new Map(order.map((id, i) => [id, i]));
  kept.sort((a, b) => position.get(a[0]) - position.get(b[0]));
  for (const [from, to] of kept) layer.set(to, Math.max(layer.get(to), layer.get(from) + 1));
  return layer;
}

/** Node positions: {id -> {x, y, layer}}, and the drawing's size. */
function place(graph, width) {
  const layer = layers(graph);
  const used = [...new Set(layer.values())].sort((a, b) => a - b);
  const columns = used.map((l) => graph.nodes.filter((n) => layer.get(n.id) === l).map((n) => n.id));
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const height = rows * ROW_GAP + 24;
  // Order each column by where its predecessors stand, so edges cross less.
  const row = new Map();
  columns.forEach((ids, c) => {
    if (c > 0) {
      const weight = (id) => {
        const from = graph.edges.filter((e) => e.to === id && row.has(e.from)).map((e) => row.get(e.from));
        return from.length ? from.reduce((a, b) => a + b, 0) / from.length : Infinity;
      };
      ids.sort((a, b) => weight(a) - weight(b));
    }
    ids.forEach((id, i) => row.set(id, i + (rows - ids.length) / 2));
  });
  const margin = 16;
  const step = columns.length > 1 ? (width - 2 * margin - NODE_W) / (columns.length - 1) : 0;
  const positions = new Map();
  columns.forEach((ids, c) => {
    for (const id of ids) {
      const x = columns.length > 1 ? margin + c * step : (width - NODE_W) / 2;
      positions.set(id, { x, y: 12 + row.get(id) * ROW_GAP + (ROW_GAP - NODE_H) / 2, column: c });
    }
  });
  return { positions, height };
}

/** The shape of a node: sources are pills, flows and hubs hexagons, services boxes, URIs notes. */
function nodeShape(shape, w, h) {
  switch (shape) {
    case 'source':
      return svg('rect', { width: w, height: h, rx: h / 2 });
    case 'flow':
    case 'hub': {
      const k = 12;
      return svg('polygon', { points: `${k},0 ${w - k},0 ${w},${h / 2} ${w - k},${h} ${k},${h} 0,${h / 2}` });
    }
    case 'uri':
      return svg('rect', { width: w, height: h, rx: 2, 'stroke-dasharray': '4 3' });
    default:
      return svg('rect', { width: w, height: h, rx: 6 });
  }
}

/** Draws the flow graph into #graph. */
function drawGraph() {
  const graph = state.graph;
  const box = $('#graph');
  box.textContent = '';
  if (!graph || graph.nodes.length === 0) {
    box.append(el('p', { class: 'muted' }, 'No routes: this flow has no channels, brokers or sources.'));
    return;
  }
  const width = Math.max(640, box.clientWidth || 1200);
  const { positions, height } = place(graph, width);
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'the flow graph' });
  root.append(
    svg('defs', {},
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))));
  const edges = svg('g', { class: 'edges' });
  const labels = svg('g', { class: 'labels' });
  const nodes = svg('g', { class: 'nodes' });
  root.append(edges, nodes, labels);

  // Edges between the same two nodes (either way) bend apart, symmetrically.
  const pairOf = (edge) => [edge.from, edge.to].sort().join('\u0000');
  const pairs = new Map();
  for (const edge of graph.edges) pairs.set(pairOf(edge), (pairs.get(pairOf(edge)) || 0) + 1);
  const seen = new Map();
  const shapes = new Map(graph.nodes.map((n) => [n.id, n.shape]));
  for (const edge of graph.edges) {
    const a = positions.get(edge.from);
    const b = positions.get(edge.to);
    if (!a || !b) continue;
    const pair = pairOf(edge);
    const index = seen.get(pair) || 0;
    seen.set(pair, index + 1);
    // Labels sit nearer the end that is not a flow or hub, where edges fan out.
    const hub = (id) => shapes.get(id) === 'flow' || shapes.get(id) === 'hub';
    const t = hub(edge.from) && !hub(edge.to) ? 0.68 : !hub(edge.from) && hub(edge.to) ? 0.32 : 0.5;
    const { d, mid } = edgePath(edge, a, b, index, pairs.get(pair), t);
    const group = svg('g', { class: `edge${edge.dashed ? ' dashed' : ''}`, 'data-key': edge.key, 'data-from': edge.from, 'data-to': edge.to });
    group.append(svg('title', {}, `${edge.from} → ${edge.to}\n${edge.label}\nroute: ${edge.key}`));
    group.append(svg('path', { d, 'marker-end': 'url(#arrow)' }));
    edges.append(group);
    labels.append(edgeLabel(edge, mid));
  }
  for (const node of graph.nodes) {
    const p = positions.get(node.id);
    const [kind, ...rest] = node.id.split('/');
    const name = rest.join('/') || kind;
    const group = svg('g', { class: `node ${node.shape}`, 'data-id': node.id, transform: `translate(${p.x},${p.y})` });
    group.append(svg('title', {}, node.id));
    group.append(nodeShape(node.shape, NODE_W, NODE_H));
    const uri = node.shape === 'uri';
    group.append(svg('text', { x: NODE_W / 2, y: uri ? NODE_H / 2 + 4 : 15, class: 'kind' }, uri ? shorten(node.id, 26) : kind));
    if (!uri) group.append(svg('text', { x: NODE_W / 2, y: 31, class: 'name' }, shorten(name, 22)));
    nodes.append(group);
  }
  box.append(root);
  // Labels need their text measured for their backgrounds: now that they are in the page.
  for (const label of labels.children) fitLabel(label);
  state.layout = { positions, width, height };
  settleLabels();
}

/** Spreads the labels apart (again: counts make them wider) and fits the drawing to them. */
function settleLabels() {
  const root = $('#graph svg');
  if (!root || !state.layout) return;
  const { positions, width, height } = state.layout;
  const bottom = spreadLabels([...root.querySelectorAll('.edge-label')], [...positions.values()]);
  const fitted = Math.max(height, bottom + 8);
  root.setAttribute('height', fitted);
  root.setAttribute('viewBox', `0 0 ${width} ${fitted}`);
}

const settleLabelsSoon = later(settleLabels, 100);

/**
 * Moves labels up or down until none overlaps another or a node (edges that fan out of
 * one hub put their labels close together): each label in turn, from the top, takes the
 * free place nearest to where its edge put it. Returns the lowest label's bottom.
 */
function spreadLabels(groups, nodes) {
  const boxes = groups.map((group) => {
    const rect = group.querySelector('rect');
    // Where the edge put it (kept, so that a second spreading starts from there).
    if (!group.dataset.x) {
      const [x, y] = group.getAttribute('transform').match(/-?[\d.]+/g).map(Number);
      group.dataset.x = String(x);
      group.dataset.y = String(y);
    }
    const ox = Number(group.dataset.x);
    const oy = Number(group.dataset.y);
    const rx = Number(rect.getAttribute('x')) || 0;
    const ry = Number(rect.getAttribute('y')) || 0;
    return { group, ox, oy, x: ox + rx, y: oy + ry, w: Number(rect.getAttribute('width')) || 0, h: Number(rect.getAttribute('height')) || 0 };
  });
  const width = state.layout ? state.layout.width : Infinity;
  for (const box of boxes) {
    // Inside the drawing, left and right.
    const shift = Math.max(2 - box.x, Math.min(0, width - 2 - (box.x + box.w)));
    box.x += shift;
    box.ox += shift;
  }
  const placed = nodes.map((p) => ({ x: p.x - 2, y: p.y - 2, w: NODE_W + 4, h: NODE_H + 4 }));
  const clash = (x, y, w, h) => placed.some((b) => x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h);
  let bottom = 0;
  boxes.sort((a, b) => a.y - b.y || a.x - b.x);
  for (const box of boxes) {
    let dy = 0;
    for (let step = 0; step <= 120; step += 1) {
      // 0, +2, -2, +4, -4, ... pixels from where the edge put it.
      const tryDy = (step % 2 ? 1 : -1) * Math.ceil(step / 2) * 2;
      if (!clash(box.x, box.y + tryDy, box.w, box.h + 1)) {
        dy = tryDy;
        break;
      }
    }
    placed.push({ x: box.x, y: box.y + dy, w: box.w, h: box.h + 1 });
    box.group.setAttribute('transform', `translate(${box.ox},${box.oy + dy})`);
    bottom = Math.max(bottom, box.y + dy + box.h);
  }
  return bottom;
}

const shorten = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** The path of an edge from a to b (node boxes), and the point at `t` for its label. */
function edgePath(edge, a, b, index, count, t) {
  let start;
  let end;
  if (b.column > a.column) {
    start = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
    end = { x: b.x, y: b.y + NODE_H / 2 };
  } else if (b.column < a.column) {
    start = { x: a.x, y: a.y + NODE_H / 2 };
    end = { x: b.x + NODE_W, y: b.y + NODE_H / 2 };
  } else {
    // The same column: from one's bottom to the other's top, or a loop on itself.
    const down = b.y >= a.y;
    start = { x: a.x + NODE_W * 0.75, y: down ? a.y + NODE_H : a.y };
    end = { x: b.x + NODE_W * 0.75, y: down ? b.y : b.y + NODE_H };
    if (a === b) end = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
  }
  // The control point is off the straight line by `bend`: edges of one pair get
  // offsets spread evenly around it, measured in the pair's own direction (so an edge
  // and its reply come apart).
  const dx = end.x - start.x;
  const dy = end.y - start.y;
  const length = Math.hypot(dx, dy) || 1;
  const canonical = edge.from < edge.to || (edge.from === edge.to) ? 1 : -1;
  let bend = (index - (count - 1) / 2) * 46 * canonical;
  if (b.column === a.column) bend += 70;
  const control = { x: (start.x + end.x) / 2 - (dy / length) * bend, y: (start.y + end.y) / 2 + (dx / length) * bend };
  const u = 1 - t;
  const mid = { x: u * u * start.x + 2 * u * t * control.x + t * t * end.x, y: u * u * start.y + 2 * u * t * control.y + t * t * end.y };
  return { d: `M ${start.x} ${start.y} Q ${control.x} ${control.y} ${end.x} ${end.y}`, mid };
}

const COUNT_NAMES = ['events', 'failures', 'retries', 'filtered'];
const COUNT_SIGNS = { events: '✓', failures: '✗', retries: '↻', filtered: '⊘' };

/** An edge's label: what it is, then its counts (which the stream updates in place). */
function edgeLabel(edge, mid) {
  const group = svg('g', { class: 'edge-label', 'data-key': edge.key, transform: `translate(${mid.x},${mid.y})` });
  group.append(svg('rect', { class: 'label-bg' }));
  const text = svg('text', { 'text-anchor': 'middle', y: 4 });
  text.append(svg('tspan', { class: 'label' }, shorten(edge.label, 34)));
  for (const name of COUNT_NAMES) {
    text.append(svg('tspan', { class: `count ${name}`, 'data-count': name, dx: 6 }));
  }
  group.append(text);
  fillCounts(group, state.counts[edge.key]);
  return group;
}

/** Writes `counts` into a label; zero counts other than events are left out. */
function fillCounts(group, counts = {}) {
  for (const name of COUNT_NAMES) {
    const span = group.querySelector(`.count[data-count="${name}"]`);
    if (!span) continue;
    const n = counts[name] || 0;
    span.dataset.value = String(n);
    span.textContent = n > 0 || name === 'events' ? `${COUNT_SIGNS[name]}${n}` : '';
    span.setAttribute('dx', span.textContent ? 6 : 0);
  }
  const label = group.querySelector('.label');
  group.querySelector('title')?.remove();
  const words = COUNT_NAMES.map((name) => `${counts[name] || 0} ${name}`).join(', ');
  group.prepend(svg('title', {}, `${label ? label.textContent : ''}: ${words}`));
}

/** Sizes a label's background to its text. */
function fitLabel(group) {
  const text = group.querySelector('text');
  const rect = group.querySelector('rect');
  if (!text || !rect || !text.getBBox) return;
  const box = text.getBBox();
  rect.setAttribute('x', box.x - 4);
  rect.setAttribute('y', box.y - 2);
  rect.setAttribute('width', box.width + 8);
  rect.setAttribute('height', box.height + 4);
}

/** A route's counts changed. */
function updateCounts(route, counts) {
  state.counts[route] = counts;
  const group = document.querySelector(`#graph .edge-label[data-key="${CSS.escape(route)}"]`);
  if (group) {
    fillCounts(group, counts);
    fitLabel(group);
    settleLabelsSoon();
    const edge = document.querySelector(`#graph g.edge[data-key="${CSS.escape(route)}"]`);
    edge?.classList.toggle('failing', (counts.failures || 0) > 0);
    edge?.classList.toggle('busy', (counts.events || 0) > 0);
  } else if (route !== 'send' && !route.startsWith('-> ')) {
    // A route the drawing lacks: the manifests were reloaded (`--watch`).
    reloadGraph();
  }
}

async function loadGraph() {
  const graph = await getJson('graph');
  state.graph = graph;
  state.counts = graph.counts || {};
  drawGraph();
  for (const [route, counts] of Object.entries(state.counts)) updateCounts(route, counts);
  fillTargets(graph);
}

const reloadGraph = later(() => loadGraph().catch(showError), 2000);

// ---- the event list ----------------------------------------------------------------------

/** Whether a journey passes the filter box, by what the page knows (id, type, source, …). */
function passes(journey) {
  const q = state.filter.trim().toLowerCase();
  if (!q) return true;
  if (state.serverMatches.has(journey.key)) return true;
  return [journey.id, journey.type, journey.source, journey.key, journey.now, journey.outcome]
    .some((text) => String(text || '').toLowerCase().includes(q));
}

/** The row of a journey. */
function row(journey) {
  const tr = el('tr', {
    'data-id': journey.id,
    'data-key': journey.key,
    'data-outcome': journey.outcome,
    'data-seq': journey.seq,
    class: journey.key === state.selected ? 'selected' : undefined,
    tabindex: 0,
    title: `trace ${journey.key}: click for its journey`,
  },
  el('td', { class: 'time' }, clock(journey.received)),
  el('td', { class: 'id', title: journey.id }, journey.id),
  el('td', { class: 'type', title: journey.type }, journey.type),
  el('td', { class: 'source', title: journey.source }, journey.source),
  el('td', { class: 'now', title: journey.now }, journey.now),
  el('td', {}, badge(journey.outcome)));
  tr.addEventListener('click', () => openJourney(journey.key));
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') openJourney(journey.key); });
  return tr;
}

/** Adds or replaces the journey's row (newest first), keeping the newer copy. */
function upsert(journey) {
  const known = state.journeys.get(journey.key);
  if (known && progress(known) > progress(journey)) return;
  state.journeys.set(journey.key, journey);
  const body = $('#events tbody');
  const old = body.querySelector(`tr[data-key="${CSS.escape(journey.key)}"]`);
  if (!passes(journey)) {
    old?.remove();
    // It may match by an extension, which only the server sees.
    if (state.filter.trim()) queryServer();
  } else if (old) {
    old.replaceWith(row(journey));
  } else {
    // Newest first: before the first row that is older.
    const next = [...body.rows].find((r) => Number(r.dataset.seq) < journey.seq);
    body.insertBefore(row(journey), next || null);
    while (body.rows.length > 1000) body.lastElementChild.remove();
  }
  totals();
}

/** Redraws the list from what is loaded (after the filter changed). */
function redrawList() {
  const body = $('#events tbody');
  body.textContent = '';
  const all = [...state.journeys.values()].sort((a, b) => b.seq - a.seq).filter(passes).slice(0, 1000);
  for (const journey of all) body.append(row(journey));
  totals();
}

function totals() {
  const shown = $('#events tbody').rows.length;
  const all = state.journeys.size;
  $('#no-events').hidden = shown > 0;
  $('#no-events').textContent = all > 0 ? 'No event passes the filter.' : 'No event yet: send one with the form above, or wait for a source.';
  $('#totals').textContent = state.filter ? `${shown} of ${all} events` : `${all} events`;
}

async function loadJourneys() {
  const journeys = await getJson('journeys');
  for (const journey of journeys) {
    const known = state.journeys.get(journey.key);
    if (!known || progress(known) <= progress(journey)) state.journeys.set(journey.key, journey);
  }
  redrawList();
}

/** Asks the server which journeys match the filter (it also looks in extensions and ids of later events). */
const queryServer = later(async () => {
  const q = state.filter.trim();
  if (!q) {
    state.serverMatches = new Set();
    redrawList();
    return;
  }
  try {
    const found = await getJson(`journeys?q=${encodeURIComponent(q)}`);
    if (q !== state.filter.trim()) return;
    state.serverMatches = new Set(found.map((j) => j.key));
    for (const journey of found) {
      const known = state.journeys.get(journey.key);
      if (!known || progress(known) <= progress(journey)) state.journeys.set(journey.key, journey);
    }
  } catch (error) {
    showError(error);
  }
  redrawList();
}, 200);

// ---- one journey -------------------------------------------------------------------------

async function openJourney(key) {
  state.selected = key;
  state.hop = 0;
  state.showReply = false;
  for (const tr of document.querySelectorAll('#events tr.selected')) tr.classList.remove('selected');
  document.querySelector(`#events tr[data-key="${CSS.escape(key)}"]`)?.classList.add('selected');
  await refreshJourney();
}

/** Fetches the selected journey again and draws it. */
async function refreshJourney() {
  const key = state.selected;
  if (!key) return;
  try {
    const detail = await getJson(`journeys/${keyPath(key)}`);
    if (key !== state.selected) return;
    state.detail = detail;
    drawJourney();
  } catch (error) {
    showError(error);
  }
}

const refreshJourneySoon = later(refreshJourney, 150);

/** What a hop's outcome means, in words, for its detail cell. */
function verdict(hop) {
  if (hop.kind === 'filtered') return hop.detail || 'the filter did not pass it';
  if (hop.kind === 'received') return `entered at ${hop.to}`;
  return hop.detail || '';
}

function drawJourney() {
  const { journey } = state.detail;
  const panel = $('#journey');
  panel.dataset.key = journey.key;
  panel.dataset.id = journey.id;
  panel.dataset.outcome = journey.outcome;
  panel.textContent = '';
  panel.append(
    el('h2', {}, 'Journey ', badge(journey.outcome)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'id'), el('dd', { class: 'id' }, journey.id),
      el('dt', {}, 'type'), el('dd', {}, journey.type),
      el('dt', {}, 'source'), el('dd', {}, journey.source),
      el('dt', {}, 'received'), el('dd', {}, `${clock(journey.received)} at ${journey.entry}`),
      el('dt', {}, 'now at'), el('dd', { class: 'now' }, journey.now),
      el('dt', {}, 'trace'), el('dd', { class: 'trace' }, journey.key)),
  );
  // Hops are recorded as they end (an outer hop after those it caused): show them in
  // the order they began, each with its start.
  const began = (hop) => Math.max(0, hop.at_ms - (hop.latency_ms || 0));
  const order = journey.hops.map((hop, index) => ({ hop, index }));
  order.sort((x, y) => began(x.hop) - began(y.hop) || x.index - y.index);
  const tbody = el('tbody');
  order.forEach(({ hop, index }) => {
    const timing = [
      hop.status !== undefined ? `HTTP ${hop.status}` : '',
      hop.latency_ms !== undefined ? ms(hop.latency_ms) : '',
    ].filter(Boolean).join(' · ');
    const attempt = [
      hop.attempt !== undefined ? `attempt ${hop.attempt}` : '',
      hop.backoff_ms !== undefined ? (hop.backoff_ms > 0 ? `then waits ${ms(hop.backoff_ms)}` : 'then retries at once') : '',
    ].filter(Boolean).join(', ');
    const reply = hop.reply !== undefined
      ? el('button', { type: 'button', class: 'link reply', 'data-event': hop.reply, onclick: (e) => { e.stopPropagation(); showHop(index, true); } }, 'reply ↩')
      : '';
    const tr = el('tr', {
      class: `hop${index === state.hop ? ' selected' : ''}`,
      'data-kind': hop.kind,
      'data-route': hop.route,
      'data-index': index,
      title: 'click to see the event at this hop',
    },
    el('td', { class: 'at' }, `+${ms(began(hop))}`),
    el('td', { class: 'path' },
      el('div', { class: 'from' }, hop.from), el('div', { class: 'to' }, `→ ${hop.to}`),
      el('div', { class: 'route muted' }, hop.route)),
    el('td', { class: 'status' }, badge(hop.kind, 'small'), el('div', {}, timing), el('div', { class: 'attempt' }, attempt)),
    el('td', { class: `detail ${hop.kind}` }, verdict(hop), reply));
    tr.addEventListener('click', () => showHop(index, false));
    tbody.append(tr);
  });
  panel.append(
    el('table', { id: 'hops' },
      el('colgroup', {}, ['at', 'path', 'status', 'why'].map((name) => el('col', { class: `c-${name}` }))),
      el('thead', {}, el('tr', {}, ['at', 'from → to (route)', 'how it went', 'why'].map((h) => el('th', {}, h)))),
      tbody));
  if (journey.hops_dropped) panel.append(el('p', { class: 'muted' }, `${journey.hops_dropped} more hops were not kept.`));
  panel.append(el('div', { id: 'hop-event' }));
  showHop(Math.min(state.hop, journey.hops.length - 1), state.showReply);
}

/** Shows the event at hop `index` (or the reply it produced). */
function showHop(index, reply) {
  const { journey, events } = state.detail;
  const hop = journey.hops[index];
  if (!hop) return;
  state.hop = index;
  state.showReply = Boolean(reply && hop.reply !== undefined);
  for (const tr of document.querySelectorAll('#hops tr.hop')) tr.classList.toggle('selected', Number(tr.dataset.index) === index);
  const which = state.showReply ? hop.reply : hop.event;
  const event = events[which];
  const box = $('#hop-event');
  box.textContent = '';
  const toggle = el('span', { id: 'view-toggle', class: 'toggle' },
    ['display', 'json'].map((view) => el('button', {
      type: 'button',
      'data-view': view,
      class: state.view === view ? 'on' : undefined,
      onclick: () => { state.view = view; showHop(state.hop, state.showReply); },
    }, view === 'display' ? 'as event-display prints it' : 'JSON')));
  const title = state.showReply
    ? `The reply ${hop.to} produced (hop ${index + 1})`
    : `The event at hop ${index + 1}: ${hop.from} → ${hop.to}`;
  box.append(el('h3', {}, title, toggle));
  if (hop.reply !== undefined) {
    box.append(el('p', { class: 'muted' },
      el('button', { type: 'button', class: 'link', onclick: () => showHop(index, !state.showReply) },
        state.showReply ? 'show the event it was sent' : 'show the reply it produced')));
  }
  if (!event) {
    box.append(el('p', { class: 'muted' }, 'This event is no longer kept.'));
    return;
  }
  const text = state.view === 'json'
    ? JSON.stringify({ attributes: event.attributes, data: event.data }, null, 2)
    : event.display;
  box.append(el('pre', { class: `event ${state.view}`, 'data-view': state.view, 'data-event': which }, text));
}

// ---- the send form -----------------------------------------------------------------------

const SENDABLE = ['sequence/', 'parallel/', 'broker/', 'channel/', 'ksvc/'];

/** The targets the form offers: the graph's flows, hubs and services. */
function fillTargets(graph) {
  const select = $('#send-target');
  const before = select.value;
  const targets = graph.nodes.map((n) => n.id).filter((id) => SENDABLE.some((p) => id.startsWith(p)));
  targets.sort((a, b) => SENDABLE.findIndex((p) => a.startsWith(p)) - SENDABLE.findIndex((p) => b.startsWith(p)) || a.localeCompare(b));
  select.textContent = '';
  for (const id of targets) select.append(el('option', { value: id }, id));
  if (targets.includes(before)) {
    select.value = before;
  } else if (targets.length) {
    // At first, the object that sends on the most: the flow's entry, usually.
    const out = (id) => graph.edges.filter((e) => e.from === id).length;
    select.value = targets.reduce((best, id) => (out(id) > out(best) ? id : best), targets[0]);
  }
}

/** `name=value` lines as an object; blank lines and `#` comments are skipped. */
function extensions(text) {
  const found = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const at = trimmed.indexOf('=');
    if (at < 1) throw new Error(`extension line "${trimmed}": write name=value`);
    found[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return found;
}

async function send(submit) {
  submit.preventDefault();
  const result = $('#send-result');
  result.className = '';
  result.textContent = 'sending…';
  let form;
  try {
    const dataText = $('#send-data').value.trim();
    let data;
    if (dataText) {
      try {
        data = JSON.parse(dataText);
      } catch (error) {
        throw new Error(`data is not JSON: ${error.message}`);
      }
    }
    form = {
      target: $('#send-target').value,
      type: $('#send-type').value.trim(),
      source: $('#send-source').value.trim(),
      id: $('#send-id').value.trim() || undefined,
      data,
      extensions: extensions($('#send-extensions').value),
    };
  } catch (error) {
    result.className = 'error';
    result.textContent = error.message;
    return;
  }
  try {
    const response = await fetch(BASE + 'send', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(form),
    });
    const text = await response.text();
    if (!response.ok) {
      result.className = 'error';
      result.dataset.status = String(response.status);
      result.textContent = `${response.status}: ${text}`;
      return;
    }
    const answer = JSON.parse(text);
    const ok = answer.status >= 200 && answer.status < 300;
    result.className = ok ? 'ok' : 'error';
    result.dataset.status = String(answer.status);
    result.dataset.id = answer.id;
    result.textContent = '';
    result.append(
      `${form.target} answered ${answer.status} for event ${answer.id}`,
      answer.body ? el('code', { class: 'body' }, ` ${shorten(answer.body, 120)}`) : '',
      ' ',
      el('button', { type: 'button', class: 'link', onclick: () => openJourney(answer.journey) }, 'its journey'));
    openJourney(answer.journey);
  } catch (error) {
    result.className = 'error';
    result.textContent = String(error.message || error);
  }
}

// ---- the stream --------------------------------------------------------------------------

function connect() {
  const live = $('#live');
  const source = new EventSource(BASE + 'stream');
  source.addEventListener('open', () => {
    const reconnected = live.dataset.state === 'closed';
    live.dataset.state = 'open';
    live.textContent = '● live';
    // Updates may have been missed while the stream was down.
    if (reconnected) loadJourneys().then(() => loadGraph()).catch(showError);
  });
  source.addEventListener('error', () => {
    live.dataset.state = 'closed';
    live.textContent = '○ reconnecting…';
  });
  source.addEventListener('message', (message) => {
    let update;
    try {
      update = JSON.parse(message.data);
    } catch {
      return;
    }
    if (update.journey) {
      upsert(update.journey);
      if (update.journey.key === state.selected) refreshJourneySoon();
    } else if (update.route) {
      updateCounts(update.route, update.counts);
    } else if (update.lagged) {
      // Too slow to read every update: read the state afresh.
      loadJourneys().then(() => loadGraph()).catch(showError);
    }
  });
}

function showError(error) {
  console.error(error);
  const live = $('#live');
  live.title = String(error.message || error);
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  $('#send-form').addEventListener('submit', send);
  $('#filter').addEventListener('input', (e) => {
    state.filter = e.target.value;
    redrawList();
    queryServer();
  });
  // The stream first, so that nothing is missed between the list and it.
  connect();
  await Promise.all([loadGraph(), loadJourneys()]).catch(showError);
  window.addEventListener('resize', later(drawGraph, 200));
  document.body.dataset.ready = 'true';
}

start();
