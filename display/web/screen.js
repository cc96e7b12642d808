// What the hall screen and the window screen share: their path parameters, the device
// credential, the Hall description, the clock, and the full-page problem message.
//
//   pathParams(prefix) → [hall, x] from /display/<prefix>/{hall}/{x}, or null
//   showProblem(zh, text, en)   replaces the screen by a plain message (unpaired device, …)
//   hideProblem()
//   loadHall(hall, token) → the contract's Hall (with "display"), retrying until it answers;
//                           throws ApiError for answers that retrying cannot fix (401/403/404)
//   startClock(timezone, timeEl, dateEl)   ticks every second in the hall's time zone
//   applyEnglish(display)       hides every [data-en] element unless display.english
//   TEXT                        the status words screens show, Chinese and English

import { api, ApiError } from './lib/api.js';
import { loadCredential } from './lib/credential.js';

export const TEXT = {
  called: ['请到窗口办理', 'Please go to the window'],
  serving: ['正在办理', 'Serving'],
  paused: ['暂停服务', 'Paused'],
  idle: ['空闲', 'Available'],
  closed: ['未开放', 'Closed'],
};

const RETRY_MAX_MS = 30000;

export function pathParams(prefix) {
  const parts = location.pathname.split('/').filter(Boolean);
  if (parts.length !== 4 || parts[0] !== 'display' || parts[1] !== prefix) return null;
  try {
    return [decodeURIComponent(parts[2]), decodeURIComponent(parts[3])];
  } catch {
    return null;
  }
}

export function showProblem(title, text, en = '') {
  document.getElementById('screen').hidden = true;
  document.getElementById('problem').hidden = false;
  document.getElementById('problem-title').textContent = title;
  document.getElementById('problem-text').textContent = text;
  document.getElementById('problem-en').textContent = en;
}

export function hideProblem() {
  document.getElementById('problem').hidden = true;
  document.getElementById('screen').hidden = false;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The Hall, waiting out a server that is down or restarting (a screen must come back alone). */
export async function loadHall(hall, token) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api('GET', `/halls/${encodeURIComponent(hall)}`, { token });
    } catch (exc) {
      if (!(exc instanceof ApiError) || (exc.status >= 400 && exc.status < 500)) throw exc;
      if (attempt === 0) showProblem('正在连接服务器…', '请稍候，屏幕将自动显示。', 'Connecting…');
      await sleep(Math.min(RETRY_MAX_MS, 1000 * 2 ** Math.min(attempt, 5)));
    }
  }
}

export function startClock(timezone, timeEl, dateEl) {
  let time;
  let date;
  try {
    time = new Intl.DateTimeFormat('zh-CN', {
      timeZone: timezone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    date = new Intl.DateTimeFormat('zh-CN', {
      timeZone: timezone, year: 'numeric', month: 'long', day: 'numeric', weekday: 'long',
    });
  } catch {
    // an unknown zone in the browser's tables: local time beats no clock
    time = new Intl.DateTimeFormat('zh-CN', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    date = new Intl.DateTimeFormat('zh-CN', { year: 'numeric', month: 'long', day: 'numeric', weekday: 'long' });
  }
  const tick = () => {
    const now = new Date();
    timeEl.textContent = time.format(now);
    dateEl.textContent = date.format(now);
  };
  tick();
  return setInterval(tick, 1000);
}

export function applyEnglish(display) {
  document.documentElement.classList.toggle('hq-no-english', !(display && display.english));
}

/** A window's state as one of TEXT's keys. */
export function windowState(w) {
  if (w.status === 'closed') return 'closed';
  if (w.status === 'paused') return 'paused';
  if (w.ticket && w.ticket.status === 'called') return 'called';
  if (w.ticket && w.ticket.status === 'serving') return 'serving';
  return 'idle';
}

/** Explains a refused credential (close 4401/4403 or HTTP 401/403) on the screen. */
export function showCredentialProblem() {
  showProblem('此屏幕需要重新配对',
    '设备凭证无效或已被撤销。请管理员运行 hallq device add 生成配对链接，并在本机打开。',
    'This screen\'s credential was refused: pair it again with a new pairing link.');
}

export function showUnpaired() {
  showProblem('此屏幕尚未配对',
    '请管理员运行 hallq device add --role display 生成配对链接，并在本机浏览器中打开。',
    'This screen is not paired yet: open a pairing link from "hallq device add" here.');
}

/**
 * What both screens do first: the path's parameters, the stored credential and the Hall.
 * Returns {params, cred, info}, or null after showing on the screen why it cannot start.
 */
export async function bootScreen(kind, usage, usageEn) {
  const params = pathParams(kind);
  if (!params) {
    showProblem('地址有误', usage, usageEn);
    return null;
  }
  const cred = loadCredential();
  if (!cred) {
    showUnpaired();
    return null;
  }
  const hall = params[0];
  try {
    return { params, cred, info: await loadHall(hall, cred.token) };
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) {
      showProblem('大厅不存在', `找不到大厅「${hall}」，请检查屏幕地址。`, `Unknown hall ${hall}.`);
    } else if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) {
      showCredentialProblem();
    } else {
      showProblem('无法显示', exc.message || String(exc), '');
    }
    return null;
  }
}

const HALL_REFRESH_MS = 5 * 60 * 1000;

/**
 * Starts a screen's live link: a refused credential is explained on screen, and the hall's
 * description (window names, the queues each serves) is re-read now and then, since it
 * changes at run time (成熟一个，纳入一个).
 */
export function runScreen(live, screen, hall, token) {
  live.addEventListener('message', (ev) => {
    const msg = ev.detail;
    if (msg.type === 'closed' && (msg.code === 4401 || msg.code === 4403)) showCredentialProblem();
  });
  live.start();
  setInterval(async () => {
    try {
      screen.setHall(await api('GET', `/halls/${encodeURIComponent(hall)}`, { token }));
      if (live.state) screen.render(live.state);
    } catch {
      // keep the last description; the live link reports its own trouble
    }
  }, HALL_REFRESH_MS);
}
