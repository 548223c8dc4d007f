// In-page overlay (isolated world): a small card near the upload with progress, then "protected" or an
// error.  It lives in its own shadow root so page styles cannot change it; buttons ignore untrusted clicks.
(() => {
  'use strict';
  if (globalThis.artshadeOverlay) return;

  const STYLE = `
    :host { all: initial; }
    .card { position: fixed; z-index: 2147483647; box-sizing: border-box; width: 300px; padding: 10px 12px;
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

  function place(card, anchor) {
    const r = anchorRect(anchor);
    const w = 300;
    const vw = document.documentElement.clientWidth || innerWidth;
    const vh = document.documentElement.clientHeight || innerHeight;
    if (!r) {
      card.style.right = '16px';
      card.style.bottom = '16px';
      return;
    }
    const left = Math.min(Math.max(8, r.left), Math.max(8, vw - w - 8));
    const below = r.bottom + 8;
    const top = below + 90 < vh ? below : Math.max(8, r.top - 98);
    card.style.left = `${left}px`;
    card.style.top = `${Math.min(top, Math.max(8, vh - 98))}px`;
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
    const root = host.attachShadow({ mode: 'open' });
    root.append(build());
    const card = root.querySelector('.card');
    const msg = root.querySelector('.msg');
    const fill = root.querySelector('.fill');
    let timer = null;
    let answer = null;
    (document.body ?? document.documentElement).appendChild(host);
    place(card, anchor);

    const set = (state, text) => {
      clearTimeout(timer);
      card.dataset.state = state;
      msg.textContent = text;
      host.setAttribute('data-state', state);
      host.setAttribute('data-message', text);
    };
    const close = () => {
      clearTimeout(timer);
      host.remove();
      answer?.(false);
    };
    root.querySelector('.close').addEventListener('click', (ev) => ev.isTrusted && close());
    const reply = (value) => (ev) => {
      if (!ev.isTrusted || !answer) return; // the page cannot click these for the artist
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
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
      close,
    };
  }

  globalThis.artshadeOverlay = { show };
})();
