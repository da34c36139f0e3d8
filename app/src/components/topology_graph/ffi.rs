//! The one door to cytoscape.js (browser only). The library and its dagre layout are
//! vendored under `/vendor/cytoscape/` and injected the first time a graph is drawn, so
//! only the Traffic Management page loads them. The glue below is deliberately thin: it
//! applies patches computed in Rust ([`super::elements`]), runs a layout, styles by class,
//! and reports taps back as element ids. Everything crossing the boundary is a string
//! (JSON) or a callback, so there is no serde-wasm-bindgen or js-sys dependency.
//!
//! For tests and the benchmark it exposes a read-only `window.__sluiceGraph()` returning
//! what is drawn (node/edge ids, classes, labels, where each node is on screen), and sets
//! `data-graph-ready="true"` on the container when a layout has finished.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const BASE = '/vendor/cytoscape/';
const COLORS = { healthy: '#2e9e6b', degraded: '#e08a0b', failure: '#cc3d3d', idle: '#9aa5b1' };
let loading = null;

function script(src) {
  return new Promise((ok, fail) => {
    const s = document.createElement('script');
    s.src = src;
    s.async = false;
    s.onload = () => ok();
    s.onerror = () => fail(new Error('could not load ' + src));
    document.head.appendChild(s);
  });
}

let dagreLoading = null;

// The hierarchical layout's scripts: fetched right after cytoscape, awaited only by a
// dagre layout run (large graphs never run one, so they do not wait for it).
function dagreLoaded() {
  if (!dagreLoading) {
    dagreLoading = (window.dagre ? Promise.resolve() : script(BASE + 'dagre.min.js'))
      .then(() => (window.cytoscapeDagre ? null : script(BASE + 'cytoscape-dagre.js')))
      .then(() => {
        // The UMD build registers itself when window.cytoscape exists; make sure.
        try { window.cytoscape.use(window.cytoscapeDagre); } catch (_) { /* already registered */ }
      });
    dagreLoading.catch(() => { dagreLoading = null; });
  }
  return dagreLoading;
}

export function sluice_cy_load(done) {
  if (!loading) {
    loading = window.cytoscape ? Promise.resolve() : script(BASE + 'cytoscape.min.js');
    loading.then(() => dagreLoaded().catch(() => {}), () => {});
    loading.catch(() => { loading = null; });
  }
  loading.then(() => done(''), (e) => done(String(e && e.message || e)));
}

function labelStyle(field) {
  return field ? 'data(' + field + ')' : '';
}

function stylesheet(field, big) {
  const s = [
    { selector: 'node', style: {
      'label': 'data(label)', 'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 3,
      'background-color': '#fff', 'border-width': 2, 'border-color': COLORS.idle,
      'width': 24, 'height': 24, 'color': '#1d2733', 'min-zoomed-font-size': big ? 8 : 0,
    } },
    { selector: 'node.kind-service', style: { 'shape': 'triangle' } },
    { selector: 'node.kind-ingress', style: { 'shape': 'diamond', 'width': 30, 'height': 30 } },
    { selector: 'node.kind-unknown', style: { 'background-color': '#eef1f4' } },
    { selector: 'node.kind-app', style: {
      'shape': 'round-rectangle', 'background-color': '#f4f6f9', 'border-style': 'dashed',
      'border-width': 1, 'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -2,
      'color': '#5c6b7a', 'padding': 10,
    } },
    { selector: 'node.badge-nosidecar', style: { 'border-style': 'dotted', 'background-color': '#f6f6f6' } },
    { selector: 'node.badge-canary', style: { 'border-width': 3 } },
    { selector: 'node.badge-problem', style: { 'background-color': '#fde3b0', 'border-style': 'double', 'border-width': 4 } },
    { selector: 'edge', style: {
      'width': 1.5, 'line-color': COLORS.idle, 'target-arrow-color': COLORS.idle,
      'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'arrow-scale': 0.8,
      'label': labelStyle(field), 'font-size': 8, 'color': '#1d2733', 'text-rotation': 'autorotate',
      'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': 1,
      'min-zoomed-font-size': 0,
    } },
    { selector: 'edge.proto-tcp', style: { 'line-style': 'dashed' } },
    { selector: 'edge.health-idle', style: { 'width': 1, 'line-style': 'dotted' } },
    { selector: ':selected', style: { 'overlay-color': '#2a7de1', 'overlay-opacity': 0.2, 'overlay-padding': 4 } },
  ];
  for (const h of Object.keys(COLORS)) {
    s.push({ selector: 'node.health-' + h, style: { 'border-color': COLORS[h] } });
    s.push({ selector: 'edge.health-' + h, style: { 'line-color': COLORS[h], 'target-arrow-color': COLORS[h] } });
  }
  s.push({ selector: 'edge.health-failure, edge.health-degraded', style: { 'width': 2.5 } });
  return s;
}

