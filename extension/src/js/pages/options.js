// Options: sites (on/off, platform profile, add/remove), the unreachable-daemon policy, shading defaults
// and pairing.  Every change goes through the background, and the page re-renders what it confirms.
import { api } from '../common/api.js';
import { toBase64 } from '../common/bytes.js';
import { call } from '../common/messaging.js';
import { normaliseSite, patternsFor } from '../common/sites.js';
import { describePlatform } from '../common/storage.js';
import { $, fillSelect, pill } from './ui.js';

let options = null;

function siteRow(site) {
  const tr = document.createElement('tr');
  tr.dataset.site = site.site;
  const name = document.createElement('td');
  name.textContent = site.site;
  for (const frame of site.frames ?? []) {
    // frames of another site inside this one, where the artist extended protection (from the popup)
    const line = document.createElement('div');
    line.className = 'muted frame-site';
    line.dataset.frame = frame;
    line.textContent = `and its frames from ${frame} `;
    const forget = document.createElement('button');
    forget.textContent = 'Stop';
    forget.title = `Stop protecting uploads in frames from ${frame} on ${site.site}`;
    forget.addEventListener('click', () => update(call('forgetFrames', { site: site.site, frame }), '#sites-error'));
    line.append(forget);
    name.append(line);
  }
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

// -- check a posted picture -------------------------------------------------------------------------------

function percent(value) {
  return `${Math.round(100 * value)} %`;
}

function tipText({ setting, value }) {
  switch (setting) {
    case 'platform': return `Use the ${value} platform profile for this site (Sites, above)`;
    case 'intensity': return `Raise the intensity to ${value} (Shading, above)`;
    case 'preset': return `Use a stronger preset: ${value} (Shading, above)`;
    case 'upload': return 'The site got the unshaded original: upload with protection on for this site';
    default: return `${setting}: ${value}`;
  }
}

/** The check as a card: how much is left, what the site did, what to try. Text only (never HTML). */
function showCheck(result) {
  const site = result.site;
  const [w, h] = site.posted_size;
  $('#check-headline').textContent = !result.protection_found
    ? 'No protection found'
    : result.kept == null ? 'Protection found' : `Kept ${percent(result.kept)} of its pull`;
  const facts = [
    site.resized ? `Resized to ${w} x ${h}` : `Kept its size (${w} x ${h})`,
    site.jpeg_quality == null ? `Not re-encoded as JPEG (${String(site.format).toUpperCase()})` : `JPEG quality ≈ ${site.jpeg_quality}`,
    result.alignment.cropped ? 'Cropped' : 'Not cropped',
    `Looks alike: colour SSIM ${Number(result.ssim).toFixed(3)}`,
    site.profile_fits
      ? `The site fits the ${site.profile} profile${site.profile_used_fits ? '' : ` (protected for ${site.profile_used})`}`
      : `No platform profile fits what the site did (nearest: ${site.profile})`,
  ];
  $('#check-facts').replaceChildren(...facts.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  const tips = (result.try ?? []).map(tipText);
  $('#check-tips').replaceChildren(...tips.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  $('#check-tips-title').hidden = !tips.length;
  $('#check-card').dataset.kept = result.kept == null ? '' : String(result.kept);
  $('#check-card').hidden = false;
}

async function checkFile(file) {
  if (!file) return;
  $('#check-error').textContent = '';
  $('#check-card').hidden = true;
  $('#check-busy').hidden = false;
  try {
    const data = toBase64(new Uint8Array(await file.arrayBuffer()));
    showCheck(await call('checkPosted', { data }));
  } catch (err) {
    $('#check-error').textContent = err.hint ? `${err.message} (${err.hint})` : err.message;
  } finally {
    $('#check-busy').hidden = true;
    document.body.dataset.checked = String(Date.now());
  }
}

$('#check-file').addEventListener('change', (event) => {
  checkFile(event.target.files[0]);
  event.target.value = '';
});
const drop = $('#check-drop');
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  checkFile(event.dataTransfer?.files?.[0]);
});

update(Promise.resolve(), '#sites-error').then(() => {
  document.body.dataset.ready = 'true';
  return refreshDaemon();
});
