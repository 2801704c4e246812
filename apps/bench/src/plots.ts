import type { TopLevelSpec } from 'vega-lite';
import type { SuitePlot } from './report-types';

export interface LineChartOptions {
  /** Width of the plotting area in pixels (default 560; axes, title and legend come on top). */
  readonly width?: number;
  /** Height of the plotting area in pixels (default 320). */
  readonly height?: number;
}

/** One data row of the Vega-Lite spec: a point of a series, with its band where it has a std. */
interface Datum {
  series: string;
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}

function checkSize(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 50 || value > 4000) {
    throw new RangeError(
      `line chart ${what} must be an integer from 50 to 4000 pixels (got ${value})`,
    );
  }
  return value;
}

/** Checks a plot (it comes from an untrusted suite file) and flattens it into data rows. */
function plotData(plot: SuitePlot): Datum[] {
  const where = `plot '${plot.id}'`;
  if (plot.series.length === 0) throw new RangeError(`${where} has no series to draw`);
  const names = new Set<string>();
  const data: Datum[] = [];
  for (const series of plot.series) {
    if (names.has(series.name)) {
      throw new RangeError(`${where} has two series named '${series.name}'`);
    }
    names.add(series.name);
    if (series.points.length === 0) {
      throw new RangeError(`${where}: series '${series.name}' has no points`);
    }
    series.points.forEach((p, i) => {
      const at = `${where}: series '${series.name}' point ${i}`;
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
        throw new RangeError(`${at} has a non-finite coordinate (x ${p.x}, y ${p.y})`);
      }
      if (plot.logX && p.x <= 0) {
        throw new RangeError(`${at} has x = ${p.x}, which a logarithmic x axis cannot show`);
      }
      const datum: Datum = { series: series.name, x: p.x, y: p.y };
      if (p.yStd !== undefined) {
        if (!Number.isFinite(p.yStd) || p.yStd < 0) {
          throw new RangeError(`${at} has yStd ${p.yStd}; it must be a finite number >= 0`);
        }
        datum.lo = p.y - p.yStd;
        datum.hi = p.y + p.yStd;
      }
      data.push(datum);
    });
  }
  return data;
}

/** The Vega-Lite spec of a line chart: lines with points, one colour per series, optional band. */
export function lineChartSpec(plot: SuitePlot, opts: LineChartOptions = {}): TopLevelSpec {
  const data = plotData(plot);
  const names = plot.series.map((s) => s.name);
  // a sweep over a few settings gets a tick at each of them; longer series get the default ticks
  const xs = [...new Set(data.map((d) => d.x))].sort((a, b) => a - b);
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: plot.xLabel,
    scale: plot.logX ? { type: 'log' as const, nice: false } : { zero: false, nice: false },
    axis: xs.length <= 12 ? { values: xs } : {},
  };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    // the legend keeps the order of the series in the file; colours repeat only past 20 series
    scale: { domain: names, scheme: names.length > 10 ? 'category20' : 'tableau10' },
    title: null,
  };
  const line = {
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: { field: 'y', type: 'quantitative' as const, title: plot.yLabel, scale: { zero: false } },
      color,
    },
  };
  const band = {
    transform: [{ filter: 'isValid(datum.lo)' }],
    mark: { type: 'area' as const, opacity: 0.18 },
    encoding: {
      x,
      y: { field: 'lo', type: 'quantitative' as const, title: plot.yLabel },
      y2: { field: 'hi' },
      color,
    },
  };
  const hasBand = data.some((d) => d.lo !== undefined);
  return {
    width: checkSize(opts.width, 560, 'width'),
    height: checkSize(opts.height, 320, 'height'),
    background: 'white',
    title: plot.title,
    data: { values: data },
    layer: hasBand ? [band, line] : [line],
  } as TopLevelSpec;
}

/**
 * Renders a {@link SuitePlot} as an SVG document with Vega-Lite (compiled to Vega, rendered
 * headless): one line with points per series in its own colour and a legend, a ±yStd band where
 * points carry `yStd`, and a logarithmic x axis when `logX`. The same plot gives the same string.
 * Throws a RangeError naming the plot (and series) for an empty plot, an empty or duplicated
 * series, non-finite values, a negative std or x <= 0 on a log axis.
 */
export async function lineChartSvg(plot: SuitePlot, opts: LineChartOptions = {}): Promise<string> {
  const spec = lineChartSpec(plot, opts);
  // loaded on first use, so that the CLI starts without them
  const [{ compile }, { View, parse }] = await Promise.all([import('vega-lite'), import('vega')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
