// One signing request from the server, handed to the wallet as built: signDirect with the server's exact
// bytes (preferNoSetFee, preferNoSetMemo: the wallet must keep Necto's fee and memo) or signArbitrary
// (the provider token). The answer goes back with submitElement; the server verifies it (same messages,
// fee, signer, chain and account number, a valid signature) before anything is broadcast. The summary
// lines were written by the server's code from the bytes, not by the model.
import { useEffect, useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { PenLine } from "lucide-react";

const TIMEOUT_MS = 180000;

function toB64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromB64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function classify(error) {
  const text = String((error && error.message) || error || "");
  if (/reject|denied|cancel/i.test(text)) return "rejected";
  if (/lock/i.test(text)) return "locked";
  if (/chain info|not supported|unknown chain|chain id/i.test(text)) return "wrong_network";
  if (/ledger/i.test(text)) return "ledger";
  if (/timed out/i.test(text)) return "timeout";
  return "error";
}

function withTimeout(promise) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), TIMEOUT_MS)),
  ]);
}

export default function KeplrSign() {
  const request = props.request || {};
  const summary = request.summary || {};
  const walletName = props.wallet === "leap" ? "Leap" : "Keplr";
  const [status, setStatus] = useState(`Waiting for ${walletName}: approve the request in its window.`);
  const started = useRef(false);

  // What to submit: the wallet's answer as {response}, or {error, message}. Never throws.
  async function sign() {
    const wallet = props.wallet === "leap" ? window.leap : window.keplr;
    if (!wallet) return { error: "missing" };
    try {
      await withTimeout(wallet.enable(request.chainId));
      const key = await withTimeout(wallet.getKey(request.chainId));
      if (key.bech32Address !== request.signer) return { error: "wrong_account" };
      if (key.isNanoLedger && request.kind === "direct") return { error: "ledger" };
      if (request.kind === "direct") {
        const doc = request.signDoc;
        const answer = await withTimeout(
          wallet.signDirect(
            request.chainId,
            request.signer,
            { bodyBytes: fromB64(doc.bodyBytes), authInfoBytes: fromB64(doc.authInfoBytes), chainId: doc.chainId, accountNumber: doc.accountNumber },
            { preferNoSetFee: true, preferNoSetMemo: true },
          ),
        );
        setStatus("Signed; Necto is checking the signature before broadcasting.");
        return {
          response: {
            signed: {
              bodyBytes: toB64(answer.signed.bodyBytes),
              authInfoBytes: toB64(answer.signed.authInfoBytes),
              chainId: answer.signed.chainId,
              accountNumber: String(answer.signed.accountNumber),
            },
            signature: { pub_key: answer.signature.pub_key, signature: answer.signature.signature },
          },
        };
      }
      const answer = await withTimeout(wallet.signArbitrary(request.chainId, request.signer, request.data));
      setStatus("Signed.");
      return { response: { pub_key: answer.pub_key, signature: answer.signature } };
    } catch (error) {
      return { error: classify(error), message: String((error && error.message) || error).slice(0, 200) };
    }
  }

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    // The element may be mounted more than once (re-renders of the message): one wallet prompt per request.
    const pending = (window.__nectoSignRequests = window.__nectoSignRequests || {});
    if (!pending[props.requestId]) pending[props.requestId] = sign();
    pending[props.requestId].then((reply) => submitElement(reply));
  }, []);

  const lines = Array.isArray(summary.lines) ? summary.lines : [];
  return (
    <div className="necto-keplr-sign w-full rounded-md border p-3 text-sm" data-necto="keplr-sign" data-kind={request.kind}>
      <div className="flex items-center gap-2 font-semibold">
        <PenLine size={16} />
        {request.kind === "direct" ? `Sign the transaction in ${walletName}` : `Sign provider access in ${walletName}`}
      </div>
      {request.kind === "direct" ? (
        <ul className="mt-2 list-disc pl-5">
          {lines.map((line, i) => <li key={i}>{line}</li>)}
          <li>Fee {summary.fee}, gas limit {summary.gas}</li>
          <li>Chain {request.chainId}, account {request.signer}</li>
        </ul>
      ) : (
        <div className="mt-2">{request.purpose}</div>
      )}
      <div className="mt-2 text-xs text-muted-foreground" data-necto="keplr-sign-status">{status}</div>
      <div className="mt-2">
        <Button size="sm" variant="outline" onClick={() => cancelElement()}>Cancel</Button>
      </div>
    </div>
  );
}
