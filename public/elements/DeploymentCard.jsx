// One deployment at a glance: state, provider, URIs, cost so far, escrow left, and its events.
// Props come from ui/elements.py deployment_card_props (the service's job view, refreshed by code while the
// job runs); nothing the model writes reaches them. Close does not sign anything: it asks the server for the
// normal close flow (a code-built confirmation card, then Approve in the chat).
import { useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { ExternalLink, Server, Wallet, Clock, X, ListTree } from "lucide-react";

const TONE_STYLE = {
  ok: { background: "#16a34a", color: "white" },
  bad: { background: "#dc2626", color: "white" },
  off: { background: "#6b7280", color: "white" },
  wait: { background: "#d97706", color: "white" },
};

function Field({ icon, label, children, testid }) {
  return (
    <div className="flex flex-col gap-1" data-field={testid}>
      <span className="inline-flex items-center gap-1 text-xs text-muted-foreground">
        {icon}
        {label}
      </span>
      <span className="font-semibold tabular-nums">{children}</span>
    </div>
  );
}

export default function DeploymentCard() {
  const [asked, setAsked] = useState(false);
  const [showEvents, setShowEvents] = useState(false);
  const uris = Array.isArray(props.uris) ? props.uris : [];
  const events = Array.isArray(props.events) ? props.events : [];
  const kube = Array.isArray(props.kube_events) ? props.kube_events : [];

  const close = async () => {
    setAsked(true);
    try {
      await callAction({ name: props.close_action, payload: { job_id: props.job_id } });
    } catch (error) {
      setAsked(false);
    }
  };

  return (
    <div className="necto-deployment-card w-full rounded-md border p-3 text-sm" data-necto="deployment-card" data-state={props.state}>
      <div className="flex items-center justify-between gap-2">
        <span className="inline-flex items-center gap-2 font-semibold">
          <Server size={16} />
          Deployment {props.dseq || ""}
          <span className="text-xs text-muted-foreground">{props.workload ? `(${props.workload})` : ""}</span>
        </span>
        <span className="rounded-md px-2 py-1 text-xs font-semibold" style={TONE_STYLE[props.tone] || TONE_STYLE.wait} data-field="state">
          {props.state}
        </span>
      </div>

      <div className="grid grid-cols-2 gap-2" style={{ marginTop: 10 }}>
        <Field icon={<Server size={12} />} label="Provider" testid="provider">
          <span title={props.provider_address}>{props.provider}</span>
        </Field>
        <Field icon={<Clock size={12} />} label="Price" testid="price">
          {props.price_text}
        </Field>
        <Field icon={<Wallet size={12} />} label="Cost so far" testid="cost">
          {props.cost_text}
          {typeof props.hours_running === "number" && props.hours_running > 0 ? (
            <span className="text-xs text-muted-foreground"> over {props.hours_running.toFixed(2)} h</span>
          ) : null}
        </Field>
        <Field icon={<Wallet size={12} />} label="Escrow left" testid="escrow">
          {props.escrow_text}
          <span className="text-xs text-muted-foreground"> ({props.escrow_hours_text})</span>
        </Field>
      </div>

      <div className="flex flex-col gap-1" style={{ marginTop: 10 }} data-field="uris">
        <span className="text-xs text-muted-foreground">URIs</span>
        {uris.length === 0 ? (
          <span className="text-muted-foreground">No public URI (yet).</span>
        ) : (
          uris.map((uri) =>
            uri.href ? (
              <a key={uri.text} href={uri.href} target="_blank" rel="noopener noreferrer nofollow"
                 className="inline-flex items-center gap-1 text-primary" style={{ textDecoration: "underline" }}>
                {uri.text}
                <ExternalLink size={12} />
              </a>
            ) : (
              <code key={uri.text} className="font-mono text-xs">{uri.text}</code>
            )
          )
        )}
      </div>

      {props.warning ? <div className="text-destructive" style={{ marginTop: 8 }}>{props.warning}</div> : null}
      {props.error ? <div className="text-destructive" style={{ marginTop: 8 }}>{props.error}</div> : null}

      <div className="flex items-center justify-between gap-2" style={{ marginTop: 10 }}>
        <Button variant="outline" size="sm" onClick={() => setShowEvents(!showEvents)} data-action="events">
          <ListTree size={14} />
          {showEvents ? "Hide events" : `Events (${events.length + kube.length})`}
        </Button>
        <span className="text-xs text-muted-foreground">updated {props.updated_at}</span>
        {props.can_close ? (
          <Button variant="destructive" size="sm" disabled={asked} onClick={close} data-action="close">
            <X size={14} />
            {asked ? "Close requested: see the card below" : "Close…"}
          </Button>
        ) : null}
      </div>

      {showEvents ? (
        <div className="flex flex-col gap-1 text-xs" style={{ marginTop: 8 }} data-field="events">
          {events.map((event, i) => (
            <div key={`j${i}`} className="flex gap-2">
              <span className="text-muted-foreground tabular-nums" style={{ whiteSpace: "nowrap" }}>
                {(event.at || "").replace("T", " ").slice(0, 19)}
              </span>
              <Badge variant="outline">{event.state}</Badge>
              <span>{event.message}</span>
            </div>
          ))}
          {kube.length ? <div className="font-semibold" style={{ marginTop: 6 }}>Cluster events (from the provider)</div> : null}
          {kube.map((event, i) => (
            <div key={`k${i}`} className="flex gap-2">
              <Badge variant={event.type === "Warning" ? "destructive" : "outline"}>{event.reason}</Badge>
              <span className="text-muted-foreground">{event.service}</span>
              <span>{event.note}</span>
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
