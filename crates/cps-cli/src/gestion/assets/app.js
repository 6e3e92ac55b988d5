// cps gestion: the page's behaviour. No framework, no external asset; every value read from
// the card is put into the page as text (textContent), never as HTML.
'use strict';

const S = JSON.parse(document.getElementById('strings').textContent);
const LANG = document.documentElement.lang;

function t(key, vars) {
  let s = S[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
  return s;
}

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function day(secs) {
  return new Date(secs * 1000).toLocaleDateString(LANG, { timeZone: 'UTC' });
}

let failures = 0;

async function api(path, body) {
  const init = { cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers = { 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch('api/' + path, init);
  } catch (e) {
    failures += 1;
    if (failures > 3) $('closed').hidden = false;
    throw e;
  }
  failures = 0;
  $('closed').hidden = true;
  return r.json();
}

function say(target, text, ok) {
  const p = $(target);
  p.textContent = text;
  p.className = ok ? 'ok' : 'error';
}

function errorText(e) {
  if (e.kind === 'wrong_pin') return t('wrong_pin', { n: e.tries_left });
  if (e.kind === 'blocked') return t('now_blocked');
  if (e.kind === 'no_card') return t('no_card');
  return t('error') + ' : ' + e.message;
}

function triesText(p) {
  if (!p) return '';
  if (p.state === 'verified') return t('verified');
  if (p.state === 'blocked') return t('blocked');
  return t('tries_left', { n: p.tries_left });
}

// ----- Card -----

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function timeline(c, today) {
  const start = Math.min(c.not_before, today);
  const end = Math.max(c.not_after, today);
  const span = Math.max(end - start, 1);
  const x = (s) => 10 + 980 * (s - start) / span;
  const g = svg('svg', { class: 'timeline', viewBox: '0 0 1000 60', preserveAspectRatio: 'none', role: 'img' });
  g.appendChild(svg('rect', { class: 'life', x: x(c.not_before), y: 18, width: Math.max(x(c.renewal_from) - x(c.not_before), 0), height: 14 }));
  g.appendChild(svg('rect', { class: 'renewal', x: x(c.renewal_from), y: 18, width: Math.max(x(c.not_after) - x(c.renewal_from), 0), height: 14 }));
  g.appendChild(svg('line', { class: 'today', x1: x(today), x2: x(today), y1: 8, y2: 42 }));
  g.appendChild(svg('text', { x: x(c.not_before), y: 54 }, t('timeline_issued') + ' ' + day(c.not_before)));
  g.appendChild(svg('text', { x: x(c.renewal_from), y: 12, 'text-anchor': 'middle' }, t('timeline_renewal') + ' ' + day(c.renewal_from)));
  g.appendChild(svg('text', { x: x(c.not_after), y: 54, 'text-anchor': 'end' }, t('timeline_expiry') + ' ' + day(c.not_after)));
  g.appendChild(svg('text', { x: x(today) + 3, y: 42, class: 'today-label' }, t('timeline_today')));
  return g;
}

function verdict(c) {
  const s = c.renewal.state;
  if (s === 'valid') return t('valid_until', { date: day(c.not_after) });
  if (s === 'renewal_due') return t('renewal_due', { date: day(c.not_after) });
  if (s === 'expired') return t('expired', { date: day(c.not_after) });
  if (s === 'not_yet_valid') return t('not_yet_valid', { date: day(c.not_before) });
  return s;
}

function fact(dl, key, value) {
  if (value === null || value === undefined || value === '') return;
  dl.appendChild(el('dt', t(key)));
  dl.appendChild(el('dd', value));
}

let pinState = null;

async function loadCard() {
  $('status').textContent = t('loading');
  const r = await api('card');
  const facts = $('card-facts');
  const certs = $('certs');
  facts.replaceChildren();
  certs.replaceChildren();
  if (r.error) {
    $('status').textContent = errorText(r.error);
    return;
  }
  $('status').textContent = '';
  $('simulated').hidden = !r.simulated;
  if (r.simulated) $('simulated').title = r.simulated;
  fact(facts, 'generation', r.generation);
  fact(facts, 'family', r.family);
  fact(facts, 'serial', r.serial);
  fact(facts, 'holder', r.holder);
  fact(facts, 'national_id', r.national_id);
  fact(facts, 'profession', r.profession);
  fact(facts, 'speciality', r.speciality);
  fact(facts, 'pin_state', triesText(r.pin));
  pinState = { pin: r.pin, puk: r.puk };
  showTries();
  $('test-pki').hidden = !r.certificates.some((c) => c.test_pki);
  for (const c of r.certificates) {
    const box = el('div', null, 'cert');
    const usage = S['usage_' + c.usage] || c.usage;
    box.appendChild(el('h3', c.label + ' (' + usage + ')'));
    box.appendChild(el('p', verdict(c), 'verdict ' + c.renewal.state));
    box.appendChild(timeline(c, r.today));
    certs.appendChild(box);
  }
}

$('situations-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const pin = f.pin.value;
  f.reset();
  if (!/^[0-9]{4,8}$/.test(pin)) { say('situations-msg', t('pin_format')); return; }
  const r = await api('situations', { pin });
  const table = $('situations');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  if (r.error) { say('situations-msg', errorText(r.error)); table.hidden = true; refreshPin(); return; }
  say('situations-msg', '', true);
  for (const s of r.situations) {
    const tr = el('tr');
    for (const v of [s.structure_name, s.practice_mode, s.activity_sector, s.city]) tr.appendChild(el('td', v || '-'));
    body.appendChild(tr);
  }
  table.hidden = false;
});

// ----- PIN -----

function showTries() {
  if (!pinState) return;
  $('pin-tries').textContent = triesText(pinState.pin);
  $('puk-tries').textContent = triesText(pinState.puk);
}

async function refreshPin() {
  const r = await api('pin');
  if (!r.error) { pinState = r; showTries(); }
}

function pinForm(id, first, path, done) {
  $(id).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const secret = f[first].value;
    const neu = f.new_pin.value;
    const again = f.new_pin2.value;
    f.reset();
    if (neu !== again) { say('pin-msg', t('pins_differ')); return; }
    const digits = first === 'puk' ? /^[0-9]{4,16}$/ : /^[0-9]{4,8}$/;
    if (!digits.test(secret) || !/^[0-9]{4,8}$/.test(neu)) { say('pin-msg', t('pin_format')); return; }
    const body = { new_pin: neu };
    body[first] = secret;
    const r = await api(path, body);
    if (r.error) say('pin-msg', errorText(r.error)); else say('pin-msg', t(done), true);
    await refreshPin();
  });
}
pinForm('change-form', 'pin', 'pin/change', 'pin_changed');
pinForm('unblock-form', 'puk', 'pin/unblock', 'pin_unblocked');

