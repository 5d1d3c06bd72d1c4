import Type, { type Static } from "typebox";
import { CallbackSpecSchema } from "./callbacks";
import { CompileSpecSchema } from "./compile";
import { DataSpecSchema } from "./data";
import { FitSpecSchema } from "./fit";
import { ModelSpecSchema } from "./model";

/** Seeds are 32-bit, as numpy's. */
export const MAX_SEED = 2 ** 32 - 1;

/** Default seconds between resume snapshots inside an epoch (Keras's BackupAndRestore saves per epoch only). */
export const RESUME_EVERY_SECONDS = 600;

export const ResumeSpecSchema = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          "false: no snapshots at all, so a job whose worker is lost or shut down trains again from epoch 0 (for jobs so short that snapshots cost more than they save).",
      }),
    ),
    every_n_batches: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), Type.Null()], {
        default: null,
        description:
          "Also snapshot after every this many batches (Keras's BackupAndRestore save_freq as an integer); null: not by count.",
      }),
    ),
    every_seconds: Type.Optional(
      Type.Union([Type.Number({ minimum: 1, maximum: 86_400 }), Type.Null()], {
        default: RESUME_EVERY_SECONDS,
        description: `Also snapshot at the first batch end after this many seconds since the last snapshot; null: not by time. Default ${RESUME_EVERY_SECONDS}.`,
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "Resume snapshots inside an epoch. One is always written at every epoch end and when a worker shuts down; a job a worker loses continues from the newest, at that batch, making the decisions an uninterrupted run would. Each costs a read of the weights and optimizer slots and an upload.",
  },
);

/** The POST /v1/jobs body: a Keras `model.fit` call transcribed to JSON, field names as in Keras. */
export const JobSpecSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: "^[A-Za-z0-9][A-Za-z0-9_.\\- ]*$",
      description: "A label for people; need not be unique.",
    }),
    model: ModelSpecSchema,
    compile: CompileSpecSchema,
    data: DataSpecSchema,
    fit: FitSpecSchema,
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SEED,
        description:
          "Keras's keras.utils.set_random_seed: weight initialization, shuffling and dropout draw from it, so the same job on the same backend trains the same way twice. Chosen at submission when left out (the effective spec shows it).",
      }),
    ),
    resume: Type.Optional(ResumeSpecSchema),
    callbacks: Type.Optional(
      Type.Array(CallbackSpecSchema, {
        maxItems: 32,
        description:
          'Keras callbacks as {"type": "<KerasClassName>", ...Keras options}. TerminateOnNaN is added when missing.',
      }),
    ),
  },
  { additionalProperties: false, title: "JobSpec" },
);

export type JobSpec = Static<typeof JobSpecSchema>;
export type ResumeSpec = Static<typeof ResumeSpecSchema>;
