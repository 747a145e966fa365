export { createAutomergeProcessor } from "./processor.js";
export { simulateAutomerge } from "./simulate.js";
export { evaluate, evaluatePull } from "./evaluate.js";
