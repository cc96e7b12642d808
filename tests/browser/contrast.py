"""WCAG 2 contrast of every visible text element of a page, measured in the page itself.

``await low_contrast(page)`` returns the offenders: elements that hold text of their own and
whose text colour has a contrast ratio below ``minimum`` (4.5:1, WCAG AA for normal text)
against the effective background, i.e. the first non-transparent ``background-color`` found
walking up the ancestors, with semi-transparent layers blended over what is below them (the
canvas is white, as in a browser). Text colours with alpha are blended over that background
too. Background images and gradients are not read: hallq's pages use plain colours.

An element counts as visible when it has a box, ``visibility: visible`` and no ancestor with
``opacity: 0``; it need not be inside the viewport (a scrolling notice still counts).
"""

from __future__ import annotations

from typing import TypedDict

from playwright.async_api import Page

AA_NORMAL = 4.5


class Offender(TypedDict):
    text: str
    element: str
    color: str
    background: str
    ratio: float


_SCRIPT = """
(minimum) => {
  const parse = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const parts = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  });
  const channel = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0) {
        layers.push(bg);
        if (bg.a >= 1) break;
      }
    }
    let result = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const hidden = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      if (Number(getComputedStyle(node).opacity) === 0) return true;
    }
    return false;
  };
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (el.classList.length) name += '.' + [...el.classList].join('.');
    return name;
  };
  const css = (c) => `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
  const offenders = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes]
      .filter((n) => n.nodeType === 3)
      .map((n) => n.textContent.trim())
      .join(' ')
      .trim();
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility !== 'visible' || box.width === 0 || box.height === 0 || hidden(el)) {
      continue;
    }
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const r = ratio(fg, bg);
    if (r < minimum) {
      offenders.push({
        text: own.slice(0, 60), element: describe(el), color: css(fg), background: css(bg),
        ratio: Math.round(r * 100) / 100,
      });
    }
  }
  return offenders;
}
"""


async def low_contrast(page: Page, minimum: float = AA_NORMAL) -> list[Offender]:
    """Visible text elements of ``page`` whose contrast is below ``minimum`` (see module)."""
    found: list[Offender] = await page.evaluate(_SCRIPT, minimum)
    return found
