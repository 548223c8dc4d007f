// In-page overlay (isolated world): a small card near the upload with progress, then "protected" or an
// error.  It lives in a closed shadow root so page code and styles cannot reach into it; buttons ignore
// untrusted clicks, and "Upload unprotected" takes a click only when the card is really visible (nothing
// made it transparent, hid, clipped, shrank or covered it, and it is on screen) and has been, unchanged,
// for a moment: a page cannot turn it into an invisible button under a decoy (clickjacking).
(() => {
  'use strict';
  if (globalThis.artshadeOverlay) return;

  const STYLE = `
    :host { all: initial; }
    .card { box-sizing: border-box; width: 300px; padding: 10px 12px;
      border-radius: 10px; background: #1f1a33; color: #f4f1ff; font: 13px/1.4 system-ui, sans-serif;
      box-shadow: 0 6px 24px rgba(0,0,0,.35); border: 1px solid #4b3f80; }
    .head { display: flex; align-items: center; gap: 8px; font-weight: 600; }
    .dot { width: 10px; height: 10px; border-radius: 50%; background: #a58cff; flex: none; }
    .card[data-state=done] .dot { background: #5ad17a; }
    .card[data-state=error] { border-color: #d9534f; }
    .card[data-state=error] .dot, .card[data-state=ask] .dot { background: #ff6b5e; }
    .card[data-state=warn] .dot { background: #ffbf47; }
    .msg { margin-top: 4px; word-wrap: break-word; }
    .bar { margin-top: 8px; height: 6px; border-radius: 3px; background: #3a3160; overflow: hidden; }
    .fill { height: 100%; width: 0; background: linear-gradient(90deg, #8a6cff, #c3a6ff); transition: width .2s; }
    .card:not([data-state=working]) .bar { display: none; }
    .buttons { display: none; margin-top: 8px; gap: 8px; justify-content: flex-end; }
    .card[data-state=ask] .buttons { display: flex; }
    button { font: inherit; border-radius: 6px; padding: 3px 10px; border: 1px solid #6f5fc0; cursor: pointer;
      background: #2c2550; color: inherit; }
    button.primary { background: #6f5fc0; }
    .close { margin-left: auto; background: none; border: none; padding: 0 4px; font-size: 15px; }
  `;

  function anchorRect(anchor) {
    for (let el = anchor; el && el.nodeType === 1; el = el.parentElement ?? el.getRootNode()?.host) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) return r;
    }
    return null;
  }

  // The host itself is the positioned box, styled inline with !important (a page's style sheets cannot
  // override that; a page's script can, which the click check below notices).
  const HOST_STYLE = {
    all: 'initial', display: 'block', position: 'fixed', 'z-index': '2147483647', width: '300px',
    opacity: '1', visibility: 'visible', 'pointer-events': 'auto', transform: 'none', filter: 'none',
  };

  function place(host, anchor) {
    for (const [k, v] of Object.entries(HOST_STYLE)) host.style.setProperty(k, v, 'important');
    const r = anchorRect(anchor);
    const w = 300;
    const vw = document.documentElement.clientWidth || innerWidth;
    const vh = document.documentElement.clientHeight || innerHeight;
    if (!r) {
      host.style.setProperty('right', '16px', 'important');
      host.style.setProperty('bottom', '16px', 'important');
      return;
    }
    const left = Math.min(Math.max(8, r.left), Math.max(8, vw - w - 8));
    const below = r.bottom + 8;
    const top = below + 90 < vh ? below : Math.max(8, r.top - 98);
    host.style.setProperty('left', `${left}px`, 'important');
    host.style.setProperty('top', `${Math.min(top, Math.max(8, vh - 98))}px`, 'important');
  }

  /** How long the ask card must have been on screen, unchanged, before "Upload unprotected" counts. */
  const MIN_VISIBLE_MS = 600;

  /** The card and the button clicked are really there to see: the click landed on them, nothing above in
   * the tree makes them transparent, hidden, clipped, filtered or shrunk, and they are inside the window. */
  function reallyVisible(host, button, ev) {
    if (!host.isConnected) return false;
    for (let el = host; el; el = el.parentElement) {
      const cs = getComputedStyle(el);
      if (cs.display === 'none' || Number(cs.opacity) < 0.99) return false;
      if (cs.filter !== 'none' || (cs.clipPath && cs.clipPath !== 'none') || (cs.mixBlendMode && cs.mixBlendMode !== 'normal')) return false;
      if (el !== host && cs.transform !== 'none' && !/^matrix\(1, 0, 0, 1,/.test(cs.transform)) return false;
    }
    if (getComputedStyle(host).visibility !== 'visible') return false;
    const r = button.getBoundingClientRect();
    const vw = document.documentElement.clientWidth || innerWidth;
    const vh = document.documentElement.clientHeight || innerHeight;
    if (r.width < 40 || r.height < 12 || r.left < 0 || r.top < 0 || r.right > vw || r.bottom > vh) return false;
    if (ev.detail > 0) { // a pointer click (keyboard activation has no point)
      if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) return false;
      if (document.elementFromPoint(ev.clientX, ev.clientY) !== host) return false; // nothing on top
    }
    return true;
  }

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.append(...children);
    return node;
  }

  function build() {
    const style = el('style');
    style.textContent = STYLE;
    const card = el('div', { class: 'card', role: 'status', 'aria-live': 'polite', 'data-state': 'working' }, [
      el('div', { class: 'head' }, [
        el('span', { class: 'dot' }), el('span', {}, ['artshade']),
        el('button', { class: 'close', title: 'Close', 'aria-label': 'Close' }, ['×']),
      ]),
      el('div', { class: 'msg' }),
      el('div', { class: 'bar' }, [el('div', { class: 'fill' })]),
      el('div', { class: 'buttons' }, [
        el('button', { class: 'no' }, ['Cancel upload']),
        el('button', { class: 'yes primary' }, ['Upload unprotected']),
      ]),
    ]);
    const fragment = document.createDocumentFragment();
    fragment.append(style, card);
    return fragment;
  }

  /** show(anchor) -> {working(text, fraction), done(text), warn(text), error(text), ask(text), close()}. */
  function show(anchor) {
    const host = document.createElement('div');
    host.setAttribute('data-artshade-overlay', '');
    const root = host.attachShadow({ mode: 'closed' });
    root.append(build());
    const card = root.querySelector('.card');
    const msg = root.querySelector('.msg');
    const fill = root.querySelector('.fill');
    let timer = null;
    let answer = null;
    (document.body ?? document.documentElement).appendChild(host);
    place(host, anchor);
    let shownAt = 0; // when the ask card last appeared or was changed by someone else
    new MutationObserver(() => {
      shownAt = performance.now();
    }).observe(host, { attributes: true, attributeFilter: ['style', 'class', 'hidden'] });
    const changed = () => {
      shownAt = performance.now();
    };
    addEventListener('resize', changed, true);
    addEventListener('scroll', changed, true);

    const set = (state, text) => {
      clearTimeout(timer);
      card.dataset.state = state;
      msg.textContent = text;
      host.setAttribute('data-state', state);
      host.setAttribute('data-message', text);
    };
    const close = () => {
      clearTimeout(timer);
      removeEventListener('resize', changed, true);
      removeEventListener('scroll', changed, true);
      host.remove();
      answer?.(false);
    };
    root.querySelector('.close').addEventListener('click', (ev) => ev.isTrusted && close());
    const reply = (value) => (ev) => {
      if (!ev.isTrusted || !answer) return; // the page cannot click these for the artist
      if (value && (performance.now() - shownAt < MIN_VISIBLE_MS || !reallyVisible(host, ev.currentTarget, ev))) {
        return; // not seen long enough, or not really visible: not the artist's decision
      }
      const a = answer;
      answer = null;
      a(value);
    };
    root.querySelector('.yes').addEventListener('click', reply(true));
    root.querySelector('.no').addEventListener('click', reply(false));

    return {
      element: host,
      working(text, fraction = 0) {
        set('working', text);
        fill.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
      },
      done(text) {
        set('done', text);
        timer = setTimeout(close, 5000);
      },
      warn(text) {
        set('warn', text);
        timer = setTimeout(close, 10000);
      },
      error(text) {
        set('error', text);
      },
      ask(text) {
        set('ask', text);
        shownAt = performance.now();
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
      close,
    };
  }

  globalThis.artshadeOverlay = { show };
})();
