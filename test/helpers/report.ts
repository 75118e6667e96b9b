/** Readers for the simulation report's outputs, shared by the report tests: they check what a real reader would see. */
import { expect } from 'vitest';

/** Minimal CSV parser (RFC 4180) so the tests check what a real reader would see, not string fragments. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

/**
 * Checks that `svg` is one `<svg>` element with a viewBox (and a final newline), every element opened is closed in
 * order and nothing unescaped is left: a parse check without an XML library.
 */
export function expectWellFormedSvg(svg: string): void {
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 \d+ \d+"[^>]*>[\s\S]*<\/svg>\n$/);
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  const stripped = svg.replace(tag, (_m, close: string, name: string, _attrs: string, self: string) => {
    if (self) return '';
    if (close) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else stack.push(name);
    return '';
  });
  expect(stack).toEqual([]);
  // Anything left that looks like markup is a malformed tag or an unescaped `<`.
  expect(stripped).not.toMatch(/[<>]/);
  // Every `&` left is an entity.
  expect(stripped.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
}
