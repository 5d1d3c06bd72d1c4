import { inject } from "vitest";

// The global setup already put these in process.env before the workers started; setting them
// again from inject() keeps each test file right however its worker was created.
Object.assign(process.env, inject("integrationEnv"));