export function sluice_cy_create(container, field, big, onTap) {
  const cy = window.cytoscape({
    container, elements: [], style: stylesheet(field, big),
    minZoom: 0.02, maxZoom: 4, boxSelectionEnabled: false,
    selectionType: 'single', textureOnViewport: big, hideEdgesOnViewport: big,
    pixelRatio: big ? 1 : 'auto',
  });
  const h = { cy, container, big, field, placed: false, ready: false, layout: '', timings: { created: performance.now() } };
  h.edges = big ? edgeLayer(h) : null;
  cy.on('tap', (ev) => {
    if (ev.target !== cy) return onTap(ev.target.id());
    const hit = h.edges ? edgeAt(h, ev.position) : null;
    onTap(hit ? hit.id : '');
  });
  window.__sluiceGraph = () => {
    const box = container.getBoundingClientRect();
    const screen = (n) => { const p = n.renderedPosition(); return { x: box.left + p.x, y: box.top + p.y }; };
    return {
      ready: h.ready, layout: h.layout, zoom: cy.zoom(), timings: h.timings,
      nodes: cy.nodes().map((n) => ({ id: n.id(), classes: n.classes(), label: n.data('label'),
        parent: n.data('parent') || null, screen: screen(n) })),
      edges: h.edges
        ? [...h.edges.all.values()].map((e) => ({ id: e.id, source: e.data.source, target: e.data.target,
          classes: e.classes.split(' ').filter((c) => c), label: e.id === h.edges.selected ? (e.data[h.field] || '') : '' }))
        : cy.edges().map((e) => ({ id: e.id(), source: e.data('source'), target: e.data('target'),
          classes: e.classes(), label: e.style('label') })),
      selected: h.edges && h.edges.selected ? [h.edges.selected] : cy.$(':selected').map((e) => e.id()),
    };
  };
  return h;
}

// Large graphs: edges are not cytoscape elements. Each element costs cytoscape about a
// tenth of a millisecond to style and draw on its first frame, and a large mesh has two
// to three edges per node. Its edges are drawn here instead, as a few canvas paths (one
// per health and line style) on a canvas under cytoscape's node layer, redrawn when the
// view or a node moves; a tap on the background picks the nearest edge within a few
// pixels. Nodes stay cytoscape's: positions, drag, zoom and pan, node taps.
function edgeLayer(h) {
  const nodeLayer = h.container.querySelector('canvas[data-id$="-node"]');
  const canvas = document.createElement('canvas');
  canvas.setAttribute('data-id', 'sluice-edges');
  Object.assign(canvas.style, { position: 'absolute', left: '0', top: '0', zIndex: '0', pointerEvents: 'none' });
  nodeLayer.parentElement.insertBefore(canvas, nodeLayer.parentElement.firstChild);
  const layer = { canvas, all: new Map(), selected: null, queued: false };
  const queue = () => {
    if (layer.queued) return;
    layer.queued = true;
    requestAnimationFrame(() => drawEdges(h));
  };
  layer.queue = queue;
  h.cy.on('viewport resize', queue);
  h.cy.on('position', 'node', queue);
  return layer;
}

