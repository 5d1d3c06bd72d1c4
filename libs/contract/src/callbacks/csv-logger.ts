import Type, { type Static } from "typebox";
import { strict } from "./common";

/** Keras `CSVLogger` options, Keras's names and defaults. */
export const CSVLoggerOptions = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.\\-]+$" }),
    separator: Type.Optional(Type.String({ minLength: 1, maxLength: 1, default: "," })),
    append: Type.Optional(Type.Boolean({ default: false })),
  },
  strict,
);

export type CSVLoggerOptions = Static<typeof CSVLoggerOptions>;
