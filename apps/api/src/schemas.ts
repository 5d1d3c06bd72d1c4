import Type, { type TSchema } from "typebox";

/** Schema pieces shared by the route plugins. */
export const Uuid = Type.String({ format: "uuid", description: "A UUID, as returned when it was created." });
export const DateTime = Type.String({ format: "date-time" });
export const ErrorRef = Type.Ref("ErrorResponse");

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}
