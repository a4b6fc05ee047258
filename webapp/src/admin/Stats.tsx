// The shop's figures (`stats`) as charts (uPlot): purchases and codes by country, service and
// supplier, and revenue against margin. A table under each chart carries the same figures for
// screen readers and for copying.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { request } from "../api";
import { explain } from "../errors";
import { StatsDocument, type StatsQuery, type StatsRowFieldsFragment } from "../gql/graphql";
import { money, percent } from "../format";
import { ErrorLine } from "../ui";

const RANGES = [
  ["Last 24 hours", 1],
  ["Last 7 days", 7],
  ["Last 30 days", 30],
] as const;

export function Stats() {
  const [days, setDays] = useState(7);
  const [stats, setStats] = useState<StatsQuery["stats"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const to = new Date();
    const from = new Date(to.getTime() - days * 86_400_000);
    request(StatsDocument, { from: from.toISOString(), to: to.toISOString() })
      .then(({ stats: s }) => setStats(s))
      .catch((e) => setError(explain(e)));
  }, [days]);
  return (
    <>
      <div class="row" role="group" aria-label="Period">
        {RANGES.map(([label, d]) => (
          <button key={d} type="button" class={d === days ? "" : "secondary"} aria-pressed={d === days} onClick={() => setDays(d)}>
            {label}
          </button>
        ))}
      </div>
      <ErrorLine text={error} />
      {stats && (
        <>
          <p>
            {stats.total.purchases} purchases, {stats.total.codes} with a code ({percent(stats.total.successRate)}), revenue{" "}
            {money(stats.total.revenue)}, margin {money(stats.total.margin)}, top-ups {money(stats.topUps)}.
          </p>
          <div class="charts">
            <Chart title="By country" rows={stats.byCountry} />
            <Chart title="By service" rows={stats.byService} />
            <Chart title="By supplier" rows={stats.bySupplier} />
          </div>
        </>
      )}
    </>
  );
}

function Chart({ title, rows }: { title: string; rows: StatsRowFieldsFragment[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || rows.length === 0) return;
    const xs = rows.map((_, i) => i);
    const left = uPlot.paths.bars!({ size: [0.35, 28], align: 1 });
    const right = uPlot.paths.bars!({ size: [0.35, 28], align: -1 });
    const plot = new uPlot(
      {
        width: Math.max(260, Math.min(box.current.clientWidth || 320, 480)),
        height: 220,
        legend: { show: false }, // the caption names the two colours; the table has the figures
        cursor: { show: false },
        scales: {
          x: { time: false, range: [-0.5, rows.length - 0.5] },
          y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
        },
        axes: [
          { values: (_u, splits) => splits.map((i) => rows[i]?.key ?? ""), splits: () => xs, stroke: "#888" },
          { stroke: "#888" },
        ],
        series: [
          {},
          { label: "Purchases", stroke: "#0b57d0", fill: "#0b57d0cc", paths: left, points: { show: false } },
          { label: "Codes", stroke: "#188038", fill: "#188038cc", paths: right, points: { show: false } },
        ],
      },
      [xs, rows.map((r) => r.purchases), rows.map((r) => r.codes)],
      box.current,
    );
    return () => plot.destroy();
  }, [rows]);
  return (
    <figure class="chart">
      <figcaption>
        {title}: <span class="swatch purchases">purchases</span> <span class="swatch codes">codes</span>
      </figcaption>
      {rows.length === 0 ? <p>Nothing in this period.</p> : <div ref={box} aria-hidden="true" />}
      <details>
        <summary>Figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col" class="num">Purchases</th>
              <th scope="col" class="num">Codes</th>
              <th scope="col" class="num">Revenue</th>
              <th scope="col" class="num">Margin</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key ?? ""}>
                <td>{r.key}</td>
                <td class="num">{r.purchases}</td>
                <td class="num">{r.codes}</td>
                <td class="num">{money(r.revenue)}</td>
                <td class="num">{money(r.margin)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