function edgeRecord(cy, el) {
  const s = cy.getElementById(el.data.source), t = cy.getElementById(el.data.target);
  if (s.empty() || t.empty()) return null;
  return { id: el.data.id, data: el.data, classes: el.classes || '', s, t };
}

// Edges drawn in one stroke share a key: their health, and "-tcp" for dashed TCP lines.
function strokeKey(e) {
  return (e.data.health || 'idle') + (e.classes.indexOf('proto-tcp') >= 0 ? '-tcp' : '');
}

const EDGE_ORDER = ['idle', 'healthy', 'degraded', 'failure'];

function drawEdges(h) {
  const L = h.edges, cy = h.cy;
  L.queued = false;
  if (cy.destroyed()) return;
  const w = Math.max(1, Math.round(cy.width())), hh = Math.max(1, Math.round(cy.height()));
  if (L.canvas.width !== w || L.canvas.height !== hh) {
    L.canvas.width = w; L.canvas.height = hh;
    L.canvas.style.width = w + 'px'; L.canvas.style.height = hh + 'px';
  }
  const ctx = L.canvas.getContext('2d');
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, hh);
  const z = cy.zoom(), pan = cy.pan();
  ctx.setTransform(z, 0, 0, z, pan.x, pan.y);
  paintEdges(ctx, L, z, cy.extent(), h.field);
}

// Draws every edge in model coordinates on a context already transformed for zoom `z`;
// edges wholly outside `ext` (a model box, or null for all) are skipped.
function paintEdges(ctx, L, z, ext, field) {
  const groups = new Map();
  for (const e of L.all.values()) {
    if (e.s.removed() || e.t.removed()) continue;
    const a = e.s.position(), b = e.t.position();
    if (ext && ((a.x < ext.x1 && b.x < ext.x1) || (a.x > ext.x2 && b.x > ext.x2) ||
        (a.y < ext.y1 && b.y < ext.y1) || (a.y > ext.y2 && b.y > ext.y2))) continue;
    const k = strokeKey(e);
    let list = groups.get(k);
    if (!list) groups.set(k, list = []);
    list.push(a, b);
  }
  const px = 1 / z;
  const arrows = z >= 0.6;
  for (const health of EDGE_ORDER) {
    for (const tcp of [false, true]) {
      const list = groups.get(health + (tcp ? '-tcp' : ''));
      if (!list) continue;
      const wide = health === 'failure' || health === 'degraded';
      // Zoomed out over thousands of edges, the healthy and idle ones are a haze behind
      // the ones that need attention.
      ctx.globalAlpha = !wide && z < 0.4 ? 0.35 : 1;
      ctx.lineWidth = Math.max(wide ? 2.5 : (health === 'idle' ? 1 : 1.5), px);
      ctx.strokeStyle = ctx.fillStyle = COLORS[health];
      ctx.setLineDash(health === 'idle' ? [2 * px, 3 * px] : (tcp ? [6 * px, 4 * px] : []));
      ctx.beginPath();
      for (let i = 0; i < list.length; i += 2) {
        ctx.moveTo(list[i].x, list[i].y);
        ctx.lineTo(list[i + 1].x, list[i + 1].y);
      }
      ctx.stroke();
      if (arrows) {
        ctx.setLineDash([]);
        ctx.beginPath();
        for (let i = 0; i < list.length; i += 2) arrowHead(ctx, list[i], list[i + 1]);
        ctx.fill();
      }
    }
  }
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;
  const sel = L.selected && L.all.get(L.selected);
  if (sel && !sel.s.removed() && !sel.t.removed()) {
    const a = sel.s.position(), b = sel.t.position();
    ctx.lineWidth = Math.max(3, 2 * px);
    ctx.strokeStyle = ctx.fillStyle = '#2a7de1';
    ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
    ctx.beginPath(); arrowHead(ctx, a, b); ctx.fill();
    const text = field ? sel.data[field] : '';
    if (text) {
      const size = Math.max(8, 11 * px);
      ctx.font = size + 'px sans-serif';
      ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2, tw = ctx.measureText(text).width;
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fillRect(mx - tw / 2 - 2 * px, my - size / 2 - px, tw + 4 * px, size + 2 * px);
      ctx.fillStyle = '#1d2733';
      ctx.fillText(text, mx, my);
    }
  }
}

