/**
 * The benchmark result shape and its table. Every figure is printed beside the baseline
 * measured in the same run, and their ratio, because a number from another run or another
 * machine says nothing.
 */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  /** A human statement of the target, e.g. "ratio ≥ 0.5" or "≤ 1 ms". */
  target?: string;
  /** Whether the figure meets its target (undefined when there is none). */
  pass?: boolean;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toPrecision(3);
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['benchmark', 'figure', 'baseline (same run)', 'ratio', 'target', 'ok'];
  const body = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline !== undefined
      ? `${fmt(r.baseline)} ${r.unit}${r.baselineName ? ` (${r.baselineName})` : ''}`
      : '-',
    r.baseline ? fmt(r.value / r.baseline) : '-',
    r.target ?? '-',
    r.pass === undefined ? '-' : r.pass ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
