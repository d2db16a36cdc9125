// The offer comparison as a sortable table. Props are built by code (ui/elements.py offer_table_props):
// every figure comes from the quote, never from the model. Rendered as React text, never as HTML.
// The message's Markdown table is the fallback (Slack, Discord, a page where this element fails): once this
// element has rendered, it hides that table in its own message so the page does not show it twice.
import { useEffect, useMemo, useRef, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { ArrowDown, ArrowUp, ArrowUpDown, Star, TriangleAlert } from "lucide-react";

const COLUMNS = [
  { key: "rank", label: "#", numeric: true },
  { key: "provider", label: "Provider" },
  { key: "source", label: "Source" },
  { key: null, label: "Resources" },
  { key: null, label: "Region" },
  { key: "usd_per_hour", label: "$/hour", numeric: true },
  { key: "usd_per_gpu_hour", label: "$/GPU-h", numeric: true },
  { key: null, label: "Total", numeric: true },
  { key: "uptime", label: "Uptime", numeric: true },
  { key: "age_s", label: "Price age", numeric: true },
];

function ageText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, seconds);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function compare(a, b, key, dir) {
  const x = a[key];
  const y = b[key];
  const missingX = x === null || x === undefined;
  const missingY = y === null || y === undefined;
  if (missingX || missingY) return missingX === missingY ? a.rank - b.rank : missingX ? 1 : -1; // unknowns last
  const order = typeof x === "string" ? x.localeCompare(y) : x - y;
  return (dir === "asc" ? order : -order) || a.rank - b.rank;
}

export default function OfferTable() {
  const rows = Array.isArray(props.rows) ? props.rows : [];
  const [sort, setSort] = useState({ key: "rank", dir: "asc" });
  const [now, setNow] = useState(Date.now());
  const shownAt = useRef(Date.now());
  const root = useRef(null);

  useEffect(() => {
    shownAt.current = Date.now();
  }, [props.generated_at]);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    // Hide the Markdown fallback table of this same message (the one written for Slack and Discord).
    const message = root.current && root.current.closest("[data-step-type]");
    if (!message) return;
    message.querySelectorAll("table").forEach((table) => {
      if (root.current.contains(table) || !table.textContent.includes("$/hour")) return;
      // The Markdown renderer wraps a table in a bordered box: hide the box, up to the prose block.
      let box = table;
      while (box.parentElement && !box.parentElement.classList.contains("prose") && box.parentElement !== message) {
        box = box.parentElement;
      }
      if (!box.parentElement || box.parentElement === message) box = table;
      box.style.display = "none";
      table.setAttribute("data-necto-fallback", "hidden");
    });
  }, []);

  const elapsed = Math.max(0, (now - shownAt.current) / 1000);
  const sorted = useMemo(
    () => [...rows].sort((a, b) => compare(a, b, sort.key, sort.dir)),
    [rows, sort.key, sort.dir]
  );

  const clickHeader = (key) => {
    if (!key) return;
    setSort((current) =>
      current.key === key ? { key, dir: current.dir === "asc" ? "desc" : "asc" } : { key, dir: "asc" }
    );
  };

  if (!rows.length) return null;

  return (
    <div ref={root} className="necto-offer-table w-full overflow-x-auto rounded-md border" data-necto="offer-table">
      <table className="w-full text-sm tabular-nums" style={{ borderCollapse: "collapse" }}>
        <thead>
          <tr className="border-b bg-muted">
            {COLUMNS.map((column) => {
              const active = column.key && sort.key === column.key;
              const Icon = active ? (sort.dir === "asc" ? ArrowUp : ArrowDown) : ArrowUpDown;
              return (
                <th
                  key={column.label}
                  data-sort-key={column.key || undefined}
                  aria-sort={active ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}
                  onClick={() => clickHeader(column.key)}
                  className={`px-2 py-1 font-semibold ${column.numeric ? "text-right" : "text-left"} ${
                    column.key ? "cursor-pointer select-none" : ""
                  }`}
                  style={{ whiteSpace: "nowrap" }}
                  title={column.key ? `Sort by ${column.label}` : undefined}
                >
                  <span className="inline-flex items-center gap-1">
                    {column.label}
                    {column.key ? <Icon size={12} style={{ opacity: active ? 1 : 0.35 }} /> : null}
                  </span>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((row) => {
            const age = row.age_s === null || row.age_s === undefined ? null : row.age_s + elapsed;
            const stale = row.stale || (age !== null && row.ttl_s !== null && row.ttl_s !== undefined && age > row.ttl_s);
            return (
              <tr
                key={row.id}
                data-offer-id={row.id}
                data-rank={row.rank}
                data-recommended={row.recommended ? "true" : undefined}
                className="border-b"
                style={row.recommended ? { background: "hsl(var(--primary) / 0.08)" } : undefined}
                title={row.notes || undefined}
              >
                <td className="px-2 py-1 text-right">{row.rank}</td>
                <td className="px-2 py-1" style={{ whiteSpace: "nowrap" }}>
                  <span className="inline-flex items-center gap-1">
                    {row.recommended ? <Star size={12} className="text-primary" aria-label="recommended" /> : null}
                    {row.provider}
                  </span>
                  {row.flags && row.flags.length ? (
                    <div className="text-xs text-muted-foreground">{row.flags.join(", ")}</div>
                  ) : null}
                </td>
                <td className="px-2 py-1">
                  <Badge variant="outline">{row.source}</Badge>
                </td>
                <td className="px-2 py-1" style={{ maxWidth: "10rem", whiteSpace: "normal" }}>{row.resources_text}</td>
                <td className="px-2 py-1">{row.region}</td>
                <td className="px-2 py-1 text-right font-semibold">{row.price_text}</td>
                <td className="px-2 py-1 text-right">{row.per_gpu_text}</td>
                <td className="px-2 py-1 text-right">{row.total_text}</td>
                <td className="px-2 py-1 text-right">{row.uptime_text}</td>
                <td className="px-2 py-1 text-right" style={{ whiteSpace: "nowrap" }} data-age>
                  <span className={stale ? "text-destructive inline-flex items-center gap-1" : "text-muted-foreground"}>
                    {stale ? <TriangleAlert size={12} aria-label="stale" /> : null}
                    {ageText(age)}
                    {stale ? " (stale)" : ""}
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="px-2 py-1 text-xs text-muted-foreground">
        Click a column to sort. Each price shows its source and age; a price older than its source's
        lifetime is marked stale. {props.offers_total > rows.length ? `Top ${rows.length} of ${props.offers_total} offers.` : ""}
      </div>
    </div>
  );
}
