import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import { smooth } from "./smoothing";

/** One curve: x values in increasing order and a value (or a gap) at each. */
export interface Line {
  label: string;
  x: number[];
  y: (number | null)[];
}

/** Where a callback acted: drawn as a vertical line, its message shown when the cursor is near it. */
export interface Marker {
  x: number;
  kind: string;
  message: string;
}

export interface ChartView {
  /** EMA weight, 0 (raw) to 0.999. */
  smoothing: number;
  log: boolean;
  xLabel: string;
  /** Draw the raw series faintly behind the smoothed one (default); off for settings like the learning rate. */
  raw?: boolean;
}

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#a16207", "#db2777"];
export const MARKER_COLORS: Record<string, string> = {
  reduce_lr: "#9333ea",
  set_lr: "#9333ea",
  checkpoint: "#16a34a",
  early_stop: "#ea580c",
  nan: "#dc2626",
  resumed: "#0891b2",
};
const HEIGHT = 240;
/** How close (CSS pixels) the cursor must be to a marker for its message to show. */
const HOVER_PX = 6;

function faint(color: string): string {
  return `${color}55`;
}

/**
 * A uPlot chart of some lines, each drawn raw (faint) and smoothed, with callback markers. The plot is
 * rebuilt when what it shows changes shape (lines, log scale, x axis) and only refilled otherwise.
 */
export class Chart {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly tip: HTMLElement;
  private plot: uPlot | null = null;
  private shape = "";
  private markers: Marker[] = [];
  private readonly resize = new ResizeObserver(() => this.plot?.setSize(this.size()));

  constructor(title: string) {
    this.body = h("div", { class: "plot" });
    this.tip = h("div", { class: "tip", role: "status", hidden: true });
    this.element = h(
      "figure",
      { class: "chart", "data-chart": title, "data-points": 0 },
      h("figcaption", {}, title),
      this.body,
      this.tip,
    );
    this.resize.observe(this.body);
  }

  update(lines: Line[], markers: Marker[], view: ChartView): void {
    this.markers = markers;
    const tables = lines.map(
      (line) => [line.x, line.y, smooth(line.y, view.smoothing)] as unknown as uPlot.AlignedData,
    );
    const data = tables.length > 0 ? uPlot.join(tables) : ([[]] as unknown as uPlot.AlignedData);
    const points = lines.reduce((sum, line) => sum + line.y.filter((y) => y !== null).length, 0);
    this.element.dataset.points = String(points);
    const shape = JSON.stringify([lines.map((line) => line.label), view.log, view.xLabel, view.raw]);
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
      return;
    }
    this.shape = shape;
    this.plot?.destroy();
    this.plot = new uPlot(this.options(lines, view), data, this.body);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(240, this.body.clientWidth), height: HEIGHT };
  }

  private options(lines: Line[], view: ChartView): uPlot.Options {
    const series: uPlot.Series[] = [{ label: view.xLabel }];
    lines.forEach((line, i) => {
      const color = PALETTE[i % PALETTE.length];
      const raw = view.raw ?? true;
      series.push({
        label: `${line.label} (raw)`,
        stroke: faint(color),
        width: 1,
        spanGaps: true,
        show: raw,
      });
      series.push({ label: line.label, stroke: color, width: 2, spanGaps: true });
    });
    return {
      ...this.size(),
      series,
      scales: { x: { time: false }, y: view.log ? { distr: 3 } : {} },
      axes: [{ label: view.xLabel }, { size: 60 }],
      legend: { live: true },
      hooks: {
        draw: [(plot) => this.drawMarkers(plot)],
        setCursor: [(plot) => this.showNearMarkers(plot)],
      },
    };
  }

  private drawMarkers(plot: uPlot): void {
    const { ctx, bbox } = plot;
    ctx.save();
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    for (const marker of this.markers) {
      const x = plot.valToPos(marker.x, "x", true);
      if (!(x >= bbox.left && x <= bbox.left + bbox.width)) continue;
      ctx.strokeStyle = MARKER_COLORS[marker.kind] ?? "#475569";
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  }

  private showNearMarkers(plot: uPlot): void {
    const left = plot.cursor.left ?? -1;
    const near =
      left < 0 ? [] : this.markers.filter((m) => Math.abs(plot.valToPos(m.x, "x") - left) <= HOVER_PX);
    this.tip.hidden = near.length === 0;
    this.tip.textContent = near.map((m) => m.message).join("\n");
  }
}
