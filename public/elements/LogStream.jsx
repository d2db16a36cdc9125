// A deployment's container logs with follow/stop and a service filter. The server owns the stream: the
// buttons only ask it (callAction) to follow, stop or filter; the lines arrive as props, sanitised by code
// (ui/elements.py LogBuffer: no control characters, ANSI codes or tags; bounded). Lines are container
// output, shown as data: React renders them as text, never as HTML or Markdown.
import { useEffect, useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { Pause, Play, ScrollText } from "lucide-react";

export default function LogStream() {
  const lines = Array.isArray(props.lines) ? props.lines : [];
  const services = Array.isArray(props.services) ? props.services : [];
  const [pending, setPending] = useState(null);
  const box = useRef(null);

  useEffect(() => {
    setPending(null);
  }, [props.following, props.filter, props.stamp]);

  useEffect(() => {
    if (props.following && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines.length, props.following]);

  const ask = async (op, service) => {
    setPending(op);
    try {
      await callAction({ name: props.action, payload: { stream_id: props.stream_id, op, service: service || "" } });
    } catch (error) {
      setPending(null);
    }
  };

  return (
    <div className="necto-log-stream w-full rounded-md border text-sm" data-necto="log-stream" data-following={props.following ? "true" : "false"}>
      <div className="flex items-center justify-between gap-2 border-b bg-muted px-2 py-1">
        <span className="inline-flex items-center gap-1 font-semibold">
          <ScrollText size={14} />
          Logs · job {props.job_id}
          <span className="text-xs text-muted-foreground">
            {props.following ? " (following)" : " (stopped)"}
          </span>
        </span>
        <span className="flex items-center gap-2">
          <label className="text-xs text-muted-foreground" htmlFor={`svc-${props.stream_id}`}>Service</label>
          <select
            id={`svc-${props.stream_id}`}
            data-action="filter"
            className="rounded-md border bg-accent px-2 py-1 text-xs"
            value={props.filter || ""}
            disabled={pending !== null}
            onChange={(event) => ask("filter", event.target.value)}
          >
            <option value="">all services</option>
            {services.map((name) => (
              <option key={name} value={name}>{name}</option>
            ))}
          </select>
          {props.following ? (
            <Button size="sm" variant="outline" data-action="stop" disabled={pending !== null} onClick={() => ask("stop")}>
              <Pause size={14} />
              {pending === "stop" ? "Stopping…" : "Stop"}
            </Button>
          ) : (
            <Button size="sm" variant="outline" data-action="follow" disabled={pending !== null} onClick={() => ask("follow")}>
              <Play size={14} />
              {pending === "follow" ? "Starting…" : "Follow"}
            </Button>
          )}
        </span>
      </div>
      <div
        ref={box}
        className="font-mono text-xs overflow-y-auto"
        style={{ maxHeight: 320, padding: "6px 8px", whiteSpace: "pre-wrap", wordBreak: "break-all" }}
        data-field="lines"
      >
        {props.dropped > 0 ? (
          <div className="text-muted-foreground">… {props.dropped} earlier lines not kept</div>
        ) : null}
        {lines.length === 0 ? <div className="text-muted-foreground">(no log lines yet)</div> : null}
        {lines.map((line, i) => (
          <div key={i} data-log-line>
            {line.service ? <span className="text-muted-foreground">[{line.service}] </span> : null}
            {line.text}
          </div>
        ))}
      </div>
      {props.note ? <div className="border-b px-2 py-1 text-xs text-muted-foreground" data-field="note">{props.note}</div> : null}
    </div>
  );
}
