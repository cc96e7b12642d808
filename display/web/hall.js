// The hall screen (综合屏) of one zone: /display/hall/{hall}/{zone}.
//
// Shows the newest call of the zone large (flashing ~10 s when it arrives), the earlier calls,
// a row per window of the zone, the waiting count of each queue the zone serves, the zone's
// missed (过号) numbers, a scrolling notice and the hall's date and time. Ticket numbers and
// windows only: never a name, never a lane. State comes from LiveHall; the stale banner shows
// while the link is down. Every applied event is passed to the voice Announcer when the voice
// module is installed (it decides itself whether this screen speaks).
//
// For tests and the monitor: window.hallqScreen = {live, hall, zone}; <main data-seq> is the
// seq of the state on screen.

import { staleBanner } from './lib/banner.js';
import { LiveHall } from './lib/live.js';
import {
  TEXT, applyEnglish, bootScreen, hideProblem, runScreen, showProblem,
  startClock, windowState,
} from './screen.js';

const FRESH_MS = 10000;
const EARLIER = 4;

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class HallScreen {
  constructor(info, zone, live) {
    this.zone = zone;
    this.live = live;
    this.freshTimer = null;
    this.freshWindow = null;
    this.setHall(info);
  }

  /** Zone names, the queues this zone serves and their prefixes, from the Hall. */
  setHall(info) {
    this.info = info;
    const zone = info.zones.find((z) => z.id === this.zone);
    const windows = info.windows.filter((w) => w.zone === this.zone);
    const served = new Set(windows.flatMap((w) => w.queues));
    this.queues = info.queues.filter((q) => q.zone === this.zone || served.has(q.id));
    this.queueIds = new Set(this.queues.map((q) => q.id));
    this.prefixes = this.queues.map((q) => q.prefix);
    const display = info.display || {};
    applyEnglish(display);
    $('hall-name').textContent = info.name;
    $('zone-name').textContent = zone.name + (display.english && zone.name_en ? `  ${zone.name_en}` : '');
    document.title = `${zone.name} 叫号屏`;
    const notice = [display.notice || info.notice || '', display.english ? display.notice_en || '' : '']
      .filter(Boolean).join('　　');
    $('notice').textContent = notice;
    $('notice-bar').hidden = !notice;
    $('notice').style.setProperty('--marquee-s', `${Math.max(15, Math.round(notice.length * 0.35))}s`);
  }

  zoneWindows(state) {
    return state.windows.filter((w) => w.zone === this.zone).sort((a, b) => a.number - b.number);
  }

  render(state) {
    const windows = this.zoneWindows(state);
    const byId = new Map(windows.map((w) => [w.id, w]));
    this.renderCalls(state, byId);
    this.renderWindows(windows);
    this.renderWaiting(state);
    this.renderMissed(state);
    $('screen').dataset.seq = String(state.seq);
  }

  renderCalls(state, byId) {
    const calls = state.recent_calls.filter((c) => byId.has(c.window));
    const [latest, ...earlier] = calls;
    if (latest) {
      const w = byId.get(latest.window);
      $('latest-number').textContent = latest.number;
      $('latest-text').textContent = `请到 ${w.number}号窗口 办理`;
      $('latest-text-en').textContent = `Please go to window ${w.number}`;
    } else {
      $('latest-number').textContent = '';
      $('latest-text').textContent = '暂无叫号';
      $('latest-text-en').textContent = 'No calls yet';
    }
    $('latest').dataset.number = latest ? latest.number : '';
    const list = $('earlier');
    list.replaceChildren(...earlier.slice(0, EARLIER).map((c) => {
      const li = el('li');
      li.append(el('span', 'hq-number', c.number), el('span', '', `${byId.get(c.window).number}号窗口`));
      return li;
    }));
  }

  renderWindows(windows) {
    const rows = $('window-rows');
    rows.style.setProperty('--rows', String(Math.max(windows.length, 4)));
    rows.replaceChildren(...windows.map((w) => {
      const kind = windowState(w);
      const row = el('div', `window-row is-${kind}`);
      row.setAttribute('role', 'row');
      row.dataset.window = w.id;
      row.dataset.state = kind;
      if (w.id === this.freshWindow) row.classList.add('fresh');
      const label = el('div', 'window-label');
      label.setAttribute('role', 'cell');
      label.append(el('span', 'window-number', `${w.number}号窗口`), el('span', 'window-name', w.name));
      const showTicket = w.ticket && (kind === 'called' || kind === 'serving');
      const ticket = el('div', 'window-ticket hq-number', showTicket ? w.ticket.number : '');
      ticket.setAttribute('role', 'cell');
      const status = el('div', `window-state state-${kind}`, TEXT[kind][0]);
      status.setAttribute('role', 'cell');
      const en = el('span', 'en', TEXT[kind][1]);
      en.dataset.en = '';
      status.append(en);
      row.append(label, ticket, status);
      return row;
    }));
  }

  renderWaiting(state) {
    const items = state.queues.filter((q) => this.queueIds.has(q.id)).map((q) => {
      const li = el('li');
      li.dataset.queue = q.id;
      li.append(el('span', '', q.name), el('span', 'count', String(q.waiting)), el('span', '', '人'));
      return li;
    });
    $('waiting').replaceChildren(...items);
  }

  renderMissed(state) {
    const mine = state.missed.filter((n) => this.prefixes.some((p) => n.startsWith(p)));
    $('missed').textContent = mine.length ? [...mine].reverse().join(' ') : '无';
    $('missed').dataset.numbers = mine.join(',');
  }

  /** A call in this zone just arrived: highlight it (and its window's row) for FRESH_MS. */
  flash(ev) {
    const latest = $('latest');
    latest.classList.remove('fresh');
    void latest.offsetWidth; // restart the animation for a call that follows a call
    latest.classList.add('fresh');
    this.freshWindow = ev.data.window;
    for (const row of document.querySelectorAll('.window-row')) {
      row.classList.toggle('fresh', row.dataset.window === this.freshWindow);
    }
    clearTimeout(this.freshTimer);
    this.freshTimer = setTimeout(() => {
      latest.classList.remove('fresh');
      this.freshWindow = null;
      for (const row of document.querySelectorAll('.window-row.fresh')) row.classList.remove('fresh');
    }, FRESH_MS);
  }
}

