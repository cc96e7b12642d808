// The terminal's one picker (a modal <dialog>): outcomes, transfer targets, pause reasons,
// a number to call. Keyboard first: digits 1–9 choose the numbered options at once, ↑/↓ move
// between options and Enter takes the focused one, an optional text field takes free input
// with Enter, Esc cancels.
//
//   openPicker({title, options: [{label, run, sub?, group?, compact?, numbered? = true}],
//               input?: {label, submit(text) → error text or null}, hint})
//   closePicker()
//   pickerOpen() → boolean

const $ = (id) => document.getElementById(id);
const dialog = $('picker');

let numbered = []; // the options digits choose, in order

export function pickerOpen() {
  return dialog.open;
}

export function closePicker() {
  if (dialog.open) dialog.close();
}

export function openPicker({ title, options, input = null, hint = '' }) {
  $('picker-title').textContent = title;
  setHint(hint);
  numbered = [];
  const groups = new Map(); // title → its section, side by side in the picker
  for (const option of options) {
    const title = option.group || '';
    if (!groups.has(title)) groups.set(title, pickerGroup(title));
    const section = groups.get(title);
    if (option.compact) section.classList.add('compact');
    section.lastChild.append(optionButton(option));
  }
  $('picker-options').replaceChildren(...groups.values());
  $('picker-options').hidden = options.length === 0;
  const form = $('picker-form');
  form.hidden = !input;
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const typed = $('picker-input').value.trim();
    if (!typed) return;
    const error = input.submit(typed);
    if (error) setHint(error, true);
    else closePicker();
  };
  $('picker-input').value = '';
  $('picker-input-label').textContent = input ? input.label : '';
  dialog.showModal();
  const first = dialog.querySelector('.picker-option');
  (first || $('picker-input')).focus();
}

function pickerGroup(title) {
  const section = document.createElement('section');
  section.className = 'picker-group';
  if (title) {
    const h = document.createElement('h3');
    h.textContent = title;
    section.append(h);
  }
  const grid = document.createElement('div');
  grid.className = 'picker-grid';
  section.append(grid);
  return section;
}

function optionButton(option) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn picker-option';
  const digit = option.numbered !== false && numbered.length < 9 ? numbered.length + 1 : null;
  if (digit !== null) {
    numbered.push(option);
    const kbd = document.createElement('kbd');
    kbd.textContent = String(digit);
    b.append(kbd);
  }
  const text = document.createElement('span');
  text.className = 'picker-text';
  text.textContent = option.label;
  if (option.sub) {
    const sub = document.createElement('small');
    sub.textContent = option.sub;
    text.append(sub);
  }
  b.append(text);
  b.addEventListener('click', () => choose(option));
  return b;
}

function choose(option) {
  closePicker();
  option.run();
}

function setHint(text, error = false) {
  $('picker-hint').textContent = text;
  $('picker-hint').className = error ? 'error' : 'note';
}

dialog.addEventListener('keydown', (ev) => {
  // Nothing typed in the picker may reach the desk's shortcuts.
  ev.stopPropagation();
  if (ev.target === $('picker-input')) return; // Enter submits, Esc cancels (native)
  if (/^[1-9]$/.test(ev.key) && numbered[Number(ev.key) - 1]) {
    ev.preventDefault();
    if (!ev.repeat) choose(numbered[Number(ev.key) - 1]);
    return;
  }
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    const focusable = [...dialog.querySelectorAll('.picker-option')]; // in reading order
    if (!$('picker-form').hidden) focusable.push($('picker-input'));
    const at = focusable.indexOf(document.activeElement);
    const step = ev.key === 'ArrowDown' ? 1 : -1;
    const next = focusable[(at + step + focusable.length) % focusable.length];
    if (next) next.focus();
  }
});

dialog.addEventListener('close', () => {
  // focus back to the page so the desk's keys work again at once
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
});
