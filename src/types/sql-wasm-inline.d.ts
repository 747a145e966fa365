/** sql.js built with its WebAssembly inlined (base64): no .wasm file to locate at run time. */
declare module "sql.js/dist/sql-wasm-inline.js" {
  import initSqlJs from "sql.js";
  export default initSqlJs;
}
