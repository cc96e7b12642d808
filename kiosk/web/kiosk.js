// The kiosk page /kiosk/{hall}: category → service → ticket, in Chinese or English, with an
// elderly mode (large type, high contrast, spoken prompts) that still takes at most 3 taps.
//
// Taps: [我已年满60周岁 (elderly lane + elderly mode)] → category → service = the ticket.
// The ticket shows at once from the POST answer (number, people ahead, wait, status QR); the
// printed layout follows as a PNG preview. When this kiosk's printer reports a problem
// (device.status events on the hall channel) the page says so and shows the number big.
// Nothing personal is asked or kept. Query: ?idle=SECONDS (back to the start when untouched,
// default 30), ?lang=en.
//
// The priority category is never shown on the ticket screen nor spoken: the lane is chosen on
// the start screen and only travels in the issue request.

import { api, ApiError, newKey } from '/static/display/lib/api.js';
import { loadCredential, whoAmI } from '/static/display/lib/credential.js';
import { LiveHall } from '/static/display/lib/live.js';
import { TEXTS, errorText, speakNumber } from '/static/kiosk/kiosk.texts.js';

const hallId = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
const IDLE_MS = Math.max(1, Number(params.get('idle')) || 30) * 1000;
const DEFAULT_LANG = params.get('lang') === 'en' ? 'en' : 'zh';
const SENIOR_LANE = 'elderly';

const $ = (id) => document.getElementById(id);

const view = {
  lang: DEFAULT_LANG,
  senior: false, // elderly mode: large type, high contrast, voice
  lane: 'normal',
  queue: null,
  pending: null, // {body, key} of the issue in progress: a retry reuses the key
};
let hall = null;
let token = null;
let me = null;
let printer = null; // latest {online, paper, cover_open} of THIS kiosk's printer
let idleTimer = null;
let previewUrl = null;

function t(key) {
  return TEXTS[view.lang][key] ?? TEXTS.zh[key] ?? key;
}

function named(item) {
  return view.lang === 'en' ? item.name_en || item.name : item.name;
}

function show(screen) {
  for (const el of document.querySelectorAll('.k-screen')) el.hidden = el.id !== `screen-${screen}`;
  document.body.dataset.screen = screen;
}

function say(text) {
  // Shown as a caption too, so the prompt also reaches those who cannot hear it.
  const line = $('voice-line');
  line.hidden = !view.senior;
  line.textContent = text;
  if (!view.senior || !('speechSynthesis' in window)) return;
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.lang = view.lang === 'en' ? 'en-US' : 'zh-CN';
  utterance.rate = 0.85;
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(utterance);
}

function applyTexts() {
  document.documentElement.lang = view.lang === 'en' ? 'en' : 'zh-CN';
  document.body.classList.toggle('senior', view.senior);
  document.documentElement.classList.toggle('senior', view.senior);
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('lang-toggle').textContent = view.lang === 'en' ? '中文' : 'English';
  $('lang-toggle').lang = view.lang === 'en' ? 'zh-CN' : 'en';
  if (hall) {
    $('hall-name').textContent = view.lang === 'en' ? hall.name_en || hall.name : hall.name;
    document.title = `${t('title')} · ${$('hall-name').textContent}`;
    renderStart();
  }
}

// --- start: categories and priority lanes ---------------------------------------------------

function kioskLanes() {
  return hall.lanes.filter((l) => l.id !== 'normal' && l.issued_by.includes('kiosk'));
}

