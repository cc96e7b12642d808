// The staff window terminal (/terminal): a browser client of the contract only.
//
// Sign-in (terminal.signin.js) yields a window; the desk follows the hall live (LiveHall) and
// sends window commands over HTTP. Every press makes ONE Idempotency-Key, reused on that press's
// retries, and all commands are disabled while one is in flight, so a double-pressed or held
// key never calls two tickets.

import { api, ApiError, newKey } from './lib/api.js';
import { staleBanner } from './lib/banner.js';
import { LiveHall } from './lib/live.js';
import { openPicker, pickerOpen } from './terminal.picker.js';
import { WINDOW_STATUS, endStaffSession, messageOf, show, signIn } from './terminal.signin.js';

// After a command's reply the page trusts the reply until the live state shows the same
// (the websocket may lag behind the HTTP answer by a moment), at most this long.
const REPLY_TRUST_MS = 5000;
// The same action pressed again this soon is a bounce or a double press, not a new intent
// (the server would refuse most repeats anyway, e.g. window_busy, but with an error).
const DEBOUNCE_MS = 400;

const OUTCOMES = [
  ['accepted', '受理'],
  ['completed', '办结'],
  ['consulted', '咨询'],
  ['supplement', '补正材料'],
  ['rejected', '不予受理'],
];
const ENDINGS = { ...Object.fromEntries(OUTCOMES), no_show: '过号', transferred: '转办' };
const PAUSE_REASONS = ['临时离开', '午间休息', '业务培训', '设备故障', '窗口整理'];
const TICKET_STATUS = { called: '已呼叫，等待办事人到窗口', serving: '正在办理' };

// Keys (event.key, letters lower-cased) → action. Caller keypads emulate these keys.
const KEYS = {
  F1: 'next', ' ': 'next', Enter: 'next',
  r: 'recall', s: 'start', f: 'finish', n: 'noShow', t: 'transfer', p: 'pause', c: 'callNumber',
};

const $ = (id) => document.getElementById(id);

// -- the session ---------------------------------------------------------------------------

const S = {
  token: null,
  hall: null,
  window: null,
  kind: null, // 'device' | 'staff'
  name: '',
  hallInfo: null,
  live: null,
  busy: false,
  trusted: null, // {fields, until}: a reply's view of this window, until live agrees
  queueOf: new Map(), // ticket number → its queue now (from replies and live events)
  lastPress: {},
  empty: false, // the last call-next found nobody waiting
  history: [],
};

// -- the desk ------------------------------------------------------------------------------

async function startDesk(session, hallInfo) {
  Object.assign(S, session);
  if (hallInfo) S.hallInfo = hallInfo;
  show('boot');
  if (!S.hallInfo || S.hallInfo.id !== S.hall) {
    S.hallInfo = await api('GET', `/halls/${encodeURIComponent(S.hall)}`);
  }
  const info = windowInfo();
  show('desk');
  $('win-title').textContent = info ? `${info.number}号窗口` : `窗口 ${S.window}`;
  $('win-name').textContent = info ? info.name : '';
  $('who').textContent = S.kind === 'staff' ? `工作人员：${S.name}${S.code ? `（${S.code}）` : ''}` : `终端：${S.name}`;
  $('signout').hidden = S.kind !== 'staff';
  S.live = new LiveHall({ token: S.token, hall: S.hall });
  staleBanner(S.live);
  S.live.addEventListener('change', render);
  S.live.addEventListener('event', (ev) => onLiveEvent(ev.detail));
  S.live.addEventListener('message', (ev) => onLiveMessage(ev.detail));
  S.live.start();
  setInterval(tick, 1000);
  tick();
  render();
  loadHistory();
  return undefined;
}

function windowInfo() {
  return S.hallInfo ? S.hallInfo.windows.find((w) => w.id === S.window) : undefined;
}

function path(action) {
  return `/halls/${encodeURIComponent(S.hall)}/windows/${encodeURIComponent(S.window)}/${action}`;
}

/** This window as shown: the live snapshot's row, or a fresher reply's view of it. */
function current() {
  const state = S.live && S.live.state;
  const row = state ? state.windows.find((w) => w.id === S.window) : null;
  if (S.trusted) {
    const agrees = row && Object.entries(S.trusted.fields).every(([k, v]) => same(k, row[k], v));
    if (agrees || performance.now() > S.trusted.until) S.trusted = null;
    else return { ...(row || {}), ...S.trusted.fields };
  }
  return row;
}

function same(key, a, b) {
  if (key !== 'ticket') return (a ?? null) === (b ?? null);
  if (!a || !b) return !a && !b;
  return a.number === b.number && a.status === b.status && a.recalls === b.recalls;
}

