/**
 * Reverse proxies for tests: Debian's nginx and Caddy run in the
 * foreground with a configuration block taken from the README (so the
 * documented configuration is the tested one), everything they write in a
 * temporary directory, stopped by PID. And a self-signed certificate made
 * at test time.
 */

import { freePort } from "./redis_process.ts";

function findFile(...paths: string[]): string | undefined {
  return paths.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

export const NGINX = findFile("/usr/sbin/nginx", "/usr/bin/nginx");
export const CADDY = findFile("/usr/bin/caddy", "/usr/local/bin/caddy");
export const OPENSSL = findFile("/usr/bin/openssl", "/usr/local/bin/openssl");

/** The first ```lang block of the README, as a user would copy it. */
export async function readmeBlock(lang: string): Promise<string> {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const block = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme)
    ?.[1];
  if (!block) throw new Error(`README has no \`\`\`${lang} block`);
  return block;
}

export interface Proxy {
  port: number;
  stop(): Promise<void>;
}

/** A certificate for localhost and 127.0.0.1, valid for a day. */
export async function selfSignedCertificate(
  dir: string,
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const made = await new Deno.Command(OPENSSL ?? "openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) {
    throw new Error(
      `openssl failed: ${new TextDecoder().decode(made.stderr)}`,
    );
  }
  return { cert, key };
}

/** Resolves once `port` accepts connections; throws with `why()` after 10 s. */
async function waitForListening(
  port: number,
  child: Deno.ChildProcess,
  why: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      connection.close();
      return;
    } catch {
      if (Date.now() > deadline) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        throw new Error(await why());
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function stopper(child: Deno.ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.output().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
}

/**
 * Runs nginx with `server` (an `http`-level block: upstreams, maps,
 * servers) after `edit` has adapted it to `port` and the backends.
 */
export async function runNginx(
  edit: (block: string, port: number, dir: string) => string | Promise<string>,
  block: string,
): Promise<Proxy> {
  const dir = await Deno.makeTempDir({ prefix: "chat-nginx-" });
  const port = freePort();
  const server = await edit(block, port, dir);
  const config = `
user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${server}
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, config);
  const child = new Deno.Command(NGINX ?? "nginx", {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await waitForListening(
    port,
    child,
    async () =>
      `nginx did not start: ${
        new TextDecoder().decode((await child.output()).stderr)
      }`,
  );
  return { port, stop: stopper(child, dir) };
}

/** Runs Caddy with a Caddyfile made by `edit` from the README's block. */
export async function runCaddy(
  edit: (block: string, port: number, dir: string) => string | Promise<string>,
  block: string,
): Promise<Proxy> {
  const dir = await Deno.makeTempDir({ prefix: "chat-caddy-" });
  const port = freePort();
  const site = await edit(block, port, dir);
  // No admin endpoint, no redirect listener on :80, all state in `dir`.
  const caddyfile = `{
  admin off
  auto_https disable_redirects
  storage file_system ${dir}/data
}

${site}`;
  await Deno.writeTextFile(`${dir}/Caddyfile`, caddyfile);
  const child = new Deno.Command(CADDY ?? "caddy", {
    args: ["run", "--config", `${dir}/Caddyfile`, "--adapter", "caddyfile"],
    env: {
      HOME: dir,
      XDG_DATA_HOME: `${dir}/data`,
      XDG_CONFIG_HOME: `${dir}/config`,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await waitForListening(
    port,
    child,
    async () =>
      `caddy did not start: ${
        new TextDecoder().decode((await child.output()).stderr).slice(-2000)
      }`,
  );
  return { port, stop: stopper(child, dir) };
}
