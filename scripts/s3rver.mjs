// Runs s3rver (an S3-protocol server on the local filesystem) on loopback, for dev and tests on
// machines without MinIO. Prints one line `s3rver listening on http://<address>:<port>` once ready.
//
//   node scripts/s3rver.mjs --directory .stack/s3 [--port 4569] [--address 127.0.0.1] [--exit-with-stdin]
//
// --port 0 picks a free port. --exit-with-stdin stops the server when its parent closes our stdin,
// so a test run that dies cannot leave it behind.
//
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 17+'s OpenSSL 3 only offers
// with the legacy provider, and that can only be switched on at process start. So the script
// re-executes itself with --openssl-legacy-provider when DES is unavailable, whoever started it.
import { spawn } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import S3rver from "s3rver";

function desAvailable() {
  try {
    createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

if (!desAvailable()) {
  const child = spawn(
    process.execPath,
    ["--openssl-legacy-provider", ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: "inherit",
    },
  );
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { values } = parseArgs({
    options: {
      directory: { type: "string" },
      port: { type: "string", default: "4569" },
      address: { type: "string", default: "127.0.0.1" },
      "exit-with-stdin": { type: "boolean", default: false },
    },
  });
  if (!values.directory) {
    console.error("usage: node scripts/s3rver.mjs --directory <dir> [--port N] [--address A]");
    process.exit(2);
  }
  mkdirSync(values.directory, { recursive: true });
  const server = new S3rver({
    address: values.address,
    port: Number(values.port),
    directory: values.directory,
    silent: true,
    // Path-style only: virtual-host buckets would need DNS for <bucket>.127.0.0.1.
    vhostBuckets: false,
  });
  const { address, port } = await server.run();
  console.log(`s3rver listening on http://${address}:${port}`);

  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (values["exit-with-stdin"]) {
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
  }
}
