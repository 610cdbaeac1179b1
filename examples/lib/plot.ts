// Training curves as a small standalone SVG, like d2l's Animator: train loss, train acc and test acc
// per epoch on one axis (x: epoch, y: 0..max(1, loss)).

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
}

export function curvesSvg(rows: EpochMetrics[], title = 'AlexNet on Fashion-MNIST'): string {
  const W = 480;
  const H = 320;
  const m = { l: 48, r: 16, t: 28, b: 40 };
  const maxEpoch = Math.max(1, ...rows.map((r) => r.epoch));
  const yMax = Math.max(1, ...rows.map((r) => (Number.isFinite(r.trainLoss) ? r.trainLoss : 0)));
  const x = (e: number) => m.l + ((W - m.l - m.r) * e) / maxEpoch;
  const y = (v: number) => H - m.b - ((H - m.t - m.b) * Math.min(v, yMax)) / yMax;
  const series: [keyof EpochMetrics, string, string][] = [
    ['trainLoss', '#1f77b4', 'train loss'],
    ['trainAcc', '#d62728', 'train acc'],
    ['testAcc', '#2ca02c', 'test acc'],
  ];
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${title}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  for (let e = 0; e <= maxEpoch; e++) parts.push(`<text x="${x(e)}" y="${H - m.b + 16}" text-anchor="middle">${e}</text>`);
  parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle">epoch</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`);
  series.forEach(([k, color, name], i) => {
    const pts = rows.filter((r) => Number.isFinite(r[k] as number)).map((r) => `${x(r.epoch).toFixed(1)},${y(r[k] as number).toFixed(1)}`);
    if (pts.length) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${color}"/>`);
    }
    parts.push(`<line x1="${W - m.r - 90}" x2="${W - m.r - 70}" y1="${m.t + 14 + i * 14}" y2="${m.t + 14 + i * 14}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - m.r - 66}" y="${m.t + 18 + i * 14}">${name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
