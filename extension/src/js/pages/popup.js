// Popup: this site's switch, intensity and mode, and the daemon/helper status.  It renders only the state
// the background confirms after each change, never the one it asked for.
import { api } from '../common/api.js';
import { call } from '../common/messaging.js';
import { patternsFor } from '../common/sites.js';
import { $, deviceText, fillSelect, pill, queueText } from './ui.js';

const params = new URLSearchParams(location.search);
let state = null;

async function currentHost() {
  if (params.get('site')) return params.get('site');
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  try {
    return new URL(tab.url).host;
  } catch {
    return '';
  }
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
}

$('#site-switch').addEventListener('click', () => change({ enabled: !state.enabled }));
$('#intensity').addEventListener('change', (e) => change({ intensity: e.target.value }));
$('#mode').addEventListener('change', (e) => change({ mode: e.target.value }));
$('#options-link').addEventListener('click', (e) => {
  e.preventDefault();
  api.runtime.openOptionsPage();
});

load().catch((err) => {
  $('#site-error').textContent = err.message;
});