function trust(fields) {
  const before = S.trusted ? S.trusted.fields : {};
  S.trusted = { fields: { ...before, ...fields }, until: performance.now() + REPLY_TRUST_MS };
}

/** The window's ticket after a ticket command's reply: active here, or none. */
function trustTicket(t) {
  const active = t && t.window === S.window && (t.status === 'called' || t.status === 'serving');
  if (t) noteQueue(t.number, t.queue);
  trust({ ticket: active ? { number: t.number, status: t.status, called_at: t.called_at, recalls: t.recalls } : null });
}

// -- actions -------------------------------------------------------------------------------

const ACTIONS = {
  next: { blocked: (w) => paused(w), run: callNext },
  recall: { blocked: (w) => needs(w, ['called'], '重呼'), run: () => ticketCommand('recall', '已重呼') },
  start: { blocked: (w) => needs(w, ['called'], '开始办理'), run: () => ticketCommand('start', '开始办理') },
  finish: { blocked: (w) => needs(w, ['called', 'serving'], '办结'), run: pickOutcome },
  noShow: { blocked: (w) => needs(w, ['called', 'serving'], '过号'), run: () => ticketCommand('no-show', '已记过号') },
  transfer: { blocked: (w) => needs(w, ['called', 'serving'], '转办'), run: pickTransfer },
  pause: { blocked: () => null, run: pauseOrResume },
  callNumber: { blocked: (w) => paused(w) || (w && w.ticket ? '请先办结、过号或转办当前票号，再指定叫号。' : null), run: askNumber },
};

function paused(w) {
  return w && w.status === 'paused' ? '窗口暂停服务中，请先按 P 恢复服务。' : null;
}

function needs(w, statuses, label) {
  const t = w && w.ticket;
  if (!t) return `当前没有票号，无法${label}。请先叫号。`;
  if (!statuses.includes(t.status)) return `${t.number} 号正在办理，无法${label}。`;
  return null;
}

function press(name) {
  const now = performance.now();
  if (S.busy || pickerOpen() || !S.live) return;
  if (now - (S.lastPress[name] || -Infinity) < DEBOUNCE_MS) return;
  S.lastPress[name] = now;
  const action = ACTIONS[name];
  if (!current()) {
    say('正在连接大厅，请稍候再按。', 'info');
    return;
  }
  const why = action.blocked(current());
  if (why) {
    say(why, 'info');
    return;
  }
  action.run();
  // A picker is modal and takes the next keys itself: no debounce after opening one.
  if (pickerOpen()) delete S.lastPress[name];
}

/** POST one window command: one Idempotency-Key for this press, reused on its retries. */
async function send(action, body) {
  const key = newKey();
  setBusy(true);
  try {
    return await api('POST', path(action), { token: S.token, body, key });
  } catch (exc) {
    onError(exc);
    return null;
  } finally {
    setBusy(false);
  }
}

async function callNext() {
  const w = current();
  const serving = Boolean(w && w.ticket && w.ticket.status === 'serving');
  const reply = await send('call-next', { finish_current: serving });
  if (!reply) return;
  trustTicket(reply.ticket);
  S.empty = !reply.ticket;
  say(reply.ticket ? `已呼叫 ${reply.ticket.number} 号` : '当前没有等候的办事人。', reply.ticket ? 'ok' : 'info');
  if (serving) loadHistory();
  render();
}

async function ticketCommand(action, done, body) {
  const reply = await send(action, body);
  if (!reply) return;
  const t = reply.ticket;
  trustTicket(t);
  say(`${t.number} 号：${done}`, 'ok');
  if (!['recall', 'start'].includes(action)) loadHistory();
  render();
}

function pickOutcome() {
  const number = current().ticket.number;
  openPicker({
    title: `${number} 号办结：请选择办理结果`,
    options: OUTCOMES.map(([value, label]) => ({ label, run: () => ticketCommand('finish', `已办结（${label}）`, { outcome: value }) })),
    hint: '按 1–5 选择，Esc 取消',
  });
}

function pickTransfer() {
  const number = current().ticket.number;
  const queues = S.hallInfo.queues.map((q) => ({
    label: q.name,
    sub: `${q.prefix} 字头票号`,
    group: '转到队列',
    run: () => ticketCommand('transfer', `已转到「${q.name}」`, { queue: q.id }),
  }));
  const windows = S.hallInfo.windows.filter((w) => w.id !== S.window).map((w) => ({
    label: `${w.number}号窗口`,
    sub: w.name,
    group: '转到窗口',
    numbered: false,
    compact: true,
    run: () => ticketCommand('transfer', `已转到 ${w.number} 号窗口`, { window: w.id }),
  }));
  openPicker({
    title: `${number} 号转办：选择目标队列或窗口`,
    options: [...queues, ...windows],
    input: {
      label: '或输入目标窗口号后按回车',
      submit: (typed) => {
        const w = S.hallInfo.windows.find((x) => x.id === typed || String(x.number) === typed);
        if (!w) return `没有「${typed}」号窗口。`;
        ticketCommand('transfer', `已转到 ${w.number} 号窗口`, { window: w.id });
        return null;
      },
    },
    hint: '按数字键选队列，↑↓ 选择后回车，Esc 取消',
  });
}

