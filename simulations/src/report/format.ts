/**
 * Small formatting helpers shared by the renderers and the progress display. Pure: no I/O, no clock.
 */

/** A finite number, or null for null/undefined/NaN/±Infinity (JSON and charts cannot show the latter). */
export function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A 0..1 fraction as a percentage string with `digits` decimals, e.g. `81.2`; null when not finite. */
export function formatPercent(fraction: number | null | undefined, digits = 1): string | null {
  const v = finiteOrNull(fraction);
  return v === null ? null : (v * 100).toFixed(digits);
}

/** A loss with three decimals below 100 (where they matter), one above; null when not finite. */
export function formatLoss(loss: number | null | undefined): string | null {
  const v = finiteOrNull(loss);
  if (v === null) return null;
  return Math.abs(v) < 100 ? v.toFixed(3) : v.toFixed(1);
}

/** Bytes as decimal megabytes (1 MB = 10^6 bytes, as network tools count) with `digits` decimals. */
export function formatMegabytes(bytes: number, digits = 2): string {
  return (bytes / 1e6).toFixed(digits);
}

/** A duration in seconds as `m:ss`, or `h:mm:ss` from one hour; negative and non-finite clamp to 0. */
export function formatDuration(seconds: number): string {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Text made safe for one terminal line: control characters (newlines, ESC, C1) become spaces, so a reason string
 * from elsewhere can neither break a table row nor inject terminal escape sequences.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is stripped here.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}

const ANSI = {
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  green: ['\x1b[32m', '\x1b[39m'],
  red: ['\x1b[31m', '\x1b[39m'],
} as const;

/** ANSI styles used by the table and the progress line. */
export type Style = keyof typeof ANSI;

/** Wraps `text` in an ANSI style when `on`; plain otherwise. Pads are applied before styling so columns align. */
export function styled(on: boolean, style: Style, text: string): string {
  return on && text.length > 0 ? `${ANSI[style][0]}${text}${ANSI[style][1]}` : text;
}