// A small arrow head at `b`, stopping at the edge of a node 24 wide.
function arrowHead(ctx, a, b) {
  const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy);
  if (len < 30) return;
  const ux = dx / len, uy = dy / len;
  const tx = b.x - ux * 13, ty = b.y - uy * 13;
  ctx.moveTo(tx, ty);
  ctx.lineTo(tx - ux * 8 - uy * 4, ty - uy * 8 + ux * 4);
  ctx.lineTo(tx - ux * 8 + uy * 4, ty - uy * 8 - ux * 4);
  ctx.closePath();
}

// The edge nearest to model point `p`, if within 6 screen pixels.
function edgeAt(h, p) {
  const tol = 6 / h.cy.zoom();
  let best = null, bestD = tol * tol;
  for (const e of h.edges.all.values()) {
    if (e.s.removed() || e.t.removed()) continue;
    const a = e.s.position(), b = e.t.position();
    const dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    const u = l2 > 0 ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2)) : 0;
    const qx = a.x + u * dx - p.x, qy = a.y + u * dy - p.y, d = qx * qx + qy * qy;
    if (d <= bestD) { bestD = d; best = e; }
  }
  return best;
}

// Where a new node goes: beside the drawn nodes it is connected to (or its siblings in the
// same app box), so a refresh never moves what the person already sees.
// (Large graphs: the neighbours come from the edge layer, whose edges cytoscape does not
// know.)
function placeNew(cy, added, layer) {
  const fresh = new Set(added.map((n) => n.id()));
  const bb = cy.nodes().filter((n) => !fresh.has(n.id())).boundingBox();
  const linked = new Map();
  if (layer) {
    const link = (a, b) => { if (fresh.has(a.id())) (linked.get(a.id()) || linked.set(a.id(), []).get(a.id())).push(b); };
    for (const e of layer.all.values()) { link(e.s, e.t); link(e.t, e.s); }
  }
  const neighbours = (n) => (layer ? cy.collection(linked.get(n.id()) || []) : n.neighborhood('node'));
  let spare = 0;
  added.forEach((n) => {
    if (n.isParent()) return;
    const near = neighbours(n).union(n.siblings()).filter((m) => !fresh.has(m.id()) && !m.isParent());
    if (near.length > 0) {
      let x = 0, y = 0;
      near.forEach((m) => { x += m.position('x'); y += m.position('y'); });
      const k = fresh.size > 1 ? (spare++ % 8) : 0;
      n.position({ x: x / near.length + 50 + 10 * k, y: y / near.length + 45 + 15 * k });
    } else {
      const x = isFinite(bb.x2) ? bb.x2 + 80 : 0;
      n.position({ x, y: (isFinite(bb.y1) ? bb.y1 : 0) + 60 * spare++ });
    }
  });
}

