// Compile ComputeRouter.sol with the pinned solc-js into build/ComputeRouter.json (ABI + bytecode).
//
//   cd contracts && npm ci && node compile.mjs           write build/ComputeRouter.json
//   cd contracts && node compile.mjs --check             exit 1 if the committed artifact is stale
//
// The artifact is committed so Python needs no Node. It must be reproducible: the same source and the
// same pinned compiler give the same bytes, so the metadata hash is left out of the bytecode
// (bytecodeHash "none": the CBOR trailer then holds only the solc version) and JSON keys are written in a
// fixed order. ADI Chain targets the cancun EVM (../shared/specs/stack.md, "ADI Chain facts").
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const HERE = dirname(fileURLToPath(import.meta.url));
const CONTRACT = "ComputeRouter";
const SOURCE = `${CONTRACT}.sol`;
const OUT = join(HERE, "build", `${CONTRACT}.json`);
const PINNED = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")).devDependencies.solc;

const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: { [SOURCE]: { [CONTRACT]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(`${PINNED}+`)) {
    throw new Error(`solc ${version} is installed but package.json pins ${PINNED}: run \`npm ci\``);
  }
  const sourceBytes = readFileSync(join(HERE, SOURCE));
  const input = { language: "Solidity", sources: { [SOURCE]: { content: sourceBytes.toString("utf8") } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = output.errors ?? [];
  for (const p of problems) process.stderr.write(`${p.formattedMessage ?? p.message}\n`);
  if (problems.some((p) => p.severity === "error")) throw new Error("compilation failed");

  const contract = output.contracts[SOURCE][CONTRACT];
  // Key order is part of the format: Python and the freshness test compare these bytes.
  const artifact = {
    contractName: CONTRACT,
    abi: sortKeys(contract.abi),
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
    compiler: {
      name: "solc-js",
      version: version.replace(/\.Emscripten\.clang$/, ""),
      evmVersion: SETTINGS.evmVersion,
      optimizer: SETTINGS.optimizer,
      metadata: SETTINGS.metadata,
    },
    sourceSha256: createHash("sha256").update(sourceBytes).digest("hex"),
  };
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

const text = compile();
if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(OUT, "utf8");
  } catch {
    // missing counts as stale
  }
  if (committed !== text) {
    process.stderr.write(`${OUT} is stale: run \`node compile.mjs\` and commit the result\n`);
    process.exit(1);
  }
  process.stdout.write(`${OUT} is up to date\n`);
} else {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, text);
  process.stdout.write(`wrote ${OUT}\n`);
}