// ----- Update -----

let updatePolling = false;

function showUpdate(u) {
  if (!u || u.state === 'idle') return;
  const bar = $('update-progress');
  bar.max = Math.max(u.total, 1);
  bar.value = Math.min(u.done, bar.max);
  $('update-what').textContent = u.what ? u.done + '/' + u.total + ' ' + u.what : '';
  if (u.state === 'running') say('update-msg', t('update_running'), true);
  else if (u.state === 'up_to_date') say('update-msg', t('up_to_date', { seq: u.sequence }), true);
  else if (u.state === 'updated') say('update-msg', t('updated', { steps: u.steps, seq: u.sequence }), true);
  else if (u.state === 'failed') say('update-msg', errorText(u.error));
}

async function pollUpdate() {
  if (updatePolling) return;
  updatePolling = true;
  try {
    for (;;) {
      const u = await api('update');
      showUpdate(u);
      if (u.state !== 'running') break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
  } finally {
    updatePolling = false;
  }
}

$('update-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const r = await api('update/start', { server: ev.target.server.value });
  if (r.error) { say('update-msg', errorText(r.error)); return; }
  await pollUpdate();
  loadCard();
});

// ----- FIDO2 -----

async function loadFido2() {
  // A list shown for another card (or another PIN) must not stay clickable.
  $('creds').replaceChildren();
  const r = await api('fido2');
  $('enroll-form').hidden = true;
  $('creds-form').hidden = true;
  if (r.error) { $('fido2-state').textContent = errorText(r.error); return; }
  if (!r.present) { $('fido2-state').textContent = t('fido2_absent'); return; }
  if (r.enrolled) {
    $('fido2-state').textContent = t('fido2_enrolled', { n: r.pin_retries });
    $('creds-form').hidden = false;
  } else {
    $('fido2-state').textContent = t('fido2_blank');
    $('enroll-form').hidden = false;
  }
}

