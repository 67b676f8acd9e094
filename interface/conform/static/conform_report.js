// The conformance report page (interface/conform/report_html.py embeds this inline; no network).
const D = JSON.parse(document.getElementById('report-data').textContent);
const S = D.summary, IMG = D.images;
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === 'class') e.className = v; else if (k === 'style') e.style.cssText = v; else e.setAttribute(k, v); }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k))); return e; };
const backends = S.backends.map(b => b.name);
const byCase = new Map(D.cases.map(c => [c.id, c]));
const fmt = v => v === null || v === undefined ? '\u2013' : (typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(4)) : String(v));

function badge(status, n) { return el('span', {class: 'badge', style: 'background:' + D.colours[status], title: D.descriptions[status]}, status + (n === undefined ? '' : ': ' + n)); }

function summary() {
  const s = document.getElementById('summary');
  s.append(el('div', {}, 'Reference: ' + S.reference.name + ' (' + (S.reference.version || '?') + ')'));
  s.append(el('div', {}, 'Backends: ' + (S.backends.length ? S.backends.map(b => b.name + ' (' + (b.version || '?') + ')').join(', ') : 'none besides the reference')));
  s.append(el('div', {}, S.files + ' files, ' + S.cases + ' cases, ' + S.results + ' compared results, ' + S.reference_errors + ' reference errors; ' + S.executor + ', ' + S.duration_s + ' s; started ' + S.started_at));
  const counts = el('div', {id: 'counts'});
  for (const st of D.statuses) { const b = badge(st, S.counts[st]); b.dataset.status = st; b.classList.add('count'); counts.append(b); }
  s.append(counts);
  const reg = S.registry;
  s.append(el('div', {}, 'Registry: ' + reg.entries + ' entries, used: ' + (Object.keys(reg.used).join(', ') || 'none') + (reg.full_run ? '; stale: ' + (reg.stale.join(', ') || 'none') : '; unmatched in this partial run: ' + (reg.unmatched.join(', ') || 'none'))));
  for (const n of S.notes) s.append(el('div', {class: 'note'}, 'Note: ' + n));
}

function filters() {
  const f = document.getElementById('filters');
  const group = (name, values, label) => { const fs = el('fieldset', {id: 'filter-' + name}, el('legend', {}, label));
    for (const v of values) { const cb = el('input', {type: 'checkbox', value: v, 'data-filter': name}); cb.checked = true; cb.addEventListener('change', apply); fs.append(el('label', {}, cb, ' ' + v + ' ')); } f.append(fs); };
  group('status', D.statuses, 'Status');
  group('backend', backends, 'Backend');
  group('profile', S.profiles.filter(p => D.cases.some(c => c.profile === p)), 'Profile');
  f.append(el('span', {id: 'shown'}));
}

function checked(name) { return new Set([...document.querySelectorAll('input[data-filter="' + name + '"]')].filter(c => c.checked).map(c => c.value)); }

function apply() {
  const st = checked('status'), be = checked('backend'), pr = checked('profile');
  let shown = 0;
  for (const sec of document.querySelectorAll('section.profile')) {
    const showSec = pr.has(sec.dataset.profile); let rows = 0;
    for (const th of sec.querySelectorAll('[data-col]')) th.classList.toggle('hidden', !be.has(th.dataset.col));
    for (const tr of sec.querySelectorAll('tr.case')) {
      let any = false;
      for (const td of tr.querySelectorAll('td.cell')) { const vis = be.has(td.dataset.backend); td.classList.toggle('hidden', !vis); if (vis && st.has(td.dataset.status)) any = true; }
      const ok = showSec && (any || (be.size === 0 || !tr.querySelector('td.cell')) && st.has('reference_error') && tr.dataset.ref === 'error');
      tr.classList.toggle('hidden', !ok); if (ok) { rows++; shown += [...tr.querySelectorAll('td.cell')].filter(td => !td.classList.contains('hidden') && st.has(td.dataset.status)).length; }
    }
    sec.classList.toggle('hidden', !showSec || rows === 0);
  }
  document.getElementById('shown').textContent = 'Showing ' + shown + ' of ' + S.results + ' results';
  for (const d of document.querySelectorAll('#attention-list > .detail')) {
    const c = byCase.get(d.dataset.case);
    d.classList.toggle('hidden', !(pr.has(c.profile) && c.results.some(r => be.has(r.backend) && st.has(r.status))));
  }
}

