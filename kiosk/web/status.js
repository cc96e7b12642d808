// The public status page /t/{status_token}: number, people ahead, wait, and the window once
// called, live. No credential: it reads GET /api/v1/public/tickets/{token} once (an unknown
// token shows the friendly not-found card) and then follows
// GET /api/v1/public/tickets/{token}/events (Server-Sent Events). When the server closes the
// stream (idle, busy, restarting) the page reconnects only while it is visible, and polls
// every POLL_MS while the stream is refused.

import { api, ApiError } from '/static/display/lib/api.js';

const token = decodeURIComponent(location.pathname.split('/')[2] || '');
const base = `/public/tickets/${encodeURIComponent(token)}`;
const POLL_MS = 10000;
const RECONNECT_MS = 2000;
const ENDED = new Set(['done', 'cancelled', 'expired']);

const TEXTS = {
  zh: {
    loading: '正在加载…',
    yourNumber: '您的号码',
    waiting: (s) => (s.waiting_ahead > 0 ? `前面还有 ${s.waiting_ahead} 人` : '马上就到您了'),
    waitingDetail: (s) => (s.estimated_wait_s > 0
      ? `预计等候约 ${Math.max(1, Math.round(s.estimated_wait_s / 60))} 分钟，请留意大屏和语音叫号。`
      : '请留意大屏和语音叫号。'),
    called: (s) => `请到 ${s.window_number ?? s.window} 号窗口办理`,
    calledDetail: '正在叫您的号，请尽快前往。',
    serving: (s) => `正在 ${s.window_number ?? s.window} 号窗口办理`,
    no_show: () => '已过号',
    no_showDetail: '请到导办台登记，当日有效。',
    done: () => '已办结',
    doneDetail: '感谢您的耐心，欢迎对本次服务进行评价。',
    cancelled: () => '已取消',
    expired: () => '已过期',
    endedDetail: '如需办理，请重新取号。',
    updated: '更新于',
    offline: '暂时连不上服务器，正在重试…',
    privacy: '本页只显示票号与窗口，不含任何个人信息。',
    title: '排队进度',
  },
  en: {
    loading: 'Loading…',
    yourNumber: 'Your number',
    waiting: (s) => (s.waiting_ahead > 0 ? `${s.waiting_ahead} ahead of you` : 'You are next'),
    waitingDetail: (s) => (s.estimated_wait_s > 0
      ? `About ${Math.max(1, Math.round(s.estimated_wait_s / 60))} min. Watch the screens for your number.`
      : 'Watch the screens for your number.'),
    called: (s) => `Please go to window ${s.window_number ?? s.window}`,
    calledDetail: 'Your number is being called now.',
    serving: (s) => `Being served at window ${s.window_number ?? s.window}`,
    no_show: () => 'Missed',
    no_showDetail: 'Register again at the guide desk (today only).',
    done: () => 'Completed',
    doneDetail: 'Thank you. Please rate our service.',
    cancelled: () => 'Cancelled',
    expired: () => 'Expired',
    endedDetail: 'Take a new ticket if you still need the service.',
    updated: 'Updated',
    offline: 'Cannot reach the server; retrying…',
    privacy: 'This page shows your number and window only, nothing personal.',
    title: 'Queue status',
  },
};

const $ = (id) => document.getElementById(id);
let lang = (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
let status = null;
let source = null;
let pollTimer = null;

function show(id) {
  for (const card of ['loading', 'ticket', 'not-found', 'offline']) $(card).hidden = card !== id;
}

function render() {
  const t = TEXTS[lang];
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t[el.dataset.t];
  $('lang-toggle').textContent = lang === 'en' ? '中文' : 'English';
  if (!status) return;
  if (status.hall_name) $('hall-name').textContent = lang === 'en' ? status.hall_name_en : status.hall_name;
  document.title = `${status.number} · ${t.title}`;
  $('number').textContent = status.number;
  const state = $('state');
  state.className = `s-state ${status.status}`;
  const s = status.status;
  if (s === 'waiting') {
    state.textContent = t.waiting(status);
    $('detail').textContent = t.waitingDetail(status);
  } else if (s === 'called') {
    state.textContent = t.called(status);
    $('detail').textContent = t.calledDetail;
  } else if (s === 'serving') {
    state.textContent = t.serving(status);
    $('detail').textContent = '';
  } else {
    state.textContent = (t[s] || (() => s))(status);
    $('detail').textContent = s === 'no_show' ? t.no_showDetail : s === 'done' ? t.doneDetail : t.endedDetail;
  }
  const now = new Date();
  $('updated').textContent = `${t.updated} ${now.toLocaleTimeString(lang === 'en' ? 'en-GB' : 'zh-CN')}`;
  show('ticket');
}

function take(next) {
  status = { ...status, ...next };
  render();
}

function follow() {
  if (source || document.visibilityState !== 'visible') return;
  source = new EventSource(`/api/v1${base}/events`);
  source.onmessage = (ev) => {
    stopPolling();
    take(JSON.parse(ev.data));
  };
  source.onerror = () => {
    // Closed by the server (idle, busy, restart) or the network: reconnect while visible;
    // meanwhile poll, so the page never goes quiet.
    source.close();
    source = null;
    startPolling();
    if (!(status && ENDED.has(status.status))) setTimeout(follow, RECONNECT_MS);
  };
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

async function refresh() {
  if (document.visibilityState !== 'visible') return;
  try {
    take(await api('GET', base, { retries: 0 }));
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) show('not-found');
    else if (!status) show('offline');
  }
}

async function start() {
  $('lang-toggle').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    render();
  });
  render();
  try {
    take(await api('GET', base, { retries: 1 }));
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) {
      document.title = '未找到票号 · Ticket not found';
      show('not-found');
      return;
    }
    show('offline');
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      refresh();
      follow();
    }
  });
  follow();
}

start();
