// charts.js: a small canvas line chart with a rolling window, no dependencies.
//
//   const chart = new LineChart(canvas, { series: [{ name: 'CPU', color: '#e66' }], max: 100, unit: '%' });
//   chart.push(Date.now(), [42]);
//
// Keeps at most `window` points (60 by default) per series; redraws on push and on resize
// (device-pixel-ratio aware, so lines stay crisp). `max` fixes the y scale; without it the
// scale follows the largest visible value. `points()` tells tests how many points it holds.

export class LineChart {
  constructor(canvas, { series, max = null, unit = '', window = 60, format = null }) {
    this.canvas = canvas;
    this.series = series;
    this.max = max;
    this.unit = unit;
    this.window = window;
    this.format = format || ((v) => `${v.toFixed(v < 10 ? 1 : 0)}${unit}`);
    this.times = [];
    this.values = series.map(() => []);
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  push(time, values) {
    this.times.push(time);
    values.forEach((v, i) => this.values[i].push(Number.isFinite(v) ? v : 0));
    if (this.times.length > this.window) {
      this.times.shift();
      this.values.forEach((vs) => vs.shift());
    }
    this.draw();
  }

  points() { return this.times.length; }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = 46, right = 8, top = 8, bottom = 18;
    const plotW = width - left - right, plotH = height - top - bottom;
    const visible = this.values.flat();
    const max = this.max ?? Math.max(1e-9, ...visible) * 1.15;
    const style = getComputedStyle(canvas);
    g.font = '11px system-ui, sans-serif';
    g.strokeStyle = style.getPropertyValue('--grid') || '#ddd';
    g.fillStyle = style.getPropertyValue('--muted') || '#666';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + (plotH * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + plotW, y); g.stroke();
      g.fillText(this.format(max * (1 - i / 4)), 2, y + 4);
    }
    g.fillText(`${this.window}-point window`, left, height - 4);
    const n = this.times.length;
    this.series.forEach((s, index) => {
      const vs = this.values[index];
      if (!vs.length) return;
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      vs.forEach((v, i) => {
        const x = left + (plotW * (this.window - n + i)) / Math.max(1, this.window - 1);
        const y = top + plotH * (1 - Math.min(v, max) / max);
        i ? g.lineTo(x, y) : g.moveTo(x, y);
      });
      g.stroke();
    });
    let x = left + 4;
    this.series.forEach((s, index) => {
      const last = this.values[index].at(-1);
      const label = `${s.name}${last === undefined ? '' : ' ' + this.format(last)}`;
      g.fillStyle = s.color;
      g.fillRect(x, top + 2, 10, 3);
      g.fillStyle = style.getPropertyValue('--text') || '#222';
      g.fillText(label, x + 14, top + 8);
      x += g.measureText(label).width + 28;
    });
  }
}

/// Grouped bars: `data` is [{label, values: [..]}], one bar per series in each group.
export function drawBars(canvas, { series, data, unit = '' }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = '11px system-ui, sans-serif';
  const style = getComputedStyle(canvas);
  const top = 22, bottom = 20, groupW = width / Math.max(1, data.length);
  series.forEach((s, si) => {
    const max = Math.max(1e-9, ...data.map((d) => d.values[si] || 0));
    data.forEach((d, di) => {
      const barW = (groupW - 16) / series.length;
      const v = d.values[si] || 0;
      const h = (height - top - bottom) * (v / max);
      const x = di * groupW + 8 + si * barW;
      g.fillStyle = s.color;
      g.fillRect(x, height - bottom - h, barW - 3, h);
    });
  });
  g.fillStyle = style.getPropertyValue('--text') || '#222';
  data.forEach((d, di) => g.fillText(d.label, di * groupW + 8, height - 5));
  let x = 4;
  series.forEach((s) => {
    g.fillStyle = s.color; g.fillRect(x, 6, 10, 8);
    g.fillStyle = style.getPropertyValue('--text') || '#222';
    g.fillText(`${s.name} (relative)`, x + 14, 14);
    x += g.measureText(`${s.name} (relative)`).width + 30;
  });
  void unit;
}
