// mmapwatch report: draws the page from the JSON block #mmapwatch-data.
// Everything in that block came from a traced program (thread names, call
// sites, strings found in its memory): it goes into the page as text only
// (textContent, SVG <title>), never as markup. No network, no libraries.
'use strict';
(function () {
  const started = performance.now();
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function bytes(n) {
    if (n === null || n === undefined || n < 0) return '?';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0, v = n;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? n + ' B' : v.toFixed(1) + ' ' + units[u];
  }
  function secs(t) {
    if (t === null || t === undefined) return '';
    return t < 10 ? t.toFixed(3) + ' s' : t.toFixed(1) + ' s';
  }
  // A stable color per name, so a call site keeps its color when switching.
  function color(name, i) {
    if (name === 'other') return '#bbb';
    let h = 0;
    for (let k = 0; k < name.length; k++) h = (h * 31 + name.charCodeAt(k)) >>> 0;
    return 'hsl(' + ((h + i * 47) % 360) + ',55%,' + (55 + (h % 3) * 7) + '%)';
  }
  function cell(row, text, cls, bytesValue) {
    const td = el('td', text, cls);
    if (bytesValue !== undefined) {
      td.dataset.bytes = String(bytesValue);
      td.title = bytesValue + ' bytes';
    }
    row.appendChild(td);
    return td;
  }
  function headRow(table, names) {
    const tr = el('tr');
    for (const n of names) tr.appendChild(el('th', n[0], n[1]));
    table.appendChild(tr);
  }
  function toggle(onButton, offButton) {
    onButton.classList.add('on');
    offButton.classList.remove('on');
  }

  const data = JSON.parse($('mmapwatch-data').textContent);

  // ---- timeline ---------------------------------------------------------
  const W = 1000, H = 260, PAD_L = 70, PAD_B = 20, PAD_T = 10;
  function drawTimeline(bands) {
    const box = $('timeline');
    box.textContent = '';
    const times = data.times, n = times.length;
    const span = data.duration > 0 ? data.duration : 1;
    let top = 1;
    for (let p = 0; p < n; p++) top = Math.max(top, data.total_mapped[p], data.total_resident[p]);
    const x = (t) => PAD_L + (W - PAD_L - 5) * (t / span);
    const y = (b) => PAD_T + (H - PAD_T - PAD_B) * (1 - b / top);
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    s.appendChild(svg('title', {})).textContent = 'bytes mapped over time';
    // axes and scale
    for (let k = 0; k <= 4; k++) {
      const b = top * k / 4;
      s.appendChild(svg('line', { x1: PAD_L, x2: W - 5, y1: y(b), y2: y(b), stroke: '#eee' }));
      const t = s.appendChild(svg('text', { x: PAD_L - 4, y: y(b) + 4, 'text-anchor': 'end', 'font-size': 11 }));
      t.textContent = bytes(Math.round(b));
    }
    for (let k = 0; k <= 5; k++) {
      const anchor = k === 0 ? 'start' : k === 5 ? 'end' : 'middle';
      const t = s.appendChild(svg('text', { x: x(span * k / 5), y: H - 5, 'text-anchor': anchor, 'font-size': 11 }));
      t.textContent = secs(span * k / 5);
    }
    // stacked bands, first band at the bottom
    const base = new Array(n).fill(0);
    bands.forEach((band, i) => {
      const upper = band.mapped.map((v, p) => base[p] + v);
      let d = '';
      for (let p = 0; p < n; p++) d += (p ? 'L' : 'M') + x(times[p]).toFixed(1) + ',' + y(upper[p]).toFixed(1);
      for (let p = n - 1; p >= 0; p--) d += 'L' + x(times[p]).toFixed(1) + ',' + y(base[p]).toFixed(1);
      const path = s.appendChild(svg('path', { d: d + 'Z', fill: color(band.name, i), 'fill-opacity': 0.85 }));
      path.appendChild(svg('title', {})).textContent = band.name;
      for (let p = 0; p < n; p++) base[p] = upper[p];
    });
    let line = '';
    for (let p = 0; p < n; p++) line += (p ? 'L' : 'M') + x(times[p]).toFixed(1) + ',' + y(data.total_resident[p]).toFixed(1);
    s.appendChild(svg('path', { d: line, fill: 'none', stroke: '#222', 'stroke-width': 1.5 }));
    // markers: threshold, oom, exec, exit, detach
    const markColor = { threshold: '#d80', oom: '#c00', exec: '#06c', exit: '#555', detach: '#555', attach: '#090' };
    for (const m of data.markers) {
      const g = s.appendChild(svg('g', { class: 'marker' }));
      g.appendChild(svg('line', { x1: x(m.t), x2: x(m.t), y1: PAD_T, y2: H - PAD_B, stroke: markColor[m.kind] || '#888', 'stroke-dasharray': '4 3' }));
      g.appendChild(svg('title', {})).textContent = secs(m.t) + ' ' + m.kind + ': ' + m.text;
    }
    // hover: the values at the nearest sample
    const tip = $('timeline-tip');
    s.addEventListener('mousemove', (ev) => {
      const r = s.getBoundingClientRect();
      const t = ((ev.clientX - r.left) * W / r.width - PAD_L) / (W - PAD_L - 5) * span;
      let p = 0;
      while (p < n - 1 && times[p + 1] <= t) p++;
      let text = 'at ' + secs(times[p]) + ': ' + bytes(data.total_mapped[p]) + ' mapped, ' + bytes(data.total_resident[p]) + ' resident (at dumps)';
      for (const band of bands) if (band.mapped[p] > 0) text += '\n  ' + bytes(band.mapped[p]) + '  ' + band.name;
      tip.textContent = text;
    });
    box.appendChild(s);
    // legend: one row per band, with its peak
    const legend = $('legend');
    legend.textContent = '';
    headRow(legend, [['', ''], ['peak in band', 'num'], ['at the last event', 'num']]);
    bands.forEach((band, i) => {
      const tr = el('tr', null, 'band');
      const name = cell(tr, '', 'name');
      const sw = el('span', null, 'swatch');
      sw.style.background = color(band.name, i);
      name.appendChild(sw);
      name.appendChild(document.createTextNode(band.name));
      const peak = Math.max(...band.mapped);
      cell(tr, bytes(peak), 'num', peak);
      cell(tr, bytes(band.mapped[n - 1]), 'num', band.mapped[n - 1]);
      legend.appendChild(tr);
    });
  }

  function drawMarkers() {
    const t = $('markers');
    if (!data.markers.length) { t.appendChild(el('tr')).appendChild(el('td', 'none')); return; }
    headRow(t, [['time', 'num'], ['event', ''], ['', '']]);
    const SHOWN = 100;
    for (const m of data.markers.slice(0, SHOWN)) {
      const tr = el('tr');
      cell(tr, secs(m.t), 'num');
      cell(tr, m.kind);
      cell(tr, m.text, 'name');
      t.appendChild(tr);
    }
    if (data.markers.length > SHOWN) {
      const tr = el('tr');
      cell(tr, '');
      cell(tr, 'and ' + (data.markers.length - SHOWN) + ' more (marked on the timeline)', 'name').colSpan = 2;
      t.appendChild(tr);
    }
  }

  // ---- flame graph (icicle) ----------------------------------------------
  function buildTree(key) {
    const root = { name: 'all', value: 0, children: new Map(), parent: null };
    for (const s of data.stacks) {
      const v = s[key];
      if (!v) continue;
      root.value += v;
      let node = root;
      for (const f of s.f) {
        const name = data.frames[f];
        let child = node.children.get(name);
        if (!child) {
          child = { name: name, value: 0, children: new Map(), parent: node };
          node.children.set(name, child);
        }
        child.value += v;
        node = child;
      }
    }
    return root;
  }
  // Native frames are "function (module)"; JIT-compiled and interpreted
  // Java frames have no module, and their names hold dots or slashes.
  function frameColor(name) {
    if (name === 'all') return '#ccc';
    if (name.startsWith('[') || name.startsWith('(')) return '#ddd';
    if (!/ \([^()]*\)$/.test(name)) return /[./]/.test(name) ? 'hsl(120,45%,65%)' : 'hsl(200,45%,70%)';
    if (/\(lib(jvm|c|pthread|stdc\+\+)[^()]*\)$/.test(name)) return 'hsl(40,70%,70%)';
    return 'hsl(15,70%,68%)';
  }
  let flameKey = 'held', zoom = null;
  function drawFlame() {
    const box = $('flame');
    box.textContent = '';
    const root = buildTree(flameKey);
    const ROW = 18;
    let depth = 0;
    (function walk(n, d) { depth = Math.max(depth, d); for (const c of n.children.values()) walk(c, d + 1); })(root, 0);
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + ((depth + 1) * ROW + 2) });
    if (root.value === 0) {
      const t = s.appendChild(svg('text', { x: 10, y: 14 }));
      t.textContent = flameKey === 'held' ? 'no bytes held at the end' : 'no regions';
      box.appendChild(s);
      return;
    }
    // find the zoomed node again in the new tree by its path
    const path = [];
    for (let n = zoom; n && n.parent; n = n.parent) path.unshift(n.name);
    let focus = root;
    for (const name of path) { const c = focus.children.get(name); if (!c) break; focus = c; }
    const tip = $('flame-tip');
    function rect(n, d, x0, w) {
      if (w < 0.3) return;
      const g = s.appendChild(svg('g', {}));
      const r = g.appendChild(svg('rect', { x: x0, y: d * ROW, width: Math.max(w, 0.5), height: ROW - 1, fill: frameColor(n.name) }));
      const share = (100 * n.value / root.value).toFixed(1) + '%';
      g.appendChild(svg('title', {})).textContent = n.name + '\n' + bytes(n.value) + ' (' + share + ')';
      if (w > 40) {
        const t = g.appendChild(svg('text', { x: x0 + 3, y: d * ROW + 13 }));
        const room = Math.floor((w - 6) / 6.5);
        t.textContent = n.name.length > room ? n.name.slice(0, Math.max(room - 1, 1)) + '…' : n.name;
      }
      r.addEventListener('click', () => { zoom = n === focus ? (n.parent || root) : n; drawFlame(); });
      r.addEventListener('mouseover', () => { tip.textContent = n.name + ': ' + bytes(n.value) + ' (' + share + ' of ' + bytes(root.value) + ')'; });
    }
    // ancestors of the focus span the width; its subtree is scaled to it
    const chain = [];
    for (let n = focus; n; n = n.parent) chain.unshift(n);
    chain.forEach((n, d) => { if (n !== focus) rect(n, d, 0, W); });
    (function layout(n, d, x0, w) {
      rect(n, d, x0, w);
      let x = x0;
      const kids = [...n.children.values()].sort((a, b) => b.value - a.value);
      for (const c of kids) { const cw = w * c.value / n.value; layout(c, d + 1, x, cw); x += cw; }
    })(focus, chain.length - 1, 0, W);
    box.appendChild(s);
  }

  function drawSites() {
    const t = $('sites');
    headRow(t, [['call site', ''], ['regions', 'num'], ['ever mapped', 'num'], ['peak', 'num'], ['held at the end', 'num']]);
    for (const g of data.sites) {
      const tr = el('tr');
      tr.className = 'site';
      cell(tr, g.name, 'name');
      cell(tr, g.count, 'num');
      cell(tr, bytes(g.ever), 'num', g.ever);
      cell(tr, bytes(g.peak), 'num', g.peak);
      cell(tr, bytes(g.held), 'num', g.held);
      t.appendChild(tr);
    }
  }

  // ---- regions -------------------------------------------------------------
  function drawRegions() {
    const t = $('regions');
    $('regions-note').textContent = data.regions.length < data.nregions
      ? 'the ' + data.regions.length + ' largest of ' + data.nregions + ' regions'
      : data.nregions + ' regions';
    headRow(t, [['thread', ''], ['call site', ''], ['size', 'num'], ['resident at dump', 'num'], ['mapped at', 'num'],
      ['life', 'num'], ['ended by', ''], ['dump', ''], ['top strings', '']]);
    for (const r of data.regions) {
      const tr = el('tr');
      tr.className = 'region';
      cell(tr, r.comm + ' (' + r.tid + ')', 'name');
      cell(tr, data.sites[r.site] ? data.sites[r.site].name : '?', 'name');
      const size = cell(tr, bytes(r.ever), 'num', r.ever);
      size.title = r.addr + ', ' + r.ever + ' bytes mapped in all, ' + r.held + ' held at the end';
      cell(tr, r.resident < 0 ? 'not dumped' : bytes(r.resident), 'num', r.resident);
      cell(tr, secs(r.born), 'num');
      cell(tr, r.ended === null ? 'to the end' : secs(r.ended - r.born), 'num');
      cell(tr, r.end === null ? 'still mapped' : r.end);
      const d = cell(tr, '');
      if (r.dump) {
        // Only file: links built by mmapwatch; any other scheme is shown as text.
        if (r.href && r.href.startsWith('file:///')) {
          const a = el('a', r.dump);
          a.href = r.href;
          d.appendChild(a);
        } else {
          d.textContent = r.dump;
        }
        if (r.dumps > 1) d.appendChild(document.createTextNode(' (' + r.dumps + ' dumps)'));
      }
      const st = cell(tr, '', 'strings');
      r.strings.slice(0, 5).forEach((s, k) => {
        if (k) st.appendChild(el('br'));
        st.appendChild(document.createTextNode(s[1] + '× ' + s[0]));
      });
      t.appendChild(tr);
    }
  }

  try {
    const bySite = $('by-site'), byThread = $('by-thread');
    bySite.addEventListener('click', () => { toggle(bySite, byThread); drawTimeline(data.by_site); });
    byThread.addEventListener('click', () => { toggle(byThread, bySite); drawTimeline(data.by_thread); });
    const held = $('flame-held'), ever = $('flame-ever');
    held.addEventListener('click', () => { toggle(held, ever); flameKey = 'held'; zoom = null; drawFlame(); });
    ever.addEventListener('click', () => { toggle(ever, held); flameKey = 'ever'; zoom = null; drawFlame(); });
    // A link can choose the views: report.html#threads,ever
    const wanted = location.hash.slice(1).split(',');
    if (wanted.includes('threads')) toggle(byThread, bySite);
    if (wanted.includes('ever')) { toggle(ever, held); flameKey = 'ever'; }
    drawTimeline(wanted.includes('threads') ? data.by_thread : data.by_site);
    drawMarkers();
    drawFlame();
    drawSites();
    drawRegions();
    $('status').textContent = 'rendered';
    $('render-time').textContent = 'in ' + (performance.now() - started).toFixed(0) + ' ms (script), ' +
      performance.now().toFixed(0) + ' ms since the page was opened';
  } catch (e) {
    $('error').hidden = false;
    $('error').textContent = 'This page could not be drawn: ' + e;
    $('status').textContent = 'failed';
  }
})();
