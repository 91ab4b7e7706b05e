// Event times as text, for both halves of the catalog: a burst of events shares one millisecond's text,
// so it is made, and parsed, once.

let lastMillisecond = -1;
let lastIso = '';

/** `new Date().toISOString()`, formatted once per millisecond. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

let lastValidTime = '';

/** Whether `Date.parse` reads the text; the last text that did is remembered, so a repeat costs a comparison. */
export function isValidTime(time: string): boolean {
  if (time === lastValidTime) return true;
  if (Number.isNaN(Date.parse(time))) return false;
  lastValidTime = time;
  return true;
}