async function pauseOrResume() {
  const w = current();
  if (w && w.status === 'paused') {
    await windowCommand('resume', undefined, '已恢复服务');
    return;
  }
  openPicker({
    title: '暂停服务：请选择原因',
    options: PAUSE_REASONS.map((reason) => ({ label: reason, run: () => windowCommand('pause', { reason }, `已暂停服务（${reason}）`) })),
    input: {
      label: '其他原因（输入后按回车）',
      submit: (typed) => {
        windowCommand('pause', { reason: typed }, `已暂停服务（${typed}）`);
        return null;
      },
    },
    hint: '按 1–5 选择原因，Esc 取消',
  });
}

async function windowCommand(action, body, done) {
  const reply = await send(action, body);
  if (!reply) return;
  trust({ status: reply.status, reason: reply.reason });
  say(done, 'ok');
  render();
}

function askNumber() {
  openPicker({
    title: '指定叫号',
    options: [],
    input: {
      label: '输入票号（如 A005），按回车呼叫',
      submit: (typed) => {
        const number = typed.toUpperCase();
        if (!/^[A-Z]{0,3}\d{1,4}$/.test(number)) return '票号格式不对：字母加数字，例如 A005。';
        ticketCommand('call', `已呼叫（指定叫号）`, { number });
        return null;
      },
    },
    hint: 'Esc 取消',
  });
}

async function signOut() {
  const reply = await send('close');
  if (!reply) return;
  endStaffSession('');
}

function onError(exc) {
  if (exc instanceof ApiError && exc.status === 401 && S.kind === 'staff') {
    endStaffSession('登录已失效，请重新登录。');
    return;
  }
  say(messageOf(exc), 'error');
  if (!(exc instanceof ApiError)) console.warn(exc); // a bug of this page, not the server
}

// -- keys and buttons ----------------------------------------------------------------------

function typing(el) {
  return Boolean(el && el.closest && el.closest('input, textarea, select, [contenteditable="true"]'));
}

document.addEventListener('keydown', (ev) => {
  if ($('desk').hidden || pickerOpen() || typing(ev.target)) return;
  if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
  const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
  const name = KEYS[key];
  if (!name) return;
  // Enter/Space on a focused button or link belong to it (keyboard users tab to a button).
  if ((key === 'Enter' || key === ' ') && ev.target.closest && ev.target.closest('button, a')) return;
  ev.preventDefault();
  if (ev.repeat) return; // a held key is one press
  press(name);
});

for (const button of document.querySelectorAll('[data-action]')) {
  button.addEventListener('click', (ev) => {
    // A mouse click leaves focus on the button; give it back to the page so Space/Enter
    // keep meaning "call next" rather than "click this button again".
    if (ev.detail > 0) button.blur();
    press(button.dataset.action);
  });
}

$('signout').addEventListener('click', () => signOut());

function setBusy(value) {
  S.busy = value;
  render();
}

// -- what the desk shows ------------------------------------------------------------------