function matrix() {
  const m = document.getElementById('matrix');
  const profiles = S.profiles.filter(p => D.cases.some(c => c.profile === p));
  for (const p of profiles) {
    const sec = el('section', {class: 'profile', 'data-profile': p}, el('h2', {}, 'Profile ' + p));
    const head = el('tr', {}, el('th', {}, 'file'), el('th', {}, 'reference'), ...backends.map(b => el('th', {'data-col': b}, b)));
    const tb = el('tbody');
    for (const c of D.cases.filter(c => c.profile === p)) {
      const tr = el('tr', {class: 'case', 'data-case': c.id, 'data-ref': c.ref.ok ? 'ok' : 'error'}, el('td', {class: 'file', title: c.input}, c.file));
      tr.append(el('td', {class: 'ref', style: c.ref.ok ? '' : 'background:' + D.colours.reference_error + ';color:#fff', title: c.ref.ok ? 'rendered' : (c.ref.error || {}).code}, c.ref.ok ? 'ok' : (c.ref.error || {}).code || 'error'));
      for (const b of backends) {
        const r = c.results.find(r => r.backend === b);
        if (!r) { tr.append(el('td', {'data-col': b}, '')); continue; }
        const td = el('td', {class: 'cell status-' + r.status, 'data-status': r.status, 'data-backend': b, 'data-case': c.id, style: 'background:' + D.colours[r.status],
          title: b + ': ' + r.status + (r.metrics ? ' (max ' + fmt(r.metrics.max_abs_diff) + ')' : '') + (r.error ? ' ' + r.error.code : '')}, D.symbols[r.status]);
        td.addEventListener('click', () => show(c.id, td)); tr.append(td);
      }
      tb.append(tr);
    }
    sec.append(el('table', {class: 'matrix'}, el('thead', {}, head), tb)); m.append(sec);
  }
}

function image(key, label) { return el('div', {class: 'render'}, key ? el('img', {src: IMG[key], alt: label}) : el('div', {class: 'note'}, '(no image)'), el('div', {}, label)); }

function detail(c) {
  const d = el('div', {class: 'detail', 'data-case': c.id});
  d.append(el('h3', {}, c.file + ' \u2014 ' + c.profile), el('div', {class: 'note'}, c.input + '  options: ' + JSON.stringify(c.options)));
  const renders = el('div', {class: 'renders'}, c.ref.ok ? image(c.ref.img, 'reference') : el('div', {class: 'err'}, 'reference error: ' + JSON.stringify(c.ref.error)));
  for (const r of c.results) {
    renders.append(r.img ? image(r.img, r.backend + ' (' + r.status + ')') : el('div', {class: 'render'}, el('div', {class: 'err'}, r.error ? r.error.code + ': ' + r.error.message : '(identical)'), el('div', {}, r.backend + ' (' + r.status + ')')));
    if (r.diff) { const d = image(r.diff, 'diff ' + r.backend + ' vs reference');
      d.append(el('div', {class: 'note'}, 'black 0 \u2026 yellow ' + fmt((r.metrics || {}).max_abs_diff))); renders.append(d); }
  }
  d.append(renders);
  const t = el('table', {class: 'metrics'}, el('tr', {}, ...['backend', 'status', 'max', 'mean', 'rmse', 'psnr', '>1', 'shape', 'mode', 'divergence'].map(h => el('th', {}, h))));
  for (const r of c.results) { const m = r.metrics || {};
    t.append(el('tr', {}, el('td', {}, r.backend), el('td', {}, badge(r.status)), ...[m.max_abs_diff, m.mean_abs_diff, m.rmse, m.psnr, m.frac_diff_gt1, m.shape_match, m.mode_match].map(v => el('td', {}, fmt(v))),
      el('td', {style: 'text-align:left'}, r.divergence ? r.divergence.id + ': ' + r.divergence.cause + ' [' + r.divergence.source + ']' : ''))); }
  d.append(t); return d;
}

function show(id, td) {
  const tr = td.closest('tr'); const next = tr.nextElementSibling;
  const open = next && next.classList.contains('detail-row') ? next : null;
  document.querySelectorAll('td.cell.sel').forEach(x => x.classList.remove('sel'));
  if (open) { const same = open.dataset.backend === td.dataset.backend; open.remove(); if (same) return; }
  td.classList.add('sel');
  const row = el('tr', {class: 'detail-row', 'data-case': id, 'data-backend': td.dataset.backend},
    el('td', {colspan: String(tr.children.length)}, detail(byCase.get(id))));
  tr.after(row);
}

function attention() {
  const a = document.getElementById('attention-list'); const bad = D.cases.filter(c => c.results.some(r => ['mismatch', 'error', 'explained'].includes(r.status)));
  document.getElementById('attention-title').textContent = 'Cases needing attention: mismatch, error or explained (' + bad.length + ')';
  for (const c of bad.slice(0, 100)) a.append(detail(c));
  if (bad.length > 100) a.append(el('div', {class: 'note'}, (bad.length - 100) + ' more: click their cells in the matrix'));
}

// a link may preset the filters: report.html#status=mismatch,error&backend=dcmtk&profile=minmax
function fromHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  for (const name of ['status', 'backend', 'profile']) {
    if (!params.has(name)) continue;
    const wanted = new Set(params.get(name).split(','));
    document.querySelectorAll('input[data-filter="' + name + '"]').forEach(cb => { cb.checked = wanted.has(cb.value); });
  }
}

summary(); filters(); matrix(); attention(); fromHash(); apply();
window.addEventListener('hashchange', () => { fromHash(); apply(); });
document.body.dataset.ready = 'yes';
