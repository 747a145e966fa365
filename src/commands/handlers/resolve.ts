export * from "../resolve.js"; // moved: src/commands/resolve.ts
