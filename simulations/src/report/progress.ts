/**
 * Progress display for `cohort simulate`. On a terminal: one live status line redrawn in place, with log lines
 * printed above it. Anywhere else (CI logs, pipes, files): plain timestamped lines with no escape codes. Time is
 * injected so tests are deterministic.
 */
import { requireConfig } from '../../../shared/src/core/errors.js';
import { finiteOrNull, formatDuration, formatLoss, formatMegabytes, formatPercent, oneLine, styled } from './format.js';
import type { RoundReport } from './types.js';

/** What the harness knows about the round in progress. */
export interface ProgressState {
  /** Round in progress, 1-based. */
  round: number;
  /** Current stage name, e.g. `training` or `masked-input`. */
  stage: string;
  /** Clients that have answered the current stage. */
  clientsDone: number;
  /** Clients expected to answer the current stage. */
  clientsExpected: number;
  /** Held-out accuracy after the last committed round, 0..1; null before the first evaluation. */
  lastAccuracy: number | null;
}

/** Options for {@link createProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Where to write; a TTY (`isTTY: true`) gets the live line, anything else plain log lines. */
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Rounds the run will attempt, ≥ 1 (for `round i/N` and the ETA). */
  totalRounds: number;
  /** Wall clock in milliseconds since the epoch; default `Date.now`. Used for throttling, ETA and timestamps. */
  now?: () => number;
  /** ANSI colours on a TTY; default true unless `NO_COLOR` is set. Never used off a TTY. */
  color?: boolean;
  /** Minimum milliseconds between redraws of the live line; default 100 (about 10 redraws per second). */
  minRedrawMs?: number;
}

/** A progress display: feed it state and events; it decides how to show them. */
export interface ProgressDisplay {
  /** New state of the round in progress; redrawn (throttled) on a TTY, logged on stage change elsewhere. */
  update(state: ProgressState): void;
  /** A free-form log line, printed above the live line on a TTY, timestamped elsewhere. */
  log(line: string): void;
  /** A round ended: prints its one-line summary and feeds the ETA. */
  roundFinished(report: RoundReport): void;
  /** Clears the live line and stops redrawing; idempotent. Later `log` calls still print. */
  finish(): void;
}

/** Erase the whole current line and return the cursor to column 0. */
const CLEAR_LINE = '\r\x1b[2K';

/** ANSI/VT escape sequences (CSI, OSC, two-character) and other control characters except tab. */
// eslint-disable-next-line no-control-regex -- matching control characters is the purpose.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * The one-line summary of a finished round, e.g.
 * `round 3/5 committed acc=81.2% loss=0.523 participants=10/10 dropouts=0 up=4.1MB down=3.9MB 12.3s`
 * (MB = 10^6 bytes). Missing figures print as `-`; an abort reason is quoted.
 */
export function formatRoundLine(report: RoundReport, totalRounds: number): string {
  const parts = [`round ${report.round}/${totalRounds}`, report.state];
  if (report.state === 'aborted') parts.push(`reason=${JSON.stringify(oneLine(report.abortReason ?? 'unknown'))}`);
  const acc = formatPercent(report.accuracy);
  parts.push(
    `acc=${acc === null ? '-' : `${acc}%`}`,
    `loss=${formatLoss(report.loss) ?? '-'}`,
    `participants=${report.participants}/${report.selected}`,
    `dropouts=${report.dropouts}`,
    `up=${formatMegabytes(report.bytesUp, 1)}MB`,
    `down=${formatMegabytes(report.bytesDown, 1)}MB`,
    `${(finiteOrNull(report.seconds) ?? 0).toFixed(1)}s`,
  );
  return parts.join(' ');
}

interface Segment {
  text: string;
  style?: 'dim' | 'bold' | 'green';
}

/** Segments joined by ` · ` and cut with `…` to `max` columns: a wrapped line could not be redrawn with `\r`. */
function fitSegments(segments: Segment[], max: number, color: boolean): string {
  const sep = ' · ';
  let used = 0;
  const out: string[] = [];
  for (const [i, seg] of segments.entries()) {
    const prefix = i === 0 ? '' : sep;
    const room = max - used - prefix.length;
    if (room <= 0) break;
    const text = seg.text.length <= room ? seg.text : `${seg.text.slice(0, Math.max(0, room - 1))}…`;
    out.push(styled(color, 'dim', prefix), seg.style ? styled(color, seg.style, text) : text);
    used += prefix.length + text.length;
    if (text.length < seg.text.length) break;
  }
  return out.join('');
}

/**
 * A progress display writing to `options.stream`. On a TTY: a live line such as
 * `round 3/5 · training · 7/10 clients · acc 81.2% · ETA 0:42`, redrawn in place at most every `minRedrawMs`,
 * with `log` lines and finished rounds printed above it. ETA = mean duration of finished rounds × rounds left,
 * less the time already spent in the current round; none until a round has finished. Off a TTY: no escape codes,
 * one timestamped line per stage change, per finished round and per log line.
 */
