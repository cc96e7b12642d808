// The stale-connection banner every live page shows.
//
//   staleBanner(live, {parent = document.body}) → the banner element
//       Shows 「连接中断，正在重连」 (role="alert", so screen readers hear it) while
//       live.stale is true and hides it otherwise; follows live's 'stale' events. The page
//       keeps showing its last known state underneath: old numbers with a warning beat a
//       blank screen. Styled by .hallq-stale-banner in lib/hall.css.

export function staleBanner(live, { parent = document.body } = {}) {
  const banner = document.createElement('div');
  banner.className = 'hallq-stale-banner';
  banner.id = 'hallq-stale-banner';
  banner.setAttribute('role', 'alert');
  banner.setAttribute('lang', 'zh-CN');
  banner.textContent = '连接中断，正在重连';
  const show = (stale) => {
    banner.hidden = !stale;
    document.documentElement.classList.toggle('hallq-stale', stale);
  };
  show(live.stale);
  live.addEventListener('stale', (ev) => show(ev.detail));
  parent.prepend(banner);
  return banner;
}
