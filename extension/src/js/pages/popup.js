// Popup: this site's switch, intensity and mode, and the daemon/helper status.  It renders only the state
// the background confirms after each change, never the one it asked for.
import { api } from '../common/api.js';
import { call } from '../common/messaging.js';
import { patternsFor } from '../common/sites.js';
import { $, deviceText, fillSelect, pill, queueText } from './ui.js';

const params = new URLSearchParams(location.search);
let state = null;
let tabId = null;

async function currentHost() {
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  tabId = params.has('tab') ? Number(params.get('tab')) : tab?.id ?? null;
  if (params.get('site')) return params.get('site');
  try {
    return new URL(tab.url).host;
  } catch {
    return '';
  }
}

/** This tab: reload it (open before its site was enabled), and frames of other sites in it. */
async function renderTab() {
  const notes = $('#frame-notes');
  notes.replaceChildren();
  $('#reload-note').hidden = true;
  if (tabId === null || !state?.enabled) return;
  let guard;
  try {
    guard = await call('tabGuard', { tabId });
  } catch {
    return;
  }
  if (guard.site !== state.site) return;
  $('#reload-note').hidden = !guard.late;
  for (const frame of guard.frames) {
    const li = document.createElement('li');
    li.dataset.frame = frame.site;
    li.dataset.state = frame.state;
    const p = document.createElement('p');
    li.append(p);
    if (frame.state === 'unprotected') {
      p.textContent = `Uploads in the frame from ${frame.site} are not protected.`;
      const button = document.createElement('button');
      button.textContent = `Protect uploads in frames from ${frame.site}`;
      button.addEventListener('click', () => protectFrames(frame.site));
      li.append(button);
    } else if (frame.state === 'reload') {
      p.textContent = `Uploads in the frame from ${frame.site} are protected once this tab is reloaded.`;
    } else {
      p.textContent = `Uploads in the frame from ${frame.site} are protected.`;
    }
    notes.append(li);
  }
  if (guard.frames.some((f) => f.state === 'reload')) $('#reload-note').hidden = false;
}

/** The artist's click: ask the browser for that site (a user gesture), then have the guard run there. */
async function protectFrames(frame) {
  $('#site-error').textContent = '';
  try {
    const granted = await api.permissions.request({ origins: patternsFor(frame) });
    if (!granted) throw new Error(`artshade was not allowed to run in frames from ${frame}`);
    await call('protectFrames', { site: state.site, frame });
  } catch (err) {
    $('#site-error').textContent = err.message;
  }
  await renderTab();
}

function renderSite() {
  const sw = $('#site-switch');
  const usable = Boolean(state?.site);
  sw.disabled = !usable;
  sw.setAttribute('aria-busy', 'false');
  sw.setAttribute('aria-checked', String(Boolean(state?.enabled)));
  sw.dataset.confirmed = String(Boolean(state?.enabled));
  $('#switch-label').textContent = state?.enabled ? 'Protection is ON' : 'Protection is OFF';
  $('#site-name').textContent = usable ? `for uploads on ${state.site}` : 'artshade cannot run on this page';
  fillSelect($('#intensity'), state.choices.intensity, state.intensity);
  fillSelect($('#mode'), state.choices.mode, state.mode);
  $('#intensity').disabled = !usable;
  $('#mode').disabled = !usable;
}

function renderDaemon() {
  const d = state.daemon;
  if (d.running) pill($('#daemon-state'), 'ok', d.paired ? 'running' : 'running, not paired');
  else pill($('#daemon-state'), 'bad', 'not running');
  $('#daemon-state').title = d.error ?? d.url;
  $('#daemon-device').textContent = deviceText(d.status);
  $('#daemon-queue').textContent = queueText(d.status);
  const host = state.host;
  if (host.installed) pill($('#host-state'), 'ok', 'installed');
  else pill($('#host-state'), 'warn', 'not installed');
  $('#host-state').title = host.message ?? '';
  $('#host-install').hidden = host.installed;
  $('#install-command').textContent = state.installCommand;
}

async function load() {
  state = await call('popupState', { host: await currentHost() });
  document.body.dataset.ready = 'true';
  renderSite();
  renderDaemon();
  await renderTab();
  document.body.dataset.tabChecked = 'true';
}

async function change(fields) {
  $('#site-error').textContent = '';
  const sw = $('#site-switch');
  sw.setAttribute('aria-busy', 'true');
  sw.disabled = true;
  try {
    if (fields.enabled && !state.permission) {
      const granted = await api.permissions.request({ origins: patternsFor(state.site) });
      if (!granted) throw new Error(`artshade was not allowed to run on ${state.site}`);
    }
    const confirmed = await call('setSiteState', { site: state.site, ...fields });
    state = { ...state, ...confirmed };
  } catch (err) {
    $('#site-error').textContent = err.message;
    state = { ...state, ...(await call('popupState', { host: state.site })) };
  }
  renderSite();
  await renderTab();
}

$('#site-switch').addEventListener('click', () => change({ enabled: !state.enabled }));
$('#intensity').addEventListener('change', (e) => change({ intensity: e.target.value }));
$('#mode').addEventListener('change', (e) => change({ mode: e.target.value }));
$('#reload-tab').addEventListener('click', async () => {
  if (tabId !== null) await api.tabs.reload(tabId);
  window.close();
});
$('#options-link').addEventListener('click', (e) => {
  e.preventDefault();
  api.runtime.openOptionsPage();
});

load().catch((err) => {
  $('#site-error').textContent = err.message;
});
