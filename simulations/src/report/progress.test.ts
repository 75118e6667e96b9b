import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isCohortError } from '../../../shared/src/core/errors.js';
import { createProgressDisplay, formatRoundLine } from './progress.js';
import type { ProgressState } from './progress.js';
import type { RoundReport } from './types.js';

const CLEAR = '\r\x1b[2K';

/** A stream that records every write separately, optionally posing as a terminal. */
function fakeStream(tty: boolean, columns = 120): { stream: Writable & { isTTY?: boolean; columns?: number }; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      writes.push(String(chunk));
      cb();
    },
  });
  return { stream: Object.assign(stream, tty ? { isTTY: true, columns } : {}), writes };
}

function report(round: number, overrides: Partial<RoundReport> = {}): RoundReport {
  return {
    round,
    state: 'committed',
    abortReason: null,
    accuracy: 0.812,
    loss: 0.5234,
    trainLoss: 0.4,
    trainAccuracy: 0.85,
    selected: 10,
    participants: 10,
    dropouts: 0,
    dropoutsByStage: {},
    bytesByStage: {},
    epsilon: null,
    bytesUp: 4_100_000,
    bytesDown: 3_900_000,
    seconds: 12.3,
    modelVersion: round,
    ...overrides,
  };
}

function state(overrides: Partial<ProgressState> = {}): ProgressState {
  return { round: 1, stage: 'training', clientsDone: 0, clientsExpected: 10, lastAccuracy: null, ...overrides };
}

/** The live status line as last drawn: the text after the final clear-line sequence. */
function lastStatus(writes: string[]): string {
  const all = writes.join('');
  return all.slice(all.lastIndexOf(CLEAR) + CLEAR.length);
}

describe('formatRoundLine', () => {
  it('prints every figure of a committed round on one line', () => {
    expect(formatRoundLine(report(3), 5)).toBe(
      'round 3/5 committed acc=81.2% loss=0.523 participants=10/10 dropouts=0 up=4.1MB down=3.9MB 12.3s',
    );
  });

  it('quotes the abort reason on one line and shows missing figures as -', () => {
    const line = formatRoundLine(
      report(4, { state: 'aborted', abortReason: 'too few "survivors"\nat unmasking', accuracy: null, loss: null, participants: 3, dropouts: 7 }),
      5,
    );
    expect(line).toBe(
      'round 4/5 aborted reason="too few \\"survivors\\" at unmasking" acc=- loss=- participants=3/10 dropouts=7 up=4.1MB down=3.9MB 12.3s',
    );
  });
});