export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  const { stream, totalRounds } = options;
  requireConfig(Number.isInteger(totalRounds) && totalRounds >= 1, 'totalRounds', `must be an integer ≥ 1, got ${totalRounds}`);
  const minRedrawMs = options.minRedrawMs ?? 100;
  requireConfig(Number.isFinite(minRedrawMs) && minRedrawMs >= 0, 'minRedrawMs', `must be ≥ 0, got ${minRedrawMs}`);
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const color = tty && (options.color ?? !('NO_COLOR' in process.env));

  let state: ProgressState | null = null;
  let finished = false;
  let statusShown = false;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let pending: ReturnType<typeof setTimeout> | null = null;
  let lastStageKey: string | null = null;
  let lastReportedAccuracy: number | null = null;
  const durations: number[] = [];
  // When the round in progress started, for the ETA: set when a round finishes (the next one starts) or when
  // `update` first mentions a round.
  let roundStart: { round: number; at: number } | null = null;

  const cancelPending = (): void => {
    if (pending !== null) clearTimeout(pending);
    pending = null;
  };

  const etaSeconds = (): number | null => {
    if (durations.length === 0) return null;
    const left = totalRounds - durations.length;
    if (left <= 0) return null;
    const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
    const elapsed = roundStart !== null && state !== null && roundStart.round === state.round ? (now() - roundStart.at) / 1000 : 0;
    // The current round is counted as at least done-so-far: a slow round pushes the ETA no lower than the rest.
    return Math.max(0, mean - elapsed) + mean * (left - 1);
  };

  const statusLine = (): string => {
    if (state === null) return '';
    const segments: Segment[] = [
      { text: `round ${state.round}/${totalRounds}`, style: 'bold' },
      { text: oneLine(state.stage) || '…' },
    ];
    if (state.clientsExpected > 0) segments.push({ text: `${state.clientsDone}/${state.clientsExpected} clients` });
    const acc = formatPercent(state.lastAccuracy ?? lastReportedAccuracy);
    if (acc !== null) segments.push({ text: `acc ${acc}%`, style: 'green' });
    const eta = etaSeconds();
    if (eta !== null) segments.push({ text: `ETA ${formatDuration(eta)}`, style: 'dim' });
    // One column short of the width: writing into the last column makes some terminals wrap early.
    const columns = stream.columns !== undefined && stream.columns > 1 ? stream.columns - 1 : 119;
    return fitSegments(segments, columns, color);
  };

  /** The live line, drawn over whatever was on the current line. */
  const statusChunk = (): string => (state === null || finished ? '' : `${CLEAR_LINE}${statusLine()}`);

  const draw = (): void => {
    cancelPending();
    const chunk = statusChunk();
    if (chunk === '') return;
    stream.write(chunk);
    statusShown = true;
    lastDrawAt = now();
  };

  /** Prints `text` above the live line in one write, so the terminal never shows a half-redrawn state. */
  const printAbove = (text: string): void => {
    cancelPending();
    const clear = statusShown ? CLEAR_LINE : '';
    const status = statusChunk();
    stream.write(`${clear}${text}\n${status}`);
    statusShown = status !== '';
    if (statusShown) lastDrawAt = now();
  };

  /** Plain, timestamped lines; escape codes and control characters are stripped so logs stay clean. */
  const printPlain = (text: string): void => {
    const ts = new Date(now()).toISOString();
    const lines = text.split(/\r?\n/).map((l) => l.replace(ESCAPES, ''));
    stream.write(lines.map((l) => `${ts} ${l}\n`).join(''));
  };

  const noteRound = (round: number): void => {
    if (roundStart === null || roundStart.round !== round) roundStart = { round, at: now() };
  };

  return {
    update(next) {
      if (finished) return;
      state = { ...next };
      noteRound(next.round);
      if (!tty) {
        const key = `${next.round}\u0000${next.stage}`;
        if (key !== lastStageKey) {
          lastStageKey = key;
          const clients = next.clientsExpected > 0 ? ` clients=${next.clientsDone}/${next.clientsExpected}` : '';
          printPlain(`round ${next.round}/${totalRounds} stage=${oneLine(next.stage)}${clients}`);
        }
        return;
      }
      const since = now() - lastDrawAt;
      if (since >= minRedrawMs) {
        draw();
      } else if (pending === null) {
        // Trailing redraw, so the latest state shows even when updates stop inside the throttle window.
        pending = setTimeout(draw, minRedrawMs - since);
        pending.unref?.();
      }
    },

    log(line) {
      if (tty) printAbove(line);
      else printPlain(line);
    },

    roundFinished(report) {
      const seconds = finiteOrNull(report.seconds);
      if (seconds !== null && seconds >= 0) durations.push(seconds);
      const acc = finiteOrNull(report.accuracy);
      if (acc !== null) lastReportedAccuracy = acc;
      roundStart = { round: report.round + 1, at: now() };
      const line = formatRoundLine(report, totalRounds);
      if (!tty) {
        printPlain(line);
        return;
      }
      const stateWord = report.state;
      const coloured = color
        ? line.replace(` ${stateWord}`, ` ${styled(true, stateWord === 'committed' ? 'green' : 'red', stateWord)}`)
        : line;
      printAbove(finished ? line : coloured);
    },

    finish() {
      if (finished) return;
      cancelPending();
      finished = true;
      if (tty && statusShown) stream.write(CLEAR_LINE);
      statusShown = false;
    },
  };
}
