export * from "../core/worker-contract.js"; // moved: src/core/worker-contract.ts
