// The guide desk /guide/{hall} (导办台): staff sign in (token in sessionStorage, gone when the
// tab closes), issue in any lane after checking documents (the server records the signed-in
// staff member as issuer and verifier; the lane is never printed or shown on hall screens),
// find a ticket by its number, re-queue a missed one, cancel, reprint.

import { api, ApiError, newKey } from '/static/display/lib/api.js';
import { whoAmI } from '/static/display/lib/credential.js';

const hallId = decodeURIComponent(location.pathname.split('/')[2] || '');
const SESSION_KEY = 'hallq.guide';
// The kiosk whose printer reprints tickets issued here (?printer=DEVICE_ID); tickets a kiosk
// issued are reprinted on that kiosk when none is given.
const PRINTER = new URLSearchParams(location.search).get('printer');
const DESK_ROLES = new Set(['guide', 'manager', 'admin']);
const STATUS = {
  waiting: '等候中', called: '已叫号', serving: '办理中', done: '已办结',
  no_show: '已过号', cancelled: '已取消', expired: '已过期',
};

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(SESSION_KEY);
let hall = null;
let issued = null; // the ticket issued last
let found = null; // the ticket found last

function say(text, good = true) {
  const el = $('message');
  el.textContent = text;
  el.className = `g-message ${good ? 'good' : 'bad'}`;
}

function problem(exc) {
  if (!(exc instanceof ApiError)) throw exc;
  if (exc.status === 401) {
    signOut();
    $('login-error').textContent = '登录已失效，请重新登录。Please sign in again.';
  }
  say(exc.message, false);
}

function queueName(id) {
  return (hall.queues.find((q) => q.id === id) || { name: id }).name;
}

function describe(t) {
  const where = t.window ? ` · ${t.window} 号窗口` : '';
  const ahead = t.status === 'waiting' ? ` · 前面 ${t.waiting_ahead ?? 0} 人` : '';
  const time = t.issued_at
    ? new Date(t.issued_at).toLocaleTimeString('zh-CN', { timeZone: hall.timezone })
    : '';
  return `${queueName(t.queue)} · ${STATUS[t.status] || t.status}${where}${ahead} · ${time}`;
}

// --- sign-in ---------------------------------------------------------------------------------

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  token = null;
  $('desk').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
}

async function signIn(ev) {
  ev.preventDefault();
  $('login-error').textContent = '';
  try {
    const answer = await api('POST', '/auth/login', {
      body: { username: $('username').value.trim(), password: $('password').value },
      retries: 0,
    });
    token = answer.token;
    sessionStorage.setItem(SESSION_KEY, token);
    $('password').value = '';
    await openDesk();
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    $('login-error').textContent = exc.message;
  }
}

async function openDesk() {
  const me = await whoAmI(token);
  if (me.kind !== 'staff' || !DESK_ROLES.has(me.role) || (me.hall && me.hall !== hallId)) {
    signOut();
    $('login-error').textContent = '此账号不是本大厅的导办台账号。This account cannot use this guide desk.';
    return;
  }
  hall = await api('GET', `/halls/${encodeURIComponent(hallId)}`, { token });
  $('hall-name').textContent = hall.name;
  $('who').textContent = me.name;
  fillIssueForm();
  $('login').hidden = true;
  $('desk').hidden = false;
  $('logout').hidden = false;
}

function fillIssueForm() {
  const select = $('service');
  select.replaceChildren();
  for (const queue of hall.queues) {
    const group = document.createElement('optgroup');
    group.label = queue.name;
    for (const s of hall.services.filter((x) => x.queue === queue.id)) {
      group.append(new Option(`${s.code} ${s.name}`, `service:${s.code}`));
    }
    if (!group.children.length) group.append(new Option(queue.name, `queue:${queue.id}`));
    select.append(group);
  }
  const lanes = $('lanes');
  lanes.replaceChildren();
  for (const lane of hall.lanes) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'lane';
    input.value = lane.id;
    input.checked = lane.id === 'normal';
    label.append(input, document.createTextNode(lane.name));
    lanes.append(label);
  }
}

// --- commands --------------------------------------------------------------------------------

async function issue(ev) {
  ev.preventDefault();
  const [kind, value] = $('service').value.split(':');
  const lane = document.querySelector('input[name="lane"]:checked').value;
  try {
    issued = await api('POST', `/halls/${encodeURIComponent(hallId)}/tickets`, {
      token, body: { [kind]: value, lane, channel: 'guide' }, key: newKey(),
    });
    $('issued-number').textContent = issued.number;
    $('issued-info').textContent = describe(issued);
    $('issued').hidden = false;
    say(`已取号 ${issued.number}。Issued ${issued.number}.`);
    // The lane goes back to normal so the next citizen is not given a priority by mistake.
    document.querySelector('input[name="lane"][value="normal"]').checked = true;
  } catch (exc) {
    problem(exc);
  }
}

function showFound(t) {
  found = t;
  $('found-number').textContent = t.number;
  $('found-info').textContent = describe(t);
  $('act-requeue').disabled = t.status !== 'no_show';
  $('act-cancel').disabled = t.status !== 'waiting';
  $('found').hidden = false;
}

async function find(ev) {
  ev.preventDefault();
  const number = $('find-number').value.trim().toUpperCase();
  try {
    showFound(await api('GET',
      `/halls/${encodeURIComponent(hallId)}/tickets?number=${encodeURIComponent(number)}`, { token }));
    say(`找到 ${number}。Found ${number}.`);
  } catch (exc) {
    $('found').hidden = true;
    problem(exc);
  }
}

async function ticketCommand(ticket, action, done, body = {}) {
  if (!ticket) return;
  try {
    const answer = await api('POST', `/tickets/${encodeURIComponent(ticket.id)}/${action}`, {
      token, body, key: newKey(),
    });
    done(answer);
  } catch (exc) {
    problem(exc);
  }
}

function reprint(ticket) {
  return ticketCommand(ticket, 'reprint', (answer) => {
    const job = answer && (answer.job || answer);
    const state = job && job.status ? `（${job.status}）` : '';
    say(`已发送重新打印 ${ticket.number}${state}。Reprint sent.`);
  }, PRINTER ? { device: PRINTER } : {});
}

async function requeue() {
  await ticketCommand(found, 'requeue', (t) => {
    showFound(t);
    say(`${t.number} 已重新排队，前面 ${t.waiting_ahead ?? 0} 人。Re-queued.`);
  });
}

async function cancel() {
  if (!found || !window.confirm(`确定取消 ${found.number}？Cancel ${found.number}?`)) return;
  await ticketCommand(found, 'cancel', (t) => {
    showFound(t);
    say(`${t.number} 已取消。Cancelled.`);
  });
}

async function start() {
  $('login-form').addEventListener('submit', signIn);
  $('logout').addEventListener('click', signOut);
  $('issue-form').addEventListener('submit', issue);
  $('find-form').addEventListener('submit', find);
  $('issued-reprint').addEventListener('click', () => reprint(issued));
  $('act-reprint').addEventListener('click', () => reprint(found));
  $('act-requeue').addEventListener('click', requeue);
  $('act-cancel').addEventListener('click', cancel);
  if (!token) {
    signOut();
    return;
  }
  try {
    await openDesk();
  } catch (exc) {
    signOut();
    if (exc instanceof ApiError) $('login-error').textContent = exc.message;
  }
}

start();