describe('progress display on a TTY', () => {
  let clock = 0;
  const now = (): number => clock;

  beforeEach(() => {
    clock = 1_700_000_000_000;
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws the status line in place with carriage return and clear-line', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false });
    display.update(state({ round: 3, clientsDone: 7, lastAccuracy: 0.812 }));
    expect(writes).toEqual([`${CLEAR}round 3/5 · training · 7/10 clients · acc 81.2%`]);
    expect(writes.join('')).not.toContain('\n');
  });

  it('throttles redraws to one per 100 ms and still shows the latest state afterwards', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false });
    for (let i = 0; i < 50; i++) {
      display.update(state({ clientsDone: i }));
      clock += 1;
    }
    expect(writes).toHaveLength(1);
    clock += 100;
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(2);
    expect(lastStatus(writes)).toContain('49/10 clients');

    // Steady updates at 20 ms for one second: about ten redraws, never one per update.
    const before = writes.length;
    for (let i = 0; i < 50; i++) {
      clock += 20;
      vi.advanceTimersByTime(20);
      display.update(state({ clientsDone: i % 10 }));
    }
    const redraws = writes.length - before;
    expect(redraws).toBeGreaterThanOrEqual(9);
    expect(redraws).toBeLessThanOrEqual(11);
    display.finish();
  });

  it('shows no ETA before a round finishes, then mean round time × rounds left less time spent', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false, minRedrawMs: 0 });
    display.update(state({ round: 1 }));
    expect(lastStatus(writes)).not.toContain('ETA');
    clock += 10_000;
    display.roundFinished(report(1, { seconds: 10 }));
    clock += 4_000;
    display.update(state({ round: 2, lastAccuracy: 0.6 }));
    // 6 s left of round 2 plus 3 more rounds of 10 s.
    expect(lastStatus(writes)).toBe('round 2/5 · training · 0/10 clients · acc 60.0% · ETA 0:36');
  });

  it('prints log lines and finished rounds above the status line, then redraws it', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false });
    display.update(state());
    display.log('dataset loaded');
    expect(writes[1]).toBe(`${CLEAR}dataset loaded\n${CLEAR}round 1/5 · training · 0/10 clients`);
    display.roundFinished(report(1));
    expect(writes[2]?.startsWith(`${CLEAR}round 1/5 committed acc=81.2% `)).toBe(true);
    expect(writes[2]).toContain(`12.3s\n${CLEAR}round 1/5 · training`);
    // Every line break is followed by a fresh redraw: nothing is printed mid-line.
    for (const w of writes) for (const part of w.split('\n').slice(1)) expect(part === '' || part.startsWith(CLEAR)).toBe(true);
  });

  it('logs plainly before any status was drawn', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 2, now, color: false });
    display.log('starting');
    expect(writes).toEqual(['starting\n']);
  });

  it('cuts the status line to the terminal width', () => {
    const { stream, writes } = fakeStream(true, 20);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false });
    display.update(state({ stage: 'consistency-check', lastAccuracy: 0.5 }));
    const status = lastStatus(writes);
    expect(status).toBe('round 1/5 · consis…');
    expect(status.endsWith('…')).toBe(true);
  });

  it('colours the live line and round states only when colour is on', () => {
    const plain = fakeStream(true);
    const d1 = createProgressDisplay({ stream: plain.stream, totalRounds: 5, now, color: false });
    d1.update(state({ lastAccuracy: 0.5 }));
    d1.roundFinished(report(1));
    expect(plain.writes.join('').replaceAll(CLEAR, '')).not.toContain('\x1b');

    const coloured = fakeStream(true);
    const d2 = createProgressDisplay({ stream: coloured.stream, totalRounds: 5, now, color: true });
    d2.update(state({ lastAccuracy: 0.5 }));
    d2.roundFinished(report(1, { state: 'aborted', abortReason: 'x' }));
    expect(coloured.writes.join('')).toContain('\x1b[31maborted\x1b[39m');
  });

  it('finish clears the status line, cancels a pending redraw and ignores later updates', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay({ stream, totalRounds: 5, now, color: false });
    display.update(state());
    display.update(state({ clientsDone: 5 }));
    display.finish();
    expect(writes.at(-1)).toBe(CLEAR);
    const count = writes.length;
    vi.advanceTimersByTime(1000);
    display.update(state({ clientsDone: 9 }));
    display.finish();
    expect(writes).toHaveLength(count);
    display.log('done');
    expect(writes.at(-1)).toBe('done\n');
  });
});

describe('progress display off a TTY', () => {
  it('writes no escape codes and one timestamped line per stage change, finished round and log line', () => {
    let clock = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay({ stream, totalRounds: 2, now: () => clock, color: true });
    display.log('\x1b[1mstarting\x1b[22m');
    display.update(state({ round: 1, stage: 'training' }));
    for (let i = 1; i <= 10; i++) display.update(state({ round: 1, stage: 'training', clientsDone: i }));
    display.update(state({ round: 1, stage: 'aggregating' }));
    clock += 12_300;
    display.roundFinished(report(1, { seconds: 12.3 }));
    display.update(state({ round: 2, stage: 'training' }));
    display.roundFinished(report(2, { state: 'aborted', abortReason: 'below threshold', accuracy: null, loss: null }));
    display.finish();

    const out = writes.join('');
    expect(out).not.toContain('\x1b');
    expect(out).not.toContain('\r');
    const lines = out.trimEnd().split('\n');
    expect(lines).toEqual([
      '2025-01-02T03:04:05.678Z starting',
      '2025-01-02T03:04:05.678Z round 1/2 stage=training clients=0/10',
      '2025-01-02T03:04:05.678Z round 1/2 stage=aggregating clients=0/10',
      '2025-01-02T03:04:17.978Z round 1/2 committed acc=81.2% loss=0.523 participants=10/10 dropouts=0 up=4.1MB down=3.9MB 12.3s',
      '2025-01-02T03:04:17.978Z round 2/2 stage=training clients=0/10',
      '2025-01-02T03:04:17.978Z round 2/2 aborted reason="below threshold" acc=- loss=- participants=10/10 dropouts=0 up=4.1MB down=3.9MB 12.3s',
    ]);
  });

  it('timestamps each line of a multi-line log message', () => {
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay({ stream, totalRounds: 1, now: () => 0 });
    display.log('a\nb');
    expect(writes.join('')).toBe('1970-01-01T00:00:00.000Z a\n1970-01-01T00:00:00.000Z b\n');
  });
});

describe('createProgressDisplay options', () => {
  it('rejects a round count below one, naming the field', () => {
    const { stream } = fakeStream(false);
    try {
      createProgressDisplay({ stream, totalRounds: 0 });
      expect.unreachable();
    } catch (error) {
      expect(isCohortError(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toContain('totalRounds');
    }
  });
});