export function sluice_cy_patch(h, json, positionsJson) {
  const p = JSON.parse(json);
  const cy = h.cy;
  let addedNodes = cy.collection();
  // Positions known up front (large graphs) go in with the nodes: one bounds computation
  // instead of one per move.
  const known = positionsJson ? new Map(JSON.parse(positionsJson).map((q) => [q.id, { x: q.x, y: q.y }])) : null;
  cy.batch(() => {
    const nodes = p.add.filter((e) => e.group === 'nodes' && cy.getElementById(e.data.id).empty());
    if (known) {
      for (const n of nodes) {
        const q = known.get(n.data.id);
        if (q) n.position = q;
      }
    }
    if (nodes.length) addedNodes = cy.add(nodes);
    // Every node came in placed: the preset layout then only fits the view.
    h.placed = !!known && nodes.length > 0 && cy.nodes().length === nodes.length;
    for (const el of p.update) {
      const e = cy.getElementById(el.data.id);
      if (e.empty()) continue;
      const d = Object.assign({}, el.data);
      if (el.group === 'nodes') {
        const parent = d.parent || null;
        if ((e.data('parent') || null) !== parent) e.move({ parent });
      }
      delete d.parent; delete d.source; delete d.target; delete d.id;
      e.data(d);
      e.classes(el.classes);
    }
    for (const id of p.remove) {
      if (h.edges && h.edges.all.delete(id)) continue;
      const e = cy.getElementById(id);
      if (!e.empty()) cy.remove(e);
    }
    if (h.edges) {
      const L = h.edges;
      for (const el of p.update) {
        const e = el.group === 'edges' && L.all.get(el.data.id);
        if (e) { e.data = el.data; e.classes = el.classes || ''; }
      }
      for (const el of p.add) {
        if (el.group !== 'edges') continue;
        const e = edgeRecord(cy, el);
        if (e) L.all.set(e.id, e);
      }
      for (const [id, e] of L.all) if (e.s.removed() || e.t.removed()) L.all.delete(id);
      if (L.selected && !L.all.has(L.selected)) L.selected = null;
      L.queue();
    } else {
      const edges = p.add.filter((e) => e.group === 'edges' && cy.getElementById(e.data.id).empty());
      if (edges.length) cy.add(edges);
    }
    if (h.ready && addedNodes.length) placeNew(cy, addedNodes, h.edges);
  });
  h.timings.patched = performance.now();
  return addedNodes.length;
}

export function sluice_cy_layout(h, name, positionsJson, onDone) {
  const cy = h.cy;
  h.ready = false;
  h.container.setAttribute('data-graph-ready', 'false');
  const common = { fit: true, padding: 30, animate: false };
  const done = () => {
    h.ready = true;
    h.layout = name;
    h.timings.layoutstop = performance.now();
    h.container.setAttribute('data-graph-ready', 'true');
    onDone();
  };
  let opts;
  if (name === 'preset') {
    // Large graphs: the positions are known, so set them in one batch and fit the view to
    // their extent, without a layout run or measuring thousands of labels for the bounds.
    const placed = JSON.parse(positionsJson || '[]');
    const pos = new Map(placed.map((p) => [p.id, { x: p.x, y: p.y }]));
    if (!h.placed) {
      cy.batch(() => {
        cy.nodes().forEach((n) => {
          const p = pos.get(n.id());
          if (p) n.position(p);
        });
      });
    }
    h.placed = false;
    if (placed.length) {
      let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
      for (const p of placed) {
        x1 = Math.min(x1, p.x); x2 = Math.max(x2, p.x); y1 = Math.min(y1, p.y); y2 = Math.max(y2, p.y);
      }
      const pad = 40, w = cy.width(), hgt = cy.height();
      const zoom = Math.max(cy.minZoom(), Math.min(cy.maxZoom(),
        Math.min((w - 2 * pad) / Math.max(x2 - x1, 1), (hgt - 2 * pad) / Math.max(y2 - y1, 1))));
      cy.viewport({ zoom, pan: { x: w / 2 - zoom * (x1 + x2) / 2, y: hgt / 2 - zoom * (y1 + y2) / 2 } });
    }
    // Ready when cytoscape has drawn the nodes, with the edge layer drawn in the same
    // frame.
    // (Two frames at the latest, should nothing have changed to render.)
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      if (h.edges && h.edges.queued) drawEdges(h);
      done();
    };
    cy.one('render', fire);
    requestAnimationFrame(() => requestAnimationFrame(fire));
    return;
  } else if (name === 'dagre') {
    opts = Object.assign({ name: 'dagre', rankDir: 'LR', nodeSep: 25, rankSep: 90 }, common);
  } else if (name === 'breadthfirst') {
    opts = Object.assign({ name: 'breadthfirst', directed: true, spacingFactor: 1.2 }, common);
  } else {
    opts = Object.assign({ name: 'cose', nodeDimensionsIncludeLabels: true, randomize: false }, common);
  }
  // App boxes follow their versions: laying out the leaves only keeps dagre and
  // breadth-first ranking calls left to right instead of tangling on compound nodes.
  const run = () => {
    const layout = cy.elements().filter((e) => !(e.isNode() && e.isParent())).layout(opts);
    layout.one('layoutstop', done);
    layout.run();
  };
  if (name !== 'dagre') return run();
  dagreLoaded().then(run, (e) => {
    // Without dagre the breadth-first layout still ranks calls left to right.
    console.warn('Sluice: ' + (e && e.message || e) + '; using the breadth-first layout');
    opts = Object.assign({ name: 'breadthfirst', directed: true, spacingFactor: 1.2 }, common);
    run();
  });
}

