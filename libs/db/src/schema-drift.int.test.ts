import { readFileSync } from "node:fs";
import wasm from "@prisma/prisma-schema-wasm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The hand-written migrations and schema.prisma must describe the same database. The schema is read
 * by Prisma's own parser (the prisma-schema wasm module that `prisma generate` uses, offline), and
 * compared with the database the global setup migrated. When this fails after a schema change, the
 * migration that goes with it is missing or wrong (see migrate.ts for how to write one).
 */

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "enum" | "object";
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  fields: { name: string; sortOrder?: "asc" | "desc" }[];
}
interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: { name: string; dbName: string | null; values: { name: string; dbName: string | null }[] }[];
    indexes: DmmfIndex[];
  };
}

const schemaPath = new URL("../../../prisma/schema.prisma", import.meta.url);
const dmmf: Dmmf = JSON.parse(
  wasm.get_dmmf(JSON.stringify({ prismaSchema: [["schema.prisma", readFileSync(schemaPath, "utf8")]] })),
);
const models = dmmf.datamodel.models;
const tableOf = (model: DmmfModel) => model.dbName ?? model.name;
const columnOf = (model: DmmfModel, fieldName: string) => {
  const field = model.fields.find((f) => f.name === fieldName)!;
  return field.dbName ?? field.name;
};
const modelNamed = (name: string) => models.find((m) => m.name === name)!;

/** The Postgres type Prisma's migrations give a field: `format_type()` spelling. */
function expectedType(field: DmmfField): string {
  if (field.kind === "enum") {
    const enumDef = dmmf.datamodel.enums.find((e) => e.name === field.type)!;
    return `"${enumDef.dbName ?? enumDef.name}"`;
  }
  const [native, args] = field.nativeType ?? [undefined, []];
  const precision = args[0] ?? "3";
  const byNative: Record<string, string> = {
    Uuid: "uuid",
    Text: "text",
    VarChar: `character varying(${args[0]})`,
    Timestamptz: `timestamp(${precision}) with time zone`,
    Timestamp: `timestamp(${precision}) without time zone`,
    Integer: "integer",
    BigInt: "bigint",
    DoublePrecision: "double precision",
    JsonB: "jsonb",
  };
  const byScalar: Record<string, string> = {
    String: "text",
    Int: "integer",
    BigInt: "bigint",
    Float: "double precision",
    Boolean: "boolean",
    Json: "jsonb",
    DateTime: "timestamp(3) without time zone",
    Decimal: "numeric(65,30)",
    Bytes: "bytea",
  };
  const type = native ? byNative[native] : byScalar[field.type];
  if (!type)
    throw new Error(`the drift test does not know Prisma's column type for ${field.type} ${native ?? ""}`);
  return field.isList ? `${type}[]` : type;
}

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
});
afterAll(async () => {
  await client.end();
});

describe("the migrated database matches prisma/schema.prisma", () => {
  it("has exactly one table per model, besides Prisma's bookkeeping", async () => {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
    );
    expect(rows.map((r) => r.tablename)).toEqual(["_prisma_migrations", ...models.map(tableOf)].sort());
  });

  it.each(models.map((m) => [m.name, m] as const))(
    "%s: every field's column, type and nullability",
    async (_, model) => {
      const { rows } = await client.query<{ column: string; type: string; nullable: boolean }>(
        `SELECT a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
         FROM pg_attribute a
        WHERE a.attrelid = format('%I.%I', current_schema(), $1::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
        [tableOf(model)],
      );
      const expected = model.fields
        .filter((f) => f.kind !== "object")
        .map((f) => ({ column: f.dbName ?? f.name, type: expectedType(f), nullable: !f.isRequired }));
      expect(rows).toEqual(expected);
    },
  );

  it("has every enum with its values in order", async () => {
    const { rows } = await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typnamespace = current_schema()::regnamespace
        GROUP BY t.typname ORDER BY 1`,
    );
    const expected = dmmf.datamodel.enums
      .map((e) => ({ name: e.dbName ?? e.name, values: e.values.map((v) => v.dbName ?? v.name) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(rows).toEqual(expected);
  });

  it("has every primary key, unique constraint and index, columns and sort order included", async () => {
    const { rows } = await client.query<{ signature: string }>(
      `SELECT t.relname || ' ' || CASE WHEN i.indisprimary THEN 'id' WHEN i.indisunique THEN 'unique' ELSE 'normal' END
              || ' (' || string_agg(a.attname || CASE WHEN i.indoption[k.n - 1] & 1 = 1 THEN ' DESC' ELSE '' END, ', ' ORDER BY k.n)
              || ')' AS signature
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid AND t.relnamespace = current_schema()::regnamespace
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE t.relname <> '_prisma_migrations'
        GROUP BY t.relname, i.indexrelid, i.indisprimary, i.indisunique`,
    );
    const expected = dmmf.datamodel.indexes.map((index) => {
      const model = modelNamed(index.model);
      const columns = index.fields.map(
        (f) => columnOf(model, f.name) + (f.sortOrder === "desc" ? " DESC" : ""),
      );
      return `${tableOf(model)} ${index.type} (${columns.join(", ")})`;
    });
    expect(rows.map((r) => r.signature).sort()).toEqual(expected.sort());
  });

  it("has every relation as a foreign key with its referential action", async () => {
    const { rows } = await client.query<{ signature: string }>(
      `SELECT format('%s(%s) -> %s(%s) on delete %s', c.conrelid::regclass::text,
                     (SELECT string_agg(attname, ', ' ORDER BY n) FROM unnest(c.conkey) WITH ORDINALITY k(num, n)
                        JOIN pg_attribute ON attrelid = c.conrelid AND attnum = k.num),
                     c.confrelid::regclass::text,
                     (SELECT string_agg(attname, ', ' ORDER BY n) FROM unnest(c.confkey) WITH ORDINALITY k(num, n)
                        JOIN pg_attribute ON attrelid = c.confrelid AND attnum = k.num),
                     CASE c.confdeltype WHEN 'c' THEN 'Cascade' WHEN 'r' THEN 'Restrict' WHEN 'n' THEN 'SetNull'
                                        WHEN 'd' THEN 'SetDefault' ELSE 'NoAction' END) AS signature
         FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`,
    );
    const expected = models.flatMap((model) =>
      model.fields
        .filter((f) => f.kind === "object" && f.relationFromFields?.length)
        .map((f) => {
          const target = modelNamed(f.type);
          const from = f.relationFromFields!.map((name) => columnOf(model, name)).join(", ");
          const to = f.relationToFields!.map((name) => columnOf(target, name)).join(", ");
          return `${tableOf(model)}(${from}) -> ${tableOf(target)}(${to}) on delete ${f.relationOnDelete ?? "Restrict"}`;
        }),
    );
    expect(rows.map((r) => r.signature).sort()).toEqual(expected.sort());
  });
});
