// Options: sites (on/off, platform profile, add/remove), the unreachable-daemon policy, shading defaults
// and pairing.  Every change goes through the background, and the page re-renders what it confirms.
import { api } from './api.js';
import { call } from './messaging.js';
import { normaliseSite, patternsFor } from './sites.js';
import { describePlatform } from './storage.js';
import { $, fillSelect, pill } from './ui.js';

let options = null;

function siteRow(site) {
  const tr = document.createElement('tr');
  tr.dataset.site = site.site;
  const name = document.createElement('td');
  name.textContent = site.site;
  const on = document.createElement('td');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = site.enabled;
  box.setAttribute('aria-label', `Protect uploads on ${site.site}`);
  box.addEventListener('change', () => toggleSite(site, box.checked));
  on.append(box);
  const platform = document.createElement('td');
  const select = document.createElement('select');
  select.setAttribute('aria-label', `Platform profile for ${site.site}`);
  fillSelect(select, options.choices.platform, site.platform);
  for (const option of select.options) option.title = describePlatform(option.value);
  select.title = describePlatform(site.platform);
  select.addEventListener('change', () => update(call('setSiteState', { site: site.site, platform: select.value }), '#sites-error'));
  platform.append(select);
  const actions = document.createElement('td');
  if (!site.offered) {
    const remove = document.createElement('button');
    remove.textContent = 'Remove';
    remove.addEventListener('click', () => update(call('removeSite', { site: site.site }), '#sites-error'));
    actions.append(remove);
  }
  tr.append(name, on, platform, actions);
  return tr;
}

// Called first thing in a click/submit handler: Firefox only shows the prompt during the user's gesture.
// Already granted origins resolve true at once, without a prompt.
async function ensurePermission(site) {
  if (!(await api.permissions.request({ origins: patternsFor(site) }))) {
    throw new Error(`artshade was not allowed to run on ${site}`);
  }
}

async function toggleSite(site, enabled) {
  const work = (async () => {
    if (enabled) await ensurePermission(site.site);
    return call('setSiteState', { site: site.site, enabled });
  })();
  await update(work, '#sites-error');
}

function render() {
  $('#sites').replaceChildren(...options.sites.map(siteRow));
  for (const radio of document.querySelectorAll('input[name=policy]')) radio.checked = radio.value === options.policy;
  for (const key of ['preset', 'intensity', 'mode']) fillSelect($(`#${key}`), options.choices[key], options[key]);
  $('#daemon-url').textContent = options.daemonUrl;
  pill($('#paired'), options.paired ? 'ok' : 'warn', options.paired ? `yes (${options.pairedBy || 'stored token'})` : 'not yet');
}

async function refreshDaemon() {
  const d = await call('daemonStatus');
  pill($('#daemon-state'), d.running ? 'ok' : 'bad', d.running ? `running${d.version ? ` ${d.version}` : ''}` : 'not running');
  $('#daemon-state').title = d.error ?? '';
}

/** Wait for a background call, then show what it confirms (or the error). */
async function update(work, errorSelector) {
  $(errorSelector).textContent = '';
  try {
    await work;
  } catch (err) {
    $(errorSelector).textContent = err.message;
  }
  options = await call('getOptions');
  render();
  document.body.dataset.updated = String(Date.now());
}

$('#add-site-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const raw = $('#add-site').value;
  const site = normaliseSite(raw);
  const work = (async () => {
    if (!site) throw new Error(`"${raw}" is not a site name (try example.com)`);
    await ensurePermission(site);
    await call('addSite', { site });
    $('#add-site').value = '';
  })();
  update(work, '#sites-error');
});

$('#policy').addEventListener('change', (event) => update(call('setOptions', { policy: event.target.value }), '#sites-error'));
for (const key of ['preset', 'intensity', 'mode']) {
  $(`#${key}`).addEventListener('change', (event) => update(call('setOptions', { [key]: event.target.value }), '#sites-error'));
}

$('#pair-form').addEventListener('submit', (event) => {
  event.preventDefault();
  update(call('pairWithCode', { code: $('#pair-code').value }).then(() => {
    $('#pair-code').value = '';
  }), '#pair-error').then(refreshDaemon);
});
$('#pair-host').addEventListener('click', () => update(call('pairWithHost'), '#pair-error').then(refreshDaemon));

update(Promise.resolve(), '#sites-error').then(() => {
  document.body.dataset.ready = 'true';
  return refreshDaemon();
});
