// The window screen (窗口屏) above one window: /display/window/{hall}/{window}.
//
// Shows the window's number and name, the categories (queue names) it serves, and one big
// status: 请 A001 号到本窗口 (called), 办理中 A001 (serving), 暂停服务 (paused or closed) or
// 空闲. The signed-in staff member's code and masked name appear only when the hall enables
// it (display.show_staff; the server then leaves staff out of the live data altogether).
// For tests: window.hallqScreen = {live, hall, window}; <main data-seq> is the seq shown.

import { staleBanner } from './lib/banner.js';
import { LiveHall } from './lib/live.js';
import {
  applyEnglish, bootScreen, hideProblem, runScreen, showProblem,
  startClock, windowState,
} from './screen.js';

const FRESH_MS = 10000;

const $ = (id) => document.getElementById(id);

class WindowScreen {
  constructor(info, windowId) {
    this.windowId = windowId;
    this.freshTimer = null;
    this.setHall(info);
  }

  setHall(info) {
    this.info = info;
    this.display = info.display || {};
    applyEnglish(this.display);
    const w = info.windows.find((x) => x.id === this.windowId);
    if (!w) return; // removed from the hall while shown: keep the last description
    const names = new Map(info.queues.map((q) => [q.id, q.name]));
    $('categories').textContent = w.queues.map((id) => names.get(id) || id).join('、') || '—';
    this.renderTitle(w);
  }

  renderTitle(w) {
    $('window-number').textContent = `${w.number}号窗口`;
    $('window-name').textContent = w.name;
    document.title = `${w.number}号窗口`;
  }

  render(state) {
    const w = state.windows.find((x) => x.id === this.windowId);
    if (!w) return;
    this.renderTitle(w);
    const kind = windowState(w);
    const current = $('current');
    current.className = `current state-${kind}${current.classList.contains('fresh') ? ' fresh' : ''}`;
    current.dataset.state = kind;
    const number = w.ticket ? w.ticket.number : '';
    if (kind === 'called') {
      this.show(`请 ${number} 号到本窗口`, number, `Number ${number}, please come to this window`);
    } else if (kind === 'serving') {
      this.show('办理中', number, 'Now serving');
    } else if (kind === 'paused' || kind === 'closed') {
      this.show('暂停服务', '', kind === 'paused' ? 'Service paused' : 'Closed');
    } else {
      this.show('空闲', '', 'Available');
    }
    current.dataset.number = number;
    const staff = this.display.show_staff === false ? null : w.staff;
    $('staff').hidden = !staff;
    $('staff-text').textContent = staff
      ? [`工号 ${staff.code || '—'}`, staff.name_masked].filter(Boolean).join('　') : '';
    $('screen').dataset.seq = String(state.seq);
  }

  show(text, number, en) {
    $('current-text').textContent = text;
    $('current-number').textContent = number;
    $('current-en').textContent = en;
  }

  flash() {
    const current = $('current');
    current.classList.remove('fresh');
    void current.offsetWidth; // restart the animation for a recall
    current.classList.add('fresh');
    clearTimeout(this.freshTimer);
    this.freshTimer = setTimeout(() => current.classList.remove('fresh'), FRESH_MS);
  }
}

async function main() {
  const booted = await bootScreen('window', '窗口屏地址应为 /display/window/{大厅}/{窗口}。', 'Expected /display/window/{hall}/{window}.');
  if (!booted) return;
  const { cred, info } = booted;
  const [hall, windowId] = booted.params;
  if (!info.windows.some((w) => w.id === windowId)) {
    showProblem('窗口不存在', `大厅「${info.name}」没有窗口「${windowId}」，请检查屏幕地址。`, `Unknown window ${windowId}.`);
    return;
  }
  hideProblem();
  startClock(info.timezone, $('clock-time'), $('clock-date'));
  const screen = new WindowScreen(info, windowId);
  const live = new LiveHall({ token: cred.token, hall });
  window.hallqScreen = { live, hall, window: windowId, screen };
  staleBanner(live);
  live.addEventListener('change', (ev) => {
    hideProblem();
    screen.render(ev.detail);
  });
  live.addEventListener('event', (ev) => {
    const frame = ev.detail;
    if ((frame.name === 'ticket.called' || frame.name === 'ticket.recalled')
        && frame.data.window === windowId) {
      screen.flash();
    }
  });
  runScreen(live, screen, hall, cred.token);
}

main();
