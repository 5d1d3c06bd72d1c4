import Type, { type Static } from "typebox";
import { strict } from "./common";

/** Keras `TerminateOnNaN` options, Keras's names and defaults. */
export const TerminateOnNaNOptions = Type.Object(
  { raise_error: Type.Optional(Type.Boolean({ default: false })) },
  strict,
);

export type TerminateOnNaNOptions = Static<typeof TerminateOnNaNOptions>;
