// Small helpers shared by the popup and the options page.

export const $ = (selector, root = document) => root.querySelector(selector);

export function fillSelect(select, choices, value) {
  select.replaceChildren(...choices.map((choice) => new Option(choice, choice, false, choice === value)));
  select.value = value;
}

export function deviceText(status) {
  const device = status?.device;
  if (!device) return '–';
  if (typeof device === 'string') return device;
  return [device.name, device.kind ?? device.type].filter(Boolean).join(' · ') || JSON.stringify(device);
}

export function queueText(status) {
  const queue = status?.queue ?? status?.queue_length;
  if (queue == null) return '–';
  if (typeof queue === 'number') return queue === 0 ? 'empty' : `${queue} waiting`;
  const waiting = queue.length ?? queue.queued ?? queue.waiting ?? queue.pending;
  const running = queue.running ?? queue.active;
  const parts = [];
  if (waiting != null) parts.push(waiting === 0 ? 'empty' : `${waiting} waiting`);
  if (running) parts.push(`${running} running`);
  return parts.join(', ') || JSON.stringify(queue);
}

export function pill(element, kind, text) {
  element.replaceChildren();
  const span = document.createElement('span');
  span.className = `pill ${kind}`;
  span.textContent = text;
  element.append(span);
}