export function sluice_cy_fit(h) { h.cy.fit(undefined, 30); }

export function sluice_cy_zoom(h, factor) {
  const cy = h.cy;
  cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
}

export function sluice_cy_labels(h, field) {
  h.field = field;
  if (h.edges) { h.edges.queue(); return; }
  h.cy.style().selector('edge').style('label', labelStyle(field)).update();
}

export function sluice_cy_select(h, id) {
  const cy = h.cy;
  cy.$(':selected').unselect();
  if (h.edges) {
    const was = h.edges.selected;
    h.edges.selected = id && h.edges.all.has(id) ? id : null;
    if (was !== h.edges.selected) h.edges.queue();
    if (h.edges.selected) return;
  }
  if (id) cy.getElementById(id).select();
}

export function sluice_cy_positions(h) {
  return JSON.stringify(h.cy.nodes().map((n) => {
    if (n.isParent()) {
      const b = n.boundingBox({ includeLabels: false });
      return { id: n.id(), x: (b.x1 + b.x2) / 2, y: (b.y1 + b.y2) / 2, w: b.w, h: b.h };
    }
    const p = n.position();
    return { id: n.id(), x: p.x, y: p.y, w: n.width(), h: n.height() };
  }));
}

export function sluice_cy_png(h, done) {
  const opts = { output: 'base64uri', full: true, scale: 2, maxWidth: 8000, maxHeight: 8000 };
  if (!h.edges) return done(h.cy.png(Object.assign({ bg: '#ffffff' }, opts)));
  // Large graphs: cytoscape's image has the nodes; the edges go under them, drawn at the
  // same scale over the same bounds.
  const bb = h.cy.elements().boundingBox();
  const img = new Image();
  img.onload = () => {
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, c.width, c.height);
    const s = img.width / Math.max(bb.w, 1);
    ctx.setTransform(s, 0, 0, s, -bb.x1 * s, -bb.y1 * s);
    paintEdges(ctx, h.edges, s, null, h.field);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(img, 0, 0);
    done(c.toDataURL('image/png'));
  };
  img.onerror = () => done(h.cy.png(Object.assign({ bg: '#ffffff' }, opts)));
  img.src = h.cy.png(opts);
}

export function sluice_cy_destroy(h) {
  if (window.__sluiceGraph) delete window.__sluiceGraph;
  h.cy.destroy();
}

