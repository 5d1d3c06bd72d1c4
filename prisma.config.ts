import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // Read directly, not with env(): env() throws when DATABASE_URL is unset and would break `npm ci`.
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
