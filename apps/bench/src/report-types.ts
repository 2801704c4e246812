/**
 * Optional content a suite can attach to its `<suite>.json` besides the metric rows: curves to
 * plot (sensitivity sweeps, noise densities, training curves) and extra tables (retriever AUC,
 * time per epoch). `dnr-bench report` renders plots as SVG files and tables as Markdown.
 */

/** One point of a curve; `yStd` (sample std over seeds) draws an error band where given. */
export interface PlotPoint {
  readonly x: number;
  readonly y: number;
  readonly yStd?: number;
}

export interface PlotSeries {
  readonly name: string;
  readonly points: readonly PlotPoint[];
}

/** A line chart; `id` names its file (`<suite>[.<profile>].<id>.svg`), so it must be path-safe. */
export interface SuitePlot {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logX?: boolean;
  readonly series: readonly PlotSeries[];
}

/** A table with free columns (numbers are written as given; format them before if needed). */
export interface SuiteTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
  /** A sentence under the table: what was measured and how. */
  readonly note?: string;
}
