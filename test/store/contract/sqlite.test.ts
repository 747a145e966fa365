import { openStore } from "../../../src/store/index.js";
import { describeStoreContract } from "./describe-store-contract.js";

// The reference implementation: the same suite the PostgreSQL store passes, on a fresh in-memory
// SQLite database per test.
describeStoreContract("sqlite", () => openStore({ path: ":memory:" }));
