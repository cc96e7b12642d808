// The terminal's sign-in: a terminal device's credential (localStorage, window from
// /auth/me), or a staff login kept in sessionStorage (a shared PC forgets it with the tab)
// followed by taking a window of the staff member's hall. Hands the desk a session:
//
//   signIn(enterDesk)   enterDesk({token, hall, window, kind: 'device'|'staff', name, code},
//                                  hallInfo or null) is awaited once the window is known
//   endStaffSession(note)  forget the staff session and reload, showing `note` at the login
//   show(screen)        'boot' | 'signin' | 'pick' | 'desk'
//   messageOf(exc)      the Chinese message to show for an error

import { api, ApiError, newKey } from './lib/api.js';
import { loadCredential, whoAmI } from './lib/credential.js';

const STAFF_KEY = 'hallq.staff'; // sessionStorage: {token, hall, name, code}
const NOTE_KEY = 'hallq.staff.note'; // sessionStorage: why the login form is shown again
const BOOT_RETRIES = 60;
const BOOT_RETRY_MS = 5000;
export const WINDOW_STATUS = { open: '服务中', paused: '暂停服务', closed: '未开窗' };

const $ = (id) => document.getElementById(id);

let enterDesk = null;
let hallInfo = null; // the staff member's hall, for the window pick
let taking = false; // a window is being taken: one request at a time

export function signIn(onDesk) {
  enterDesk = onDesk;
  return boot();
}

export function show(screen) {
  for (const id of ['boot', 'signin', 'pick', 'desk']) $(id).hidden = id !== screen;
}

function loadStaff() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STAFF_KEY) || 'null');
    return value && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

async function boot(attempt = 0) {
  show('boot');
  let note = '';
  try {
    const device = loadCredential();
    if (device) {
      const me = await whoAmI(device.token).catch((exc) => refused(exc));
      if (me && me.role === 'terminal' && me.window) {
        return await enterDesk({ token: device.token, hall: me.hall, window: me.window, kind: 'device', name: me.name });
      }
      note = me ? '本设备不是窗口终端，请工作人员登录。' : '本设备的凭证已失效，请重新配对，或由工作人员登录。';
    }
    const staff = loadStaff();
    if (staff) {
      const me = await whoAmI(staff.token).catch((exc) => refused(exc));
      if (me) return me.window ? await enterDesk(staffSession(staff, me)) : await showPick(staff);
      sessionStorage.removeItem(STAFF_KEY);
      note = '登录已失效，请重新登录。';
    }
  } catch (exc) {
    if (attempt < BOOT_RETRIES) {
      $('boot-text').textContent = `${messageOf(exc)}（${BOOT_RETRY_MS / 1000} 秒后自动重试）`;
      setTimeout(() => boot(attempt + 1), BOOT_RETRY_MS);
      return undefined;
    }
    $('boot-text').textContent = `${messageOf(exc)} 请检查网络后刷新页面。`;
    return undefined;
  }
  note = sessionStorage.getItem(NOTE_KEY) || note;
  sessionStorage.removeItem(NOTE_KEY);
  return showLogin(note);
}

/** null for a refused credential (401/403); other failures (network, 5xx) propagate. */
function refused(exc) {
  if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) return null;
  throw exc;
}

function staffSession(staff, me) {
  return { token: staff.token, hall: me.hall, window: me.window, kind: 'staff', name: me.name, code: staff.code };
}

export function messageOf(exc) {
  return exc instanceof ApiError ? exc.message : '页面出错，请刷新后重试。';
}

// -- staff sign-in and window pick ---------------------------------------------------------

function showLogin(note = '') {
  show('signin');
  $('login-note').textContent = note;
  $('login-note').hidden = !note;
  $('login-user').focus();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = $('login-submit');
  if (button.disabled) return;
  button.disabled = true;
  $('login-error').hidden = true;
  try {
    const body = { username: $('login-user').value.trim(), password: $('login-pass').value };
    const reply = await api('POST', '/auth/login', { body, key: newKey() });
    const staff = { token: reply.token, hall: reply.staff.hall, name: reply.staff.name, code: reply.staff.code };
    sessionStorage.setItem(STAFF_KEY, JSON.stringify(staff));
    $('login-pass').value = '';
    await showPick(staff);
  } catch (exc) {
    $('login-error').textContent = messageOf(exc);
    $('login-error').hidden = false;
  } finally {
    button.disabled = false;
  }
});

async function showPick(staff) {
  show('pick');
  $('pick-who').textContent = `${staff.name || ''}，您好。签入后本浏览器标签页即为该窗口的终端。`;
  if (!staff.hall) {
    pickError('此账号不属于任何大厅，请使用大厅工作人员账号登录窗口终端。');
    return;
  }
  try {
    hallInfo = await api('GET', `/halls/${encodeURIComponent(staff.hall)}`);
  } catch (exc) {
    pickError(messageOf(exc));
    return;
  }
  const list = $('pick-list');
  list.replaceChildren(
    ...hallInfo.windows.map((w) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn pick-window';
      b.setAttribute('role', 'listitem');
      b.innerHTML = '<b></b><span></span><small></small>';
      b.children[0].textContent = `${w.number}号窗口`;
      b.children[1].textContent = w.name;
      b.children[2].textContent = WINDOW_STATUS[w.status] || '';
      b.addEventListener('click', () => takeWindow(staff, w.id));
      return b;
    }),
  );
  $('pick-input').value = '';
  $('pick-input').focus();
}

function pickError(text) {
  $('pick-error').textContent = text;
  $('pick-error').hidden = !text;
}

$('pick-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const typed = $('pick-input').value.trim();
  const w = hallInfo && hallInfo.windows.find((x) => x.id === typed || String(x.number) === typed);
  if (!w) {
    pickError(`没有「${typed}」号窗口，请输入本大厅的窗口号。`);
    return;
  }
  takeWindow(loadStaff(), w.id);
});

$('pick-signout').addEventListener('click', () => {
  sessionStorage.removeItem(STAFF_KEY);
  showLogin();
});

async function takeWindow(staff, windowId) {
  if (!staff || taking) return;
  taking = true;
  pickError('');
  try {
    const path = `/halls/${encodeURIComponent(staff.hall)}/windows/${encodeURIComponent(windowId)}/open`;
    await api('POST', path, { token: staff.token, key: newKey() });
    await enterDesk(
      { token: staff.token, hall: staff.hall, window: windowId, kind: 'staff', name: staff.name, code: staff.code },
      hallInfo,
    );
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      endStaffSession('登录已失效，请重新登录。');
    } else {
      pickError(messageOf(exc));
    }
  } finally {
    taking = false;
  }
}


/** Forget the staff session and start the page afresh (no live connection, timer or picker
 * of the old session survives), with ``note`` shown above the login form. */
export function endStaffSession(note) {
  sessionStorage.removeItem(STAFF_KEY);
  if (note) sessionStorage.setItem(NOTE_KEY, note);
  location.reload();
}
