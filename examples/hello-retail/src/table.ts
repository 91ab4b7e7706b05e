/** A column of a printed table: its heading and how to show a row's cell. */
export interface Column<R> {
  readonly title: string;
  readonly cell: (row: R) => string | number | null | undefined;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/**
 * Rows as a plain-text table with a title, aligned columns and a rule under
 * the headings; `—` for empty cells.
 *
 * @example
 * console.log(formatTable('Products', products, [{ title: 'name', cell: (p) => p.name }]));
 */
export function formatTable<R>(title: string, rows: readonly R[], columns: readonly Column<R>[]): string {
  const cells = rows.map((row) => columns.map((column) => show(column.cell(row))));
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((line) => (line[i] as string).length)));
  const pad = (text: string, i: number) => (columns[i]?.right ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number));
  const line = (parts: readonly string[]) => `  ${parts.map(pad).join('  ')}`.trimEnd();
  const out = [title, line(columns.map((column) => column.title)), `  ${widths.map((width) => '─'.repeat(width)).join('  ')}`];
  if (cells.length === 0) out.push('  (empty)');
  for (const row of cells) out.push(line(row));
  return out.join('\n');
}

function show(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}