$('enroll-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const neu = f.new_pin.value;
  const again = f.new_pin2.value;
  f.reset();
  if (neu !== again) { say('fido2-msg', t('pins_differ')); return; }
  const r = await api('fido2/enroll', { new_pin: neu });
  if (r.error) say('fido2-msg', errorText(r.error)); else say('fido2-msg', t('enrolled_ok'), true);
  loadFido2();
});

async function listCredentials(pin) {
  const r = await api('fido2/credentials', { pin });
  const ul = $('creds');
  ul.replaceChildren();
  if (r.error) { say('fido2-msg', errorText(r.error)); loadFido2(); return; }
  if (r.credentials.length === 0) ul.appendChild(el('li', t('no_credentials')));
  for (const c of r.credentials) {
    const li = el('li', c.rp + ' — ' + (c.user || '-') + ' ');
    const b = el('button', t('delete'));
    b.type = 'button';
    b.addEventListener('click', async () => {
      const d = await api('fido2/delete', { pin, id: c.id });
      if (d.error) {
        // Never send that PIN again: the list goes, a new listing asks for the PIN.
        say('fido2-msg', errorText(d.error));
        ul.replaceChildren();
        return;
      }
      say('fido2-msg', t('deleted'), true);
      listCredentials(pin);
    });
    li.appendChild(b);
    ul.appendChild(li);
  }
}

$('creds-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pin = ev.target.pin.value;
  ev.target.reset();
  listCredentials(pin);
});

$('reset-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const word = ev.target.confirm.value.trim();
  ev.target.reset();
  if (word !== t('reset_word')) { say('fido2-msg', t('reset_confirm')); return; }
  const r = await api('fido2/reset', { confirm: true });
  if (r.error) say('fido2-msg', errorText(r.error)); else say('fido2-msg', t('reset_done'), true);
  $('creds').replaceChildren();
  loadFido2();
});

// ----- Tabs, card presence -----

const PAGES = ['card', 'pin', 'update', 'fido2'];

function route() {
  const name = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'card';
  for (const p of PAGES) {
    $('page-' + p).hidden = p !== name;
    $('tab-' + p).className = p === name ? 'active' : '';
  }
  document.body.dataset.page = name;
  if (name === 'fido2') loadFido2();
  if (name === 'pin') refreshPin();
  if (name === 'update') api('update').then(showUpdate);
}

let epoch = null;

async function poll() {
  try {
    const s = await api('status');
    if (!s.present) {
      $('status').textContent = t('no_card');
      $('card-facts').replaceChildren();
      $('certs').replaceChildren();
      $('creds').replaceChildren();
      document.body.dataset.card = 'absent';
    } else if (s.epoch !== epoch) {
      document.body.dataset.card = 'present';
      await loadCard();
      route();
    }
    epoch = s.present ? s.epoch : null;
    if (s.update_running) pollUpdate();
  } catch (e) {
    // shown by api() after a few failures
  }
  setTimeout(poll, 500);
}

window.addEventListener('hashchange', route);
route();
poll();
