// The bid window of a deploy: a countdown to the chain's bid deadline and the bids as they arrive.
// Props come from ui/elements.py BidBoard (fed by the deploy's progress events through element.update());
// every price is the bid's own, converted by code. Rendered as React text, never as HTML.
import { useEffect, useRef, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Check, Hourglass, Gavel, X } from "lucide-react";

const PHASE_TEXT = {
  waiting: "Waiting for the order to open",
  collecting: "Collecting bids",
  choosing: "Choosing a bid",
  leased: "Lease created",
  failed: "No lease",
};

export default function BidCountdown() {
  const bids = Array.isArray(props.bids) ? props.bids : [];
  const total = typeof props.bids_total === "number" ? props.bids_total : bids.length;
  const [now, setNow] = useState(Date.now());
  const receivedAt = useRef(Date.now());

  useEffect(() => {
    receivedAt.current = Date.now();
    setNow(Date.now());
  }, [props.stamp]);

  const open = props.phase === "waiting" || props.phase === "collecting";
  useEffect(() => {
    if (!open) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 200);
    return () => clearInterval(timer);
  }, [open]);

  const base = typeof props.seconds_left === "number" ? props.seconds_left : null;
  const left = base === null ? null : Math.max(0, base - (now - receivedAt.current) / 1000);
  const windowS = typeof props.window_s === "number" && props.window_s > 0 ? props.window_s : null;
  const share = left !== null && windowS ? Math.min(1, left / windowS) : open ? 1 : 0;
  const done = props.phase === "leased" || props.phase === "failed";

  return (
    <div className="necto-bid-countdown w-full rounded-md border p-3 text-sm" data-necto="bid-countdown" data-phase={props.phase}>
      <div className="flex items-center justify-between gap-2">
        <span className="inline-flex items-center gap-1 font-semibold">
          {done ? (props.phase === "leased" ? <Check size={14} /> : <X size={14} />) : <Gavel size={14} />}
          {PHASE_TEXT[props.phase] || "Bids"}
          <span className="text-xs text-muted-foreground">{total ? ` · ${total} bid${total === 1 ? "" : "s"}` : ""}</span>
        </span>
        <span className="inline-flex items-center gap-1 tabular-nums" data-countdown>
          <Hourglass size={14} />
          {left === null ? (done ? "closed" : "…") : done ? "closed" : `${left.toFixed(1)} s left`}
          {props.blocks_left !== null && props.blocks_left !== undefined && !done
            ? ` · ${props.blocks_left} blocks`
            : ""}
        </span>
      </div>
      <div className="w-full rounded-md bg-muted" style={{ height: 6, marginTop: 8, overflow: "hidden" }}>
        <div
          style={{
            width: `${Math.round(share * 100)}%`,
            height: "100%",
            background: "hsl(var(--primary))",
            transition: "width 0.2s linear",
          }}
        />
      </div>
      <table className="w-full tabular-nums" style={{ marginTop: 8, borderCollapse: "collapse" }}>
        <thead>
          <tr className="text-xs text-muted-foreground border-b">
            <th className="text-left py-1">Provider</th>
            <th className="text-right py-1">uact/block</th>
            <th className="text-right py-1">USD/hour</th>
            <th className="text-right py-1">USD/month</th>
            <th className="text-right py-1"></th>
          </tr>
        </thead>
        <tbody>
          {bids.length === 0 ? (
            <tr>
              <td colSpan={5} className="py-1 text-muted-foreground">
                No bids yet.
              </td>
            </tr>
          ) : (
            bids.map((bid) => (
              <tr
                key={bid.address}
                data-bid={bid.address}
                data-chosen={bid.chosen ? "true" : undefined}
                className="border-b"
                style={bid.chosen ? { background: "hsl(var(--primary) / 0.08)" } : undefined}
                title={bid.address}
              >
                <td className="py-1">{bid.provider}</td>
                <td className="py-1 text-right">{bid.uact_per_block}</td>
                <td className="py-1 text-right">{bid.usd_per_hour_text}</td>
                <td className="py-1 text-right text-muted-foreground">{bid.usd_per_month_text}</td>
                <td className="py-1 text-right">
                  {bid.chosen ? <Badge>chosen</Badge> : bid.cheapest ? <Badge variant="outline">cheapest</Badge> : null}
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      {props.bids_total > bids.length ? (
        <div className="text-xs text-muted-foreground" style={{ marginTop: 4 }}>
          and {props.bids_total - bids.length} more bids at higher prices
        </div>
      ) : null}
      {props.message ? <div className="text-xs text-muted-foreground" style={{ marginTop: 6 }}>{props.message}</div> : null}
    </div>
  );
}