async function loadAnnouncer(options) {
  try {
    const voice = await import('./lib/voice.js');
    return new voice.Announcer(options);
  } catch (exc) {
    console.warn('hallq: no voice on this screen:', exc && exc.message ? exc.message : exc);
    return null;
  }
}

async function main() {
  const booted = await bootScreen('hall', '综合屏地址应为 /display/hall/{大厅}/{区域}。', 'Expected /display/hall/{hall}/{zone}.');
  if (!booted) return;
  const { cred, info } = booted;
  const [hall, zone] = booted.params;
  if (!info.zones.some((z) => z.id === zone)) {
    showProblem('区域不存在', `大厅「${info.name}」没有区域「${zone}」，请检查屏幕地址。`, `Unknown zone ${zone}.`);
    return;
  }
  hideProblem();
  startClock(info.timezone, $('clock-time'), $('clock-date'));

  const live = new LiveHall({ token: cred.token, hall });
  const screen = new HallScreen(info, zone, live);
  window.hallqScreen = { live, hall, zone, screen };
  staleBanner(live);
  const announcer = await loadAnnouncer({ token: cred.token, hall, zone });

  live.addEventListener('change', (ev) => {
    hideProblem();
    screen.render(ev.detail);
  });
  live.addEventListener('event', (ev) => {
    const frame = ev.detail;
    if ((frame.name === 'ticket.called' || frame.name === 'ticket.recalled')
        && live.state.windows.some((w) => w.id === frame.data.window && w.zone === zone)) {
      screen.flash(frame);
    }
    if (announcer) {
      try {
        announcer.handle(frame);
      } catch (exc) {
        console.warn('hallq: announcer failed:', exc);
      }
    }
  });
  runScreen(live, screen, hall, cred.token);
}

main();
