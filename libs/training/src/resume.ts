/** What a trainer process needs to be reproducible and resumable, apart from the fit loop (`./run`). */
export { type RandomState, SeededRandom } from "./random";
export { decodeSnapshot, encodeSnapshot, type ResumeSnapshot } from "./snapshot-codec";
