/**
 * A loopback TCP proxy a test puts between the app and PostgreSQL, to take the database away
 * without stopping the shared server: `cut()` destroys every open connection and refuses new ones
 * (accepted, then closed at once, as a server that is restarting does), `restore()` lets them
 * through again. Listens on 127.0.0.1 only.
 */
import { createServer, connect } from "node:net";
import type { Server, Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** `postgres://…` of the target with its host and port replaced by the proxy's. */
  url(target: string): string;
  /** Drops every connection through the proxy and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Connections accepted so far (refused ones included). */
  accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the proxy is not listening");
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    url(t) {
      const u = new URL(t);
      u.hostname = "127.0.0.1";
      u.port = String(address.port);
      return u.toString();
    },
    cut() {
      down = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    async close() {
      down = true;
      for (const s of open) s.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
