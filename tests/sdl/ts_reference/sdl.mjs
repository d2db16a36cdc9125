// Necto's bridge to the TypeScript SDL reference (@akashnetwork/chain-sdk).
// Reads JSON lines {"id", "yaml"} on stdin; writes one JSON line per input, in order:
//   {"id", "ok": true, "hash": <hex manifest version>, "groups": [...], "error": null}
//   {"id", "ok": false, "hash": null, "groups": null, "error": "<message>"}
// Resource values (Uint8Array of decimal ASCII) are written as strings. One process serves many SDLs.
import { SDL } from "@akashnetwork/chain-sdk";
import readline from "node:readline";

const decoder = new TextDecoder();
const replacer = (_key, value) => (value instanceof Uint8Array ? decoder.decode(value) : value);

async function compile(yaml) {
  const sdl = SDL.fromString(yaml, "beta3", "mainnet");
  const groups = sdl.groups();
  const version = await sdl.manifestVersion();
  return { hash: Buffer.from(version).toString("hex"), groups: JSON.parse(JSON.stringify(groups, replacer)) };
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let id = null;
  let out;
  try {
    const request = JSON.parse(line);
    id = request.id ?? null;
    const { hash, groups } = await compile(String(request.yaml));
    out = { id, ok: true, hash, groups, error: null };
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    out = { id, ok: false, hash: null, groups: null, error: message.split("\n")[0].slice(0, 500) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