export function sluice_download_url(name, url) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function sluice_download(name, mime, text) {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  sluice_download_url(name, url);
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
"#)]
extern "C" {
    /// A drawn graph (the cytoscape instance and its container).
    pub type Handle;

    fn sluice_cy_load(done: &JsValue);
    fn sluice_cy_create(
        container: &web_sys::HtmlElement,
        label_field: &str,
        big: bool,
        on_tap: &JsValue,
    ) -> Handle;
    fn sluice_cy_patch(h: &Handle, patch_json: &str, positions_json: &str) -> u32;
    fn sluice_cy_layout(h: &Handle, name: &str, positions_json: &str, on_done: &JsValue);
    fn sluice_cy_fit(h: &Handle);
    fn sluice_cy_zoom(h: &Handle, factor: f64);
    fn sluice_cy_labels(h: &Handle, field: &str);
    fn sluice_cy_select(h: &Handle, id: &str);
    fn sluice_cy_positions(h: &Handle) -> String;
    fn sluice_cy_png(h: &Handle, done: &JsValue);
    fn sluice_cy_destroy(h: &Handle);
    fn sluice_download(name: &str, mime: &str, text: &str);
    fn sluice_download_url(name: &str, url: &str);
}

/// Loads the vendored scripts once (later calls reuse the same load), then calls `done`
/// with `Ok(())` or the reason it failed.
pub fn load(done: impl FnOnce(Result<(), String>) + 'static) {
    let cb = Closure::once_into_js(move |err: String| {
        done(if err.is_empty() { Ok(()) } else { Err(err) })
    });
    sluice_cy_load(&cb);
}

/// One cytoscape instance in a container Leptos never re-renders.
pub struct Cytoscape {
    handle: Handle,
}

impl Cytoscape {
    /// Creates the instance. `big` trades detail while panning for speed; `on_tap` gets the
    /// id of the tapped node or edge, or `None` for the background.
    pub fn new(
        container: &web_sys::HtmlElement,
        label_field: Option<&str>,
        big: bool,
        on_tap: impl Fn(Option<String>) + 'static,
    ) -> Self {
        let cb = Closure::<dyn Fn(String)>::new(move |id: String| {
            on_tap(Some(id).filter(|i| !i.is_empty()))
        })
        .into_js_value();
        Self {
            handle: sluice_cy_create(container, label_field.unwrap_or(""), big, &cb),
        }
    }

    /// Applies a [`super::elements::Patch`] (as JSON); returns how many nodes were added.
    /// `positions_json` (may be empty): [`super::elements::Placed`] records for the added
    /// nodes, which then need no layout run.
    pub fn patch(&self, patch_json: &str, positions_json: &str) -> u32 {
        sluice_cy_patch(&self.handle, patch_json, positions_json)
    }

    /// Runs a layout by cytoscape name ("dagre", "breadthfirst", "cose", or "preset" with
    /// `positions_json`), then calls `on_done`.
    pub fn layout(&self, name: &str, positions_json: &str, on_done: impl FnOnce() + 'static) {
        let cb = Closure::once_into_js(on_done);
        sluice_cy_layout(&self.handle, name, positions_json, &cb);
    }

    pub fn fit(&self) {
        sluice_cy_fit(&self.handle);
    }

    pub fn zoom_by(&self, factor: f64) {
        sluice_cy_zoom(&self.handle, factor);
    }

    pub fn set_label_field(&self, field: Option<&str>) {
        sluice_cy_labels(&self.handle, field.unwrap_or(""));
    }

    pub fn select(&self, id: Option<&str>) {
        sluice_cy_select(&self.handle, id.unwrap_or(""));
    }

    /// Every node's centre and size (app boxes: their bounding box) as JSON
    /// [`super::elements::Placed`] records.
    pub fn positions_json(&self) -> String {
        sluice_cy_positions(&self.handle)
    }

    /// The whole graph as a PNG data URL, given to `done` (large graphs compose the edge
    /// layer under the nodes first, which waits for an image to decode).
    pub fn png(&self, done: impl FnOnce(String) + 'static) {
        sluice_cy_png(&self.handle, &Closure::once_into_js(done));
    }

    pub fn destroy(self) {
        sluice_cy_destroy(&self.handle);
    }
}

/// Offers `text` as a file download.
pub fn download_text(name: &str, mime: &str, text: &str) {
    sluice_download(name, mime, text);
}

/// Offers a data URL (e.g. the PNG) as a file download.
pub fn download_url(name: &str, url: &str) {
    sluice_download_url(name, url);
}