function renderStart() {
  const box = $('categories');
  box.replaceChildren();
  for (const queue of hall.queues) {
    const zone = hall.zones.find((z) => z.id === queue.zone);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'k-tile';
    button.dataset.queue = queue.id;
    const name = document.createElement('span');
    name.className = 'k-tile-name';
    name.textContent = named(queue);
    button.append(name);
    if (zone) {
      const where = document.createElement('span');
      where.className = 'k-tile-sub';
      where.textContent = view.lang === 'en' ? zone.name_en || zone.name : zone.location || zone.name;
      button.append(where);
    }
    button.addEventListener('click', () => openCategory(queue));
    box.append(button);
  }
  const senior = kioskLanes().some((l) => l.id === SENIOR_LANE);
  const button = $('senior-button');
  button.hidden = false;
  button.textContent = senior ? t('seniorLane') : t('seniorMode');
  button.setAttribute('aria-pressed', String(view.senior));
  button.classList.toggle('on', view.senior);
  const others = hall.lanes.filter((l) => l.id !== 'normal' && !l.issued_by.includes('kiosk'));
  $('other-priority').hidden = others.length === 0;
}

function toggleSenior() {
  const senior = kioskLanes().some((l) => l.id === SENIOR_LANE);
  view.senior = !view.senior;
  view.lane = view.senior && senior ? SENIOR_LANE : 'normal';
  applyTexts();
  say(view.senior ? t('promptCategory') : '');
}

function openCategory(queue) {
  const services = hall.services.filter((s) => s.queue === queue.id);
  if (services.length === 0) {
    issue({ queue: queue.id }); // a queue without service items: the category is the ticket
    return;
  }
  view.queue = queue;
  $('category-name').textContent = named(queue);
  const box = $('services');
  box.replaceChildren();
  for (const service of services) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'k-tile k-service';
    button.dataset.service = service.code;
    const name = document.createElement('span');
    name.className = 'k-tile-name';
    name.textContent = named(service);
    button.append(name);
    button.addEventListener('click', () => issue({ service: service.code }));
    box.append(button);
  }
  show('services');
  say(t('promptService'));
}

function openGuide() {
  const desk = hall.zones.find((z) => z.id === 'guide');
  $('guide-where').textContent = desk
    ? (view.lang === 'en' ? desk.name_en || desk.name : desk.location || desk.name)
    : '';
  show('guide');
  say(t('goGuide'));
}

// --- issuing ---------------------------------------------------------------------------------

async function issue(target) {
  if (document.body.classList.contains('busy')) return; // one ticket per tap, even if tapped twice
  const body = { ...target, lane: view.lane };
  view.pending = { body, key: newKey() };
  await sendPending();
}

async function sendPending() {
  const { body, key } = view.pending;
  document.body.classList.add('busy');
  try {
    const ticket = await api('POST', `/halls/${encodeURIComponent(hallId)}/tickets`, {
      token, body, key, retries: 2, timeoutMs: 4000,
    });
    view.pending = null;
    showTicket(ticket);
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    if (exc.code === 'lane_not_allowed') {
      view.pending = null;
      openGuide();
      return;
    }
    showError(exc);
  } finally {
    document.body.classList.remove('busy');
  }
}

function printerTrouble() {
  return Boolean(printer) &&
    (printer.online === false || printer.paper === 'out' || printer.cover_open === true);
}

function showTicket(ticket) {
  // Everything here comes from the POST answer: the number is on screen without waiting for
  // the preview, the printer or anything else.
  $('ticket-number').textContent = ticket.number;
  const service = hall.services.find((s) => s.code === ticket.service);
  const queue = hall.queues.find((q) => q.id === ticket.queue);
  $('ticket-service').textContent = named(service || queue || { name: '' });
  const ahead = ticket.waiting_ahead ?? 0;
  $('ticket-ahead').textContent = ahead > 0 ? t('ahead').replace('{n}', ahead) : t('aheadNone');
  const minutes = Math.max(1, Math.round((ticket.estimated_wait_s || 0) / 60));
  $('ticket-eta').textContent = ahead > 0 ? t('eta').replace('{m}', minutes) : '';
  $('ticket-qr').src = `/api/v1/public/tickets/${encodeURIComponent(ticket.status_token)}/qr.svg`;
  $('ticket-qr').alt = t('scan');
  markPrinter();
  show('ticket');
  say(`${t('sayNumber')}${speakNumber(ticket.number, view.lang)}${t('sayWatch')}`);
  loadPreview(ticket.id);
}

