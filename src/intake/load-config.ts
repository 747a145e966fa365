export * from "../config/loader.js"; // moved: src/config/loader.ts
