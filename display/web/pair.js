// /pair/{code}: trade the single-use pairing code for this device's token, keep it in
// localStorage (lib/credential.js) and open the device's page with location.replace, so the
// code stays neither in the address bar nor in the history. A wrong, used or expired code
// gets a plain Chinese explanation of what to do; a network failure offers a retry (the
// code is only spent when the server answered).

import { api, ApiError } from './lib/api.js';
import { saveCredential } from './lib/credential.js';

const $ = (id) => document.getElementById(id);

function say(title, text, en) {
  $('pair-title').textContent = title;
  $('pair-text').textContent = text;
  $('pair-en').textContent = en;
  document.title = title;
}

function codeFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  if (parts.length !== 2 || parts[0] !== 'pair') return null;
  try {
    return decodeURIComponent(parts[1]);
  } catch {
    return null;
  }
}

function retryButton() {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'pair-retry';
  button.textContent = '重试';
  button.addEventListener('click', () => {
    button.remove();
    pair();
  });
  $('pair').append(button);
}

async function pair() {
  const code = codeFromPath();
  if (!code) {
    say('配对链接不完整', '请从管理员处获取完整的配对链接（/pair/配对码）后重新打开。',
      'The pairing link is incomplete: open the whole link you were given.');
    return;
  }
  say('正在配对…', '请稍候，本设备正在向服务器登记。', 'Pairing this device…');
  let answer;
  try {
    answer = await api('POST', '/devices/pair', { body: { code } });
  } catch (exc) {
    document.body.classList.add('pair-failed');
    if (exc instanceof ApiError && exc.status === 0) {
      say('无法连接服务器', '请检查本设备的网络连接，然后点击「重试」。配对码尚未使用。',
        'Cannot reach the server; check the network and retry. The code is still valid.');
      retryButton();
    } else if (exc instanceof ApiError && exc.code === 'pairing_invalid') {
      say('配对码无效或已过期',
        '配对链接只能使用一次，且在生成后 10 分钟内有效。请管理员重新运行 hallq device add 生成新的配对链接，再在本设备上打开。',
        'This pairing code is wrong, used or expired: ask for a new link ("hallq device add").');
    } else {
      say('配对失败', exc.message || String(exc), exc.messageEn || '');
    }
    return;
  }
  saveCredential({
    token: answer.token,
    hall: answer.hall,
    role: answer.role,
    window: answer.window,
    zone: answer.zone,
  });
  if (answer.page) {
    location.replace(answer.page);
    return;
  }
  history.replaceState(null, '', '/');
  say('配对成功', '本设备已登记（此类设备没有显示页面），可以关闭此页。',
    'Paired. This kind of device has no page of its own; you may close this one.');
}

pair();
