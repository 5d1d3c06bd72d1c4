import { JOB_STATUSES, STOP_REASONS } from "@plateau/contract";
import { describe, expect, it } from "vitest";
import { JobStatus, StopReason } from "./generated/prisma/enums";

// The contract names the wire values once; Postgres's enums (prisma/schema.prisma) must hold exactly those.
describe("Prisma enums", () => {
  it("are the contract's job statuses and stop reasons", () => {
    expect(Object.values(JobStatus).sort()).toEqual([...JOB_STATUSES].sort());
    expect(Object.values(StopReason).sort()).toEqual([...STOP_REASONS].sort());
  });
});
