import { describe, expect, it } from 'vitest';
import { lineChartSpec, lineChartSvg } from '../src/plots';
import type { SuitePlot } from '../src/report-types';

const sweep: SuitePlot = {
  id: 'tau',
  title: 'Sensitivity to tau',
  xLabel: 'warm-up epochs tau',
  yLabel: 'test N@6',
  logX: true,
  series: [
    {
      name: 'DNR-G',
      points: [
        { x: 1, y: 0.37, yStd: 0.002 },
        { x: 2, y: 0.375, yStd: 0.003 },
        { x: 4, y: 0.372, yStd: 0.001 },
      ],
    },
    {
      name: 'PRM & <plain>',
      points: [
        { x: 1, y: 0.355 },
        { x: 4, y: 0.355 },
      ],
    },
  ],
};

const texts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
const colours = (svg: string, cls: string): Set<string> =>
  new Set(
    [...svg.matchAll(new RegExp(`class="mark-${cls}[^"]*"[^]*?</g>`, 'g'))].flatMap((m) =>
      [...m[0].matchAll(/stroke="(#[0-9a-f]+)"/g)].map((s) => s[1]!),
    ),
  );

describe('lineChartSvg', () => {
  it('draws an SVG with the title, axis titles, one legend entry and one colour per series', async () => {
    const svg = await lineChartSvg(sweep);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toMatch(/<svg[^>]* width="\d+" height="\d+"/);
    const t = texts(svg);
    expect(t).toContain('Sensitivity to tau');
    expect(t).toContain('warm-up epochs tau');
    expect(t).toContain('test N@6');
    expect(t).toContain('DNR-G');
    // the series name is escaped, not injected as markup
    expect(t).toContain('PRM &amp; &lt;plain&gt;');
    expect(svg).not.toContain('<plain>');
    // a tick at each setting of the sweep (log axis, no rounding out to 10)
    for (const tick of ['1', '2', '4']) expect(t).toContain(tick);
    expect(t).not.toContain('10');
    expect(svg).toContain('role-legend-label');
    expect(colours(svg, 'line').size).toBe(2);
    // the band comes from yStd: only DNR-G has one
    expect(svg.match(/class="mark-area/g)).toHaveLength(1);
  });

  it('is deterministic: the same plot gives the same string', async () => {
    const [a, b] = await Promise.all([lineChartSvg(sweep), lineChartSvg(sweep)]);
    expect(a).toBe(b);
    expect(await lineChartSvg(sweep, { width: 300, height: 200 })).not.toBe(a);
  });

  it('uses a log x scale only when asked, and no band without yStd', () => {
    const spec = lineChartSpec(sweep) as unknown as { layer: unknown[] };
    expect(JSON.stringify(spec)).toContain('"type":"log"');
    const linear = lineChartSpec({
      ...sweep,
      logX: false,
      series: [{ name: 'a', points: [{ x: 0, y: 1 }] }],
    }) as unknown as { layer: unknown[] };
    expect(JSON.stringify(linear)).not.toContain('"log"');
    expect(linear.layer).toHaveLength(1);
    expect(spec.layer).toHaveLength(2);
  });

  it('rejects empty or malformed plots with a clear error', async () => {
    await expect(lineChartSvg({ ...sweep, series: [] })).rejects.toThrow(
      "plot 'tau' has no series to draw",
    );
    await expect(
      lineChartSvg({ ...sweep, series: [{ name: 'DNR-B', points: [] }] }),
    ).rejects.toThrow("plot 'tau': series 'DNR-B' has no points");
    await expect(
      lineChartSvg({ ...sweep, series: [sweep.series[0]!, sweep.series[0]!] }),
    ).rejects.toThrow("two series named 'DNR-G'");
    await expect(
      lineChartSvg({ ...sweep, series: [{ name: 'a', points: [{ x: 0, y: 1 }] }] }),
    ).rejects.toThrow(/point 0 has x = 0, which a logarithmic x axis cannot show/);
    await expect(
      lineChartSvg({ ...sweep, series: [{ name: 'a', points: [{ x: 1, y: Number.NaN }] }] }),
    ).rejects.toThrow(/non-finite coordinate/);
    await expect(
      lineChartSvg({ ...sweep, series: [{ name: 'a', points: [{ x: 1, y: 1, yStd: -1 }] }] }),
    ).rejects.toThrow(/yStd -1/);
    await expect(lineChartSvg(sweep, { width: 10 })).rejects.toThrow(/width must be/);
  });
});
