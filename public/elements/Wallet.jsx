// Connect Keplr (or Leap) for this chat: enable the chain (suggest it when the wallet does not know it),
// read the account, sign the server's sign-in message (ADR-036, a nonce with an expiry) and hand address,
// public key and signature to the server (callAction), which verifies them and answers with balances.
// No key ever leaves the wallet; everything shown here comes from the server's props.
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Wallet as WalletIcon } from "lucide-react";

const TIMEOUT_MS = 120000;

function toB64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
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

async function enableChain(wallet, chainId, chainInfo) {
  try {
    await wallet.enable(chainId);
  } catch (error) {
    if (classify(error) !== "wrong_network" || !wallet.experimentalSuggestChain || !chainInfo) throw error;
    await wallet.experimentalSuggestChain(chainInfo);
    await wallet.enable(chainId);
  }
}

function failure(code, message) {
  const error = new Error(message || code);
  error.code = code;
  return error;
}

export default function Wallet() {
  const [busy, setBusy] = useState(null);
  const [local, setLocal] = useState(null);
  const connected = props.status === "connected";
  const balances = props.balances || {};

  async function connect(name) {
    setBusy(name);
    setLocal(null);
    let payload;
    try {
      const wallet = name === "leap" ? window.leap : window.keplr;
      if (!wallet) throw failure("missing");
      await withTimeout(enableChain(wallet, props.chainId, props.chainInfo));
      const key = await withTimeout(wallet.getKey(props.chainId));
      if (key.isNanoLedger) throw failure("ledger");
      const signed = await withTimeout(wallet.signArbitrary(props.chainId, key.bech32Address, props.challenge.text));
      payload = {
        wallet: name,
        chainId: props.chainId,
        address: key.bech32Address,
        pubKey: toB64(key.pubKey),
        isNanoLedger: false,
        nonce: props.challenge.nonce,
        signature: signed.signature,
        signaturePubKey: signed.pub_key ? signed.pub_key.value : null,
      };
    } catch (error) {
      payload = { wallet: name, error: error.code || classify(error), message: String((error && error.message) || error).slice(0, 200) };
    }
    try {
      const answer = await callAction({ name: props.action, payload });
      const result = (answer && answer.response) || {};
      if (result.status === "ok") {
        updateElement({ ...props, status: "connected", address: result.address, balances: result.balances,
                        wallet: result.wallet, message: null, hint: null, challenge: result.challenge || props.challenge });
      } else {
        updateElement({ ...props, status: connected ? "connected" : "error", message: result.message || "The wallet could not connect.",
                        hint: result.hint || null, challenge: result.challenge || props.challenge });
      }
    } catch (error) {
      setLocal("Necto did not answer; reload the page and try again.");
    }
    setBusy(null);
  }

  return (
    <div className="necto-wallet w-full rounded-md border p-3 text-sm" data-necto="wallet" data-status={props.status || "disconnected"}>
      <div className="flex items-center gap-2 font-semibold">
        <WalletIcon size={16} />
        {connected ? `Wallet connected (${props.wallet === "leap" ? "Leap" : "Keplr"})` : "Sign with your own wallet"}
        <span className="text-xs font-normal text-muted-foreground">· {props.chainId}</span>
      </div>
      {connected ? (
        <div className="mt-2 space-y-1">
          <div className="font-mono text-xs break-all" data-necto="wallet-address">{props.address}</div>
          <div data-necto="wallet-balances">
            {balances.note ? balances.note : `${balances.act ?? "?"} ACT · ${balances.akt ?? "?"} AKT`}
          </div>
          <div className="text-xs text-muted-foreground">New deployments are signed in your wallet; Necto never sees its keys.</div>
        </div>
      ) : (
        <div className="mt-1 text-xs text-muted-foreground">{props.intro}</div>
      )}
      {props.message ? (
        <div className="mt-2 text-destructive" data-necto="wallet-error">
          {props.message} {props.hint ? <span className="text-muted-foreground">{props.hint}</span> : null}
        </div>
      ) : null}
      {local ? <div className="mt-2 text-destructive">{local}</div> : null}
      <div className="mt-2 flex gap-2">
        <Button size="sm" disabled={!!busy} onClick={() => connect("keplr")}>
          {busy === "keplr" ? "Waiting for Keplr…" : connected ? "Reconnect Keplr" : "Connect Keplr"}
        </Button>
        <Button size="sm" variant="outline" disabled={!!busy} onClick={() => connect("leap")}>
          {busy === "leap" ? "Waiting for Leap…" : "Connect Leap"}
        </Button>
      </div>
    </div>
  );
}