function markPrinter() {
  const warn = $('printer-warning');
  warn.hidden = !printerTrouble();
  warn.textContent = t('printerDown');
  document.body.classList.toggle('printer-down', printerTrouble());
}

async function loadPreview(ticketId) {
  const img = $('ticket-preview');
  const figure = img.closest('figure');
  figure.hidden = true;
  try {
    const response = await fetch(
      `/api/v1/tickets/${encodeURIComponent(ticketId)}/preview.png?lang=${view.lang}`,
      { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' },
    );
    if (!response.ok) return; // the number and QR are already on screen
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(await response.blob());
    img.src = previewUrl;
    figure.hidden = false;
  } catch {
    // offline: the number and QR already show; nothing to add
  }
}

function showError(exc) {
  const text = errorText(exc, view.lang);
  $('error-title').textContent = text.title;
  $('error-detail').textContent = text.detail;
  $('error-retry').hidden = !text.retry;
  document.body.dataset.error = text.kind;
  show('error');
  say(text.title);
}

// --- idle, printer, start-up -----------------------------------------------------------------

function home() {
  view.queue = null;
  view.pending = null;
  show('start');
}

function resetAll() {
  view.lang = DEFAULT_LANG;
  view.senior = false;
  view.lane = 'normal';
  if ('speechSynthesis' in window) window.speechSynthesis.cancel();
  $('voice-line').hidden = true;
  applyTexts();
  home();
}

function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(resetAll, IDLE_MS);
}

function followPrinter() {
  const live = new LiveHall({ token, hall: hallId });
  const take = (status) => {
    if (status && status.device === me.id && status.printer) {
      printer = status.printer;
      if (document.body.dataset.screen === 'ticket') markPrinter();
    }
  };
  live.addEventListener('event', (ev) => {
    if (ev.detail.name === 'device.status') take(ev.detail.data);
  });
  live.addEventListener('change', (ev) => {
    // A snapshot that carries devices (if the server adds them) gives the state at once.
    const devices = ev.detail && Array.isArray(ev.detail.devices) ? ev.detail.devices : [];
    for (const d of devices) take({ ...d, device: d.device || d.id });
  });
  live.start();
}

function fail(zh, en) {
  const el = document.querySelector('#screen-loading .k-big');
  el.textContent = zh;
  const detail = document.createElement('p');
  detail.className = 'k-detail';
  detail.lang = 'en';
  detail.textContent = en;
  el.after(detail);
  show('loading');
}

async function start() {
  const credential = loadCredential();
  if (!credential) {
    fail('本机尚未登记，请联系管理员配对。', 'This kiosk is not paired yet; ask the administrator.');
    return;
  }
  token = credential.token;
  try {
    me = await whoAmI(token);
    hall = await api('GET', `/halls/${encodeURIComponent(hallId)}`, { token });
  } catch (exc) {
    fail('无法连接服务器，请稍后再试。', `Cannot reach the server: ${exc.message}`);
    setTimeout(() => location.reload(), 10000);
    return;
  }
  $('lang-toggle').addEventListener('click', () => {
    view.lang = view.lang === 'en' ? 'zh' : 'en';
    applyTexts();
  });
  $('senior-button').addEventListener('click', toggleSenior);
  $('other-priority').addEventListener('click', openGuide);
  $('error-retry').addEventListener('click', () => (view.pending ? sendPending() : home()));
  for (const el of document.querySelectorAll('[data-action="home"]')) {
    el.addEventListener('click', home);
  }
  for (const kind of ['pointerdown', 'keydown']) document.addEventListener(kind, touched, true);
  applyTexts();
  home();
  touched();
  followPrinter();
}

start();