function say(text, kind = 'info') {
  const box = $('message');
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

function timeOf(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString('zh-CN', { hour12: false, timeZone: S.hallInfo.timezone });
}

function clockOf(iso, withSeconds) {
  const t = timeOf(iso);
  return withSeconds || t === '—' ? t : t.slice(0, 5);
}

function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

function render() {
  if ($('desk').hidden) return;
  const w = current();
  renderStatus(w);
  renderTicket(w);
  renderWaiting();
  renderButtons(w);
}

function renderStatus(w) {
  const pill = $('win-status');
  const status = (w && w.status) || 'closed';
  pill.textContent = !w ? '连接中…' : status === 'paused' && w.reason ? `暂停服务：${w.reason}` : WINDOW_STATUS[status];
  pill.className = `pill ${status}`;
  $('pause-label').textContent = status === 'paused' ? '恢复服务' : '暂停服务';
}

function renderTicket(w) {
  const t = w ? w.ticket : null;
  $('cur-number').textContent = t ? t.number : '空闲';
  $('cur-number').classList.toggle('idle', !t);
  let text = t ? TICKET_STATUS[t.status] || t.status : '';
  if (!t) text = !w ? '正在连接大厅…' : S.empty || waitingTotal() === 0 ? '当前没有等候的办事人' : '请按 F1 叫下一位';
  $('cur-status').textContent = text;
  $('cur-status').className = `cur-status ${t ? t.status : 'idle'}`;
  const queue = t && S.hallInfo.queues.find((q) => q.id === S.queueOf.get(t.number));
  $('cur-queue').textContent = queue ? `业务队列：${queue.name}` : '';
  $('cur-called').textContent = t ? timeOf(t.called_at) : '—';
  $('cur-recalls').textContent = t ? `${t.recalls} 次` : '—';
  $('next-label').textContent = t && t.status === 'serving' ? '办结并叫下一位' : '叫下一位';
  tick();
}

function servedQueues() {
  const info = windowInfo();
  return info ? info.queues : [];
}

function waitingTotal() {
  const state = S.live && S.live.state;
  if (!state) return null;
  return state.queues.filter((q) => servedQueues().includes(q.id)).reduce((n, q) => n + q.waiting, 0);
}

function renderWaiting() {
  const state = S.live && S.live.state;
  const items = servedQueues().map((id) => {
    const q = state ? state.queues.find((x) => x.id === id) : null;
    const name = (S.hallInfo.queues.find((x) => x.id === id) || { name: id }).name;
    const li = document.createElement('li');
    li.dataset.queue = id;
    li.innerHTML = '<span class="q-name"></span><span class="q-count"></span><span class="q-wait"></span>';
    li.children[0].textContent = name;
    li.children[1].textContent = q ? `${q.waiting} 人` : '—';
    li.children[2].textContent = q && q.waiting && q.longest_wait_s != null ? `最久已等 ${minutes(q.longest_wait_s)}` : '';
    return li;
  });
  $('waiting-list').replaceChildren(...items);
}

function minutes(seconds) {
  return seconds < 60 ? '不到 1 分钟' : `${Math.floor(seconds / 60)} 分钟`;
}

function renderButtons(w) {
  for (const button of document.querySelectorAll('[data-action]')) {
    const action = ACTIONS[button.dataset.action];
    button.disabled = S.busy || !w || Boolean(action.blocked(w));
    button.setAttribute('aria-busy', String(S.busy));
  }
}

function tick() {
  const zone = S.hallInfo ? S.hallInfo.timezone : undefined;
  $('clock').textContent = new Date().toLocaleTimeString('zh-CN', { hour12: false, timeZone: zone });
  const w = S.live ? current() : null;
  const t = w ? w.ticket : null;
  // both count from the call: how long the applicant has been called, then served
  $('cur-timer-label').textContent = t && t.status === 'serving' ? '已用时' : '呼叫后已过';
  $('cur-timer').textContent = t && t.called_at ? duration((Date.now() - Date.parse(t.called_at)) / 1000) : '—';
}

// -- history -------------------------------------------------------------------------------

let historyTimer = null;

function loadHistory() {
  clearTimeout(historyTimer); // several endings in a burst make one read
  historyTimer = setTimeout(async () => {
    try {
      const reply = await api('GET', path('history'), { token: S.token });
      S.history = reply.visits;
      renderHistory();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) onError(exc);
      else say(`今日记录读取失败：${messageOf(exc)}`, 'error');
    }
  }, 150);
}

function renderHistory() {
  const rows = S.history.map((v) => {
    const tr = document.createElement('tr');
    const spent = v.called_at ? (Date.parse(v.ended_at) - Date.parse(v.called_at)) / 1000 : NaN;
    const cells = [v.number, ENDINGS[v.outcome] || v.outcome, clockOf(v.called_at), clockOf(v.ended_at), duration(spent)];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tr.children[0].className = 'hq-number';
    tr.children[1].className = `outcome ${v.outcome}`;
    return tr;
  });
  $('history-rows').replaceChildren(...rows);
  $('history-count').textContent = `共 ${S.history.length} 人`;
  $('history-empty').hidden = S.history.length > 0;
}

function noteQueue(number, queue) {
  if (typeof number !== 'string' || typeof queue !== 'string') return;
  if (S.queueOf.size > 2000) S.queueOf.clear(); // a day's numbers; bounded all the same
  S.queueOf.set(number, queue);
}

function onLiveEvent(ev) {
  const data = ev.data || {};
  noteQueue(data.number, data.queue);
  if (ev.name === 'ticket.issued' && servedQueues().includes(data.queue)) S.empty = false;
  // endings at this window from elsewhere (a caller keypad, a manager) reach the history too
  if ((ev.name === 'ticket.finished' || ev.name === 'ticket.no_show') && data.window === S.window) {
    loadHistory();
  }
  render();
}

function onLiveMessage(msg) {
  if (msg.type === 'closed' && msg.code === 4401) {
    say('实时连接被拒绝：凭证无效或已过期，请重新登录或重新配对设备。', 'error');
  }
}

signIn(startDesk);
