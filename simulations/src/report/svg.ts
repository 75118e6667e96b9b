/**
 * SVG building blocks shared by the report's charts (the accuracy-per-round chart in render.ts and the
 * accuracy-vs-ε chart in sweep.ts): escaping, number formatting, the palette and the pieces both charts draw the
 * same way (heading, gridlines, x ticks, axis frame, legend row, "nothing to draw" message), so the two charts look
 * alike side by side. Pure string building, like the renderers.
 */

/**
 * Text and attribute values escaped for XML (`& < > " '`). Characters XML 1.0 forbids outright (C0 controls other
 * than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) are dropped: an abort reason carrying one must not make the
 * whole chart unparsable.
 */
export function escapeXml(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex -- these control characters are what XML forbids.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A coordinate with at most two decimals: sub-pixel precision beyond that only bloats the file. */
export function px(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** A number without float noise (0.30000000000000004 → 0.3), for tick labels. */
export function shortNumber(n: number): string {
  return String(Number(n.toPrecision(6)));
}

/** Rough text width at a font size, to lay out the legend without a font engine (slightly generous). */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.58;
}

/** The charts' colours. */
export const COLORS = {
  text: '#111827',
  muted: '#6b7280',
  axis: '#9ca3af',
  grid: '#e5e7eb',
  accuracy: '#2563eb',
  loss: '#ea580c',
  aborted: '#dc2626',
  baseline: '#374151',
} as const;

export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** The plot rectangle inside a chart's margins, in px: top-left corner and size. */
export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The opening lines of a chart: the `<svg>` element (to be closed by the caller), its `<title>`, an opaque
 * background, the visible title at `left` and, when not empty, the subtitle under it. Title and subtitle are escaped.
 */
export function chartHeading(width: number, height: number, title: string, subtitle: string, left: number): string[] {
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `role="img" aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(title)}</title>`,
    // Opaque background: the file is also viewed in dark-themed viewers, where transparent text would vanish.
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="26" font-size="16" font-weight="600" fill="${COLORS.text}">${escapeXml(title)}</text>`,
  ];
  if (subtitle) lines.push(`<text x="${left}" y="45" font-size="12" fill="${COLORS.muted}">${escapeXml(subtitle)}</text>`);
  return lines;
}

/** A horizontal gridline across the plot at `y` and its tick label on the left axis. */
export function gridLine(area: PlotArea, y: number, label: string): string[] {
  const yy = px(y);
  return [
    `<line x1="${px(area.left)}" y1="${yy}" x2="${px(area.left + area.width)}" y2="${yy}" stroke="${COLORS.grid}" stroke-width="1"/>`,
    `<text x="${px(area.left - 8)}" y="${yy}" dy="0.32em" text-anchor="end" font-size="11" fill="${COLORS.muted}">${escapeXml(label)}</text>`,
  ];
}

/** A tick mark on the x axis at `x` and its label below it. */
export function xTick(area: PlotArea, x: number, label: string): string[] {
  const xt = px(x);
  const bottom = area.top + area.height;
  return [
    `<line x1="${xt}" y1="${px(bottom)}" x2="${xt}" y2="${px(bottom + 5)}" stroke="${COLORS.axis}"/>`,
    `<text x="${xt}" y="${px(bottom + 18)}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${escapeXml(label)}</text>`,
  ];
}

/**
 * The x axis and left axis lines, the x axis title centred under the plot (`chartHeight` is the whole chart's) and
 * the left axis title, rotated, in the accuracy colour.
 */
export function axisFrame(area: PlotArea, chartHeight: number, xTitle: string, yTitle: string): string[] {
  const bottom = area.top + area.height;
  const right = area.left + area.width;
  return [
    `<line x1="${px(area.left)}" y1="${px(bottom)}" x2="${px(right)}" y2="${px(bottom)}" stroke="${COLORS.axis}"/>`,
    `<line x1="${px(area.left)}" y1="${px(area.top)}" x2="${px(area.left)}" y2="${px(bottom)}" stroke="${COLORS.axis}"/>`,
    `<text x="${px(area.left + area.width / 2)}" y="${px(chartHeight - 12)}" text-anchor="middle" font-size="12" fill="${COLORS.text}">${escapeXml(xTitle)}</text>`,
    `<text transform="translate(18 ${px(area.top + area.height / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="${COLORS.accuracy}">${escapeXml(yTitle)}</text>`,
  ];
}

/** A message centred on the plot (e.g. "No rounds recorded"), haloed in white so it reads over gridlines. */
export function centredMessage(area: PlotArea, text: string): string {
  return (
    `<text x="${px(area.left + area.width / 2)}" y="${px(area.top + area.height / 2)}" text-anchor="middle" font-size="14" ` +
    `fill="${COLORS.muted}" stroke="#ffffff" stroke-width="4" paint-order="stroke">${escapeXml(text)}</text>`
  );
}

/** One legend entry: a 20 px wide swatch drawn by `swatch(x, y)` (left edge, vertical centre) and its label. */
export interface LegendItem {
  swatch: (x: number, y: number) => string;
  label: string;
}

/** A line swatch for {@link LegendItem}: a 20 px line, optionally dashed, optionally with a dot in the middle. */
export function lineSwatch(color: string, strokeWidth: number, options: { dash?: string; dot?: boolean } = {}): LegendItem['swatch'] {
  return (x, y) =>
    `<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + 20)}" y2="${px(y)}" stroke="${color}" stroke-width="${strokeWidth}"` +
    `${options.dash === undefined ? '' : ` stroke-dasharray="${options.dash}"`}/>` +
    (options.dot ? `<circle cx="${px(x + 10)}" cy="${px(y)}" r="3" fill="${color}"/>` : '');
}

/** The legend as one row of items from `left`, vertically centred on `y`, in a `<g class="legend">`. Labels are escaped. */
export function legendRow(items: readonly LegendItem[], left: number, y: number): string {
  let x = left;
  const parts: string[] = [];
  for (const { swatch, label } of items) {
    parts.push(swatch(x, y), `<text x="${px(x + 26)}" y="${px(y)}" dy="0.32em" font-size="12" fill="${COLORS.text}">${escapeXml(label)}</text>`);
    x += 26 + textWidth(label, 12) + 18;
  }
  return `<g class="legend">${parts.join('')}</g>`;
}
