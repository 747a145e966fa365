/**
 * A named statement run the lean way inside a transaction (issue #16). pg's own Query asks for the
 * result's description with every execution (Describe) and rebuilds the row's field list, type
 * parsers and row template from it each time, which is a large part of what a webhook delivery
 * costs the app on PostgreSQL. The result shape of a prepared statement cannot change while it is
 * prepared (PostgreSQL refuses to execute it, "cached plan must not change result type"), so this
 * one describes a statement once per connection, keeps the field names and parsers, and from then
 * on sends only Bind, Execute and Sync. It is a pg "submittable" (as pg-cursor is): the client
 * hands it the protocol's messages for its query.
 */
import pg from "pg";
import type { PoolClient, QueryResultRow } from "pg";

type Parser = (v: string) => unknown;

/** BIGINT (timestamps, ids, counts) and NUMERIC (SUMs of BIGINT) as JS numbers; the rest as pg parses them. */
export function typeParser(oid: number, format?: "text" | "binary"): Parser {
  if (oid === 20 || oid === 1700) return (v: string) => Number(v);
  return format === "binary"
    ? (pg.types.getTypeParser(oid, "binary") as unknown as Parser)
    : (pg.types.getTypeParser(oid, "text") as Parser);
}

/** A described statement's result: its columns' names and parsers (none: it returns no rows). */
interface Shape {
  names: string[];
  parsers: Parser[];
}

/** The part of pg's Connection this query drives (its protocol writers and statement records). */
interface Wire {
  stream: { cork?(): void; uncork?(): void };
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
  parse(q: { text: string; name: string; types: number[] }): void;
  bind(c: {
    portal: string;
    statement: string;
    values: readonly unknown[];
    binary: boolean;
    valueMapper: (v: unknown) => string | Buffer | null;
  }): void;
  describe(m: { type: "P"; name: string }): void;
  execute(c: { portal: string; rows: number }): void;
  close(m: { type: "S"; name: string }): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

/** The result shapes described on each connection, by statement name. */
const described = new WeakMap<object, Map<string, Shape>>();

const shapesOf = (w: Wire): Map<string, Shape> => {
  let m = described.get(w);
  if (!m) described.set(w, (m = new Map()));
  return m;
};

/** The values this query sends as text: strings, numbers, booleans, null; Buffers as bytes. */
export const leanValues = (values: readonly unknown[]): boolean =>
  values.every(
    (v) =>
      v === null ||
      v === undefined ||
      typeof v === "string" ||
      typeof v === "number" ||
      typeof v === "boolean" ||
      Buffer.isBuffer(v),
  );

const toWire = (v: unknown): string | Buffer | null =>
  v === null || v === undefined
    ? null
    : typeof v === "string" || Buffer.isBuffer(v)
      ? v
      : String(v);

const COMMAND = /^[A-Za-z]+(?: (\d+))?(?: (\d+))?/;

class LeanQuery<R extends QueryResultRow> {
  private shape: Shape | undefined;
  /** Commands completed so far: with `begin`, the first is the BEGIN's. */
  private completed = 0;
  /** This execution asked for the description (the first on its connection). */
  private describing = false;
  private readonly rows: R[] = [];
  private rowCount: number | null = null;
  private failed: Error | undefined;
  private settle!: {
    resolve(r: { rows: R[]; rowCount: number | null }): void;
    reject(e: Error): void;
  };
  readonly done: Promise<{ rows: R[]; rowCount: number | null }>;

  constructor(
    readonly name: string,
    readonly text: string,
    private readonly values: readonly unknown[],
    /** Starts the transaction in the same message: BEGIN executed first, under the same Sync. */
    private readonly begin: boolean,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  submit(connection: Wire): Error | null {
    this.shape = shapesOf(connection).get(this.name);
    this.describing = this.shape === undefined;
    const parsed =
      connection.parsedStatements[this.name] !== undefined ||
      connection.submittedNamedStatements[this.name] !== undefined;
    // With `begin`, the statement must be parsed on the connection already: the driver records
    // the query's statement as parsed on any ParseComplete of its message, the BEGIN's too.
    if (this.begin && !parsed) return new Error(`statement ${this.name} is not prepared here`);
    connection.stream.cork?.();
    try {
      if (this.begin) {
        connection.parse({ text: "BEGIN", name: "", types: [] });
        connection.bind({
          portal: "",
          statement: "",
          values: [],
          binary: false,
          valueMapper: toWire,
        });
        connection.execute({ portal: "", rows: 0 });
      }
      if (!parsed) {
        connection.parse({ text: this.text, name: this.name, types: [] });
        connection.submittedNamedStatements[this.name] = this.text;
      }
      connection.bind({
        portal: "",
        statement: this.name,
        values: this.values,
        binary: false,
        valueMapper: toWire,
      });
      if (this.describing) connection.describe({ type: "P", name: "" });
      connection.execute({ portal: "", rows: 0 });
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: { fields: { name: string; dataTypeID: number; format?: string }[] }) {
    this.shape = {
      names: msg.fields.map((f) => f.name),
      parsers: msg.fields.map((f) =>
        typeParser(f.dataTypeID, f.format === "binary" ? "binary" : "text"),
      ),
    };
  }

  handleDataRow(msg: { fields: (string | null)[] }) {
    if (this.failed) return;
    const s = this.shape;
    if (!s || s.names.length !== msg.fields.length) {
      this.failed = new Error(
        `statement ${this.name}: a row of ${msg.fields.length} columns where ${s?.names.length ?? "none"} were described`,
      );
      return;
    }
    const row: Record<string, unknown> = {};
    try {
      for (let i = 0; i < s.names.length; i++) {
        const v = msg.fields[i];
        row[s.names[i]!] = v === null || v === undefined ? null : s.parsers[i]!(v);
      }
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
      return;
    }
    this.rows.push(row as R);
  }

  handleCommandComplete(msg: { text?: string; command?: string }, connection: Wire) {
    if (this.begin && this.completed++ === 0) return; // the BEGIN's
    const m = COMMAND.exec(msg.text ?? msg.command ?? "");
    if (m?.[2] !== undefined) this.rowCount = Number(m[2]);
    else if (m?.[1] !== undefined) this.rowCount = Number(m[1]);
    // Described now: kept for this statement's next executions on this connection.
    if (this.describing && !this.failed)
      shapesOf(connection).set(this.name, this.shape ?? { names: [], parsers: [] });
  }

  handleEmptyQuery() {}

  handlePortalSuspended() {}

  handleCopyInResponse(connection: Wire) {
    connection.sendCopyFail("No source stream defined");
  }

  handleCopyData() {}

  handleError(err: Error) {
    this.settle.reject(err);
  }

  handleReadyForQuery() {
    if (this.failed) this.settle.reject(this.failed);
    else this.settle.resolve({ rows: this.rows, rowCount: this.rowCount });
  }
}

/**
 * Runs the named statement `name` (`text`, `$n` placeholders) on `client`, described once per
 * connection; with `begin`, after a BEGIN in the same message (one round trip for both), which
 * needs the statement already prepared on the connection (`preparedOn`).
 */
export function leanQuery<R extends QueryResultRow>(
  client: PoolClient,
  name: string,
  text: string,
  values: readonly unknown[],
  begin = false,
): Promise<{ rows: R[]; rowCount: number | null }> {
  const q = new LeanQuery<R>(name, text, values, begin);
  client.query(q as unknown as pg.Submittable);
  return q.done;
}
