/**
 * `deno task dev`: rebuilds the client whenever client/ or protocol/ change,
 * and runs the server under `--watch`, which restarts it when the rebuilt
 * assets module (or any server file) changes.
 */

import { ENV_VARS } from "../server/config.ts";

const deno = Deno.execPath();

async function build(): Promise<void> {
  const { code } = await new Deno.Command(deno, {
    args: ["task", "build"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) console.error("Client build failed; fix it and save again.");
}

await build();
const server = new Deno.Command(deno, {
  args: [
    "run",
    "--watch",
    "--allow-net",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-sys=networkInterfaces",
    "--allow-read=./data",
    "--allow-write=./data",
    "server.ts",
    ...Deno.args,
  ],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

let pending: ReturnType<typeof setTimeout> | undefined;
const watcher = Deno.watchFs(["client", "protocol"]);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  // Take the server down with us, or it keeps the port.
  Deno.addSignalListener(signal, () => {
    watcher.close();
    server.kill(signal);
  });
}
for await (const event of watcher) {
  if (event.paths.every((path) => path.endsWith("_test.ts"))) continue;
  // Editors save in bursts; build once per burst.
  clearTimeout(pending);
  pending = setTimeout(build, 150);
}
await server.status;
