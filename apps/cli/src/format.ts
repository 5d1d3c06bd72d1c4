import type {
  ApiKey,
  BestCheckpoint,
  CallbackData,
  CreatedApiKey,
  Dataset,
  FinalModel,
  Job,
  JobFile,
  JobSummary,
  SimulationResult,
  StatusData,
  Tenant,
  TypedJobEvent,
} from "@plateau/contract";

/**
 * The CLI's text. Epochs are shown 1-based, as Keras prints them ("Epoch 23/50", "Epoch 23: early
 * stopping"); the API's `epoch` fields are 0-based, as Keras passes them to callbacks. Batches are
 * shown as Keras prints them, 0-based.
 */

/** Four significant digits, no trailing zeros; JSON carries a non-finite log value as null. */
export function num(value: unknown): string {
  if (value === null) return "NaN";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

const shown = (epoch: unknown) => (typeof epoch === "number" ? String(epoch + 1) : "?");

/** `epoch 3/50  loss 0.5123  val_loss 0.4981  acc 0.85  val_acc 0.8667  lr 0.01` */
export function epochLine(epoch: number | null, epochs: number, logs: Record<string, number | null>): string {
  const metrics = Object.keys(logs).filter((key) => key !== "learning_rate");
  // loss first, then training metrics, then their validation twins, as Keras's progress line does.
  const order = (key: string) =>
    (key.replace(/^val_/, "") === "loss" ? 0 : 1) + (key.startsWith("val_") ? 2 : 0);
  const ordered = metrics.sort((a, b) => order(a) - order(b));
  const parts = [`epoch ${shown(epoch)}/${epochs}`, ...ordered.map((key) => `${key} ${num(logs[key])}`)];
  if ("learning_rate" in logs) parts.push(`lr ${num(logs.learning_rate)}`);
  return parts.join("  ");
}

/** One line per callback decision, e.g. `ReduceLROnPlateau: lr 0.01 → 0.002 (wait 5, best 0.31)`. */
export function decisionLine(decision: CallbackData, epoch: number | null, batch: number | null): string {
  const { callback, action } = decision;
  const d = decision.details;
  const rule = typeof d.on === "string" ? ` (on ${d.on}${d.if ? ` if ${d.if}` : ""})` : "";
  const text = (() => {
    switch (action) {
      case "reduce_lr":
        return `lr ${num(d.from)} → ${num(d.to)} (wait ${d.wait}, best ${num(d.best)})`;
      case "set_lr":
        return `lr ${num(d.from)} → ${num(d.to)} at epoch ${shown(epoch)}${rule}`;
      case "early_stop":
        return `stopped at epoch ${shown(d.stopped_epoch ?? epoch)} (best epoch ${shown(d.best_epoch)})`;
      case "restore_best_weights":
        return `restored the weights of epoch ${shown(d.epoch ?? epoch)}`;
      case "nan":
        return `loss ${d.value} at epoch ${shown(epoch)} batch ${d.batch ?? batch}`;
      case "checkpoint":
        return `saved ${d.filepath} at epoch ${shown(epoch)}, monitored value ${num(d.monitor_value)}${d.is_best ? " (new best)" : ""}`;
      case "stop_training":
        return `stopped training at epoch ${shown(epoch)}${rule}`;
      case "log":
        return `${d.message}${rule}`;
      default:
        return `${action} at epoch ${shown(epoch)} ${JSON.stringify(d)}`;
    }
  })();
  return `${callback}: ${text}`;
}

/** A lifecycle change while following; terminal statuses are summarised by `outcomeLines` instead. */
function statusLine(data: StatusData): string {
  if (data.status === "running") {
    const where = [data.backend && `backend ${data.backend}`, data.worker && `worker ${data.worker}`].filter(
      Boolean,
    );
    return `running${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
  }
  return [data.status, data.stop_reason && `(${data.stop_reason})`, data.error && `: ${data.error}`]
    .filter(Boolean)
    .join(" ");
}

/** The line a followed event prints, or null for events the progress bar alone shows. */
export function eventLine(event: TypedJobEvent, epochs: number): string | null {
  switch (event.type) {
    case "epoch_end":
      return epochLine(event.epoch, epochs, event.data.logs);
    case "callback":
      return decisionLine(event.data, event.epoch, event.batch);
    case "status":
      return statusLine(event.data);
    case "resumed":
      return `resumed by attempt ${event.data.attempt} from epoch ${shown(event.data.from_epoch)}${event.data.from_batch ? `, batch ${event.data.from_batch}` : ""} (attempt ${event.data.previous.attempt} ended: ${event.data.previous.ending ?? "unknown"}); later epochs follow again`;
    // A save is told by ModelCheckpoint's decision, when it is taken; the stored-artifact event follows
    // once the upload is done, possibly epochs later. Batch rows only move the bar.
    case "checkpoint":
    case "batch_end":
      return null;
  }
}

/** Why the job ended, in words: `succeeded: stopped early by EarlyStopping after epoch 23 of 50`. */
export function outcomeLine(job: JobSummary): string {
  const ran =
    job.epoch === null ? "before the first epoch ended" : `after epoch ${shown(job.epoch)} of ${job.epochs}`;
  const stop = job.stop_details ?? {};
  switch (job.stop_reason) {
    case null:
      return job.status;
    case "completed":
      return `${job.status}: completed all ${job.epochs} epochs`;
    case "early_stopping":
      return `${job.status}: stopped early ${ran}`;
    case "nan_loss":
      return `${job.status}: loss became ${stop.value ?? "NaN"} at epoch ${shown(stop.epoch)} batch ${stop.batch ?? "?"}`;
    case "user_cancel":
      return `${job.status}: cancelled on request ${ran}`;
    case "error":
      return `${job.status}: ${job.error ?? "the job failed"}`;
  }
}

export function bestLines(best: BestCheckpoint): string[] {
  const value = best.monitor ? `${best.monitor} ${num(best.value)}, ` : "";
  return [
    `best checkpoint: ${value}epoch ${shown(best.epoch)}`,
    `model_url: ${best.model_url}`,
    `  (load it with tf.loadLayersModel(model_url); its weight links expire at ${best.expires_at})`,
  ];
}

export function finalModelLines(model: FinalModel): string[] {
  return [
    `model_url: ${model.model_url}`,
    `  (the model the job ended with; load it with tf.loadLayersModel(model_url); its weight links expire at ${model.expires_at})`,
  ];
}

export function fileTable(files: JobFile[]): string[] {
  if (files.length === 0) return ["no files"];
  const rows = files.map((file) => [String(file.size_bytes), file.modified_at, file.name]);
  return table(["BYTES", "MODIFIED", "NAME"], rows);
}

export function jobLines(job: Job | JobSummary): string[] {
  const lines = [`job ${job.id} (${job.name})`, `status: ${outcomeLine(job)}`];
  const progress = job.epoch === null ? "not started" : `${shown(job.epoch)}/${job.epochs}`;
  lines.push(`epoch: ${progress}${job.learning_rate !== null ? `, lr ${num(job.learning_rate)}` : ""}`);
  if (job.best)
    lines.push(`best: ${job.best.monitor} ${num(job.best.value)} at epoch ${shown(job.best.epoch)}`);
  if (job.backend) lines.push(`backend: ${job.backend}${job.worker ? ` on ${job.worker}` : ""}`);
  lines.push(`created: ${job.created_at}`);
  if (job.started_at) lines.push(`started: ${job.started_at}`);
  if (job.finished_at) lines.push(`finished: ${job.finished_at}`);
  return lines;
}

/** Fixed-width columns: id, status, stop reason, progress, created, name. */
export function jobTable(jobs: JobSummary[]): string[] {
  const rows = jobs.map((job) => [
    job.id,
    job.status,
    job.stop_reason ?? "",
    job.epoch === null ? `-/${job.epochs}` : `${shown(job.epoch)}/${job.epochs}`,
    job.created_at,
    job.name,
  ]);
  return table(["ID", "STATUS", "STOP_REASON", "EPOCH", "CREATED", "NAME"], rows);
}

/** Columns padded to their widest cell, two spaces apart; the last one is not padded. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

export function tenantLines(tenant: Tenant): string[] {
  return [
    `tenant ${tenant.id}: ${tenant.name} (created ${tenant.created_at})`,
    `give it a key: plateau keys create --tenant ${tenant.id}`,
  ];
}

/** The new key, set apart on a line of its own, and that it will not be shown again. */
export function createdKeyLines(created: CreatedApiKey): string[] {
  const name = created.name ? ` "${created.name}"` : "";
  return [
    `API key ${created.id}${name} for tenant ${created.tenant_id}:`,
    "",
    `  ${created.key}`,
    "",
    "This is the only time the key is shown (Plateau keeps only its SHA-256): store it now.",
    'Clients send it as "Authorization: Bearer <key>"; the CLI takes --api-key or PLATEAU_API_KEY.',
    `Revoke it with: plateau keys revoke ${created.id}`,
  ];
}

/** Id, prefix, name, created, last used, revoked: what tells keys apart, never the keys. */
export function keyTable(keys: ApiKey[]): string[] {
  const rows = keys.map((key) => [
    key.id,
    `${key.prefix}…`,
    key.created_at,
    key.last_used_at ?? "never",
    key.revoked_at ?? "-",
    key.name ?? "",
  ]);
  return table(["ID", "PREFIX", "CREATED", "LAST_USED", "REVOKED", "NAME"], rows);
}

export function revokedKeyLines(key: ApiKey): string[] {
  return [`key ${key.id} (${key.prefix}…) revoked at ${key.revoked_at}: requests with it now answer 401`];
}

export function datasetLines(dataset: Dataset): string[] {
  const head = `dataset ${dataset.id}: ${dataset.filename}, ${dataset.rows} rows, ${dataset.size_bytes} bytes`;
  const use = `use it in a job spec: "data": {"source": "dataset", "id": "${dataset.id}"`;
  if (dataset.arrays) {
    const labels =
      dataset.format === "npy"
        ? `"y": {"source": "dataset", "id": "<id of the labels .npy>"}`
        : `"arrays": {"x": "${dataset.columns[0]}", "y": "${dataset.columns.at(-1)}"}`;
    return [
      head,
      ...dataset.arrays.map((array) => `array ${array.name}: ${array.dtype} ${JSON.stringify(array.shape)}`),
      `${use}, ${labels}}`,
    ];
  }
  const label = dataset.columns.at(-1) ?? "label";
  return [head, `columns: ${dataset.columns.join(", ")}`, `${use}, "label": "${label}"}`];
}

export function simulationLines(result: SimulationResult): string[] {
  const lines: string[] = [];
  let next = 0;
  const epochsThrough = (last: number) => {
    for (; next < result.epochs.length && result.epochs[next].epoch <= last; next++) {
      const { epoch, learning_rate, stop_training } = result.epochs[next];
      lines.push(`epoch ${shown(epoch)}  lr ${num(learning_rate)}${stop_training ? "  stop" : ""}`);
    }
  };
  // Each decision after the epoch that took it; a restore of best weights at the end names an earlier
  // epoch, so it comes last, in the order the decisions were taken.
  for (const event of result.events) {
    epochsThrough(event.epoch);
    lines.push(decisionLine(event, event.epoch, event.batch ?? null));
  }
  epochsThrough(Number.POSITIVE_INFINITY);
  lines.push(
    result.stopped_epoch === null
      ? `ran all ${result.epochs.length} epochs`
      : `training stops at epoch ${shown(result.stopped_epoch)}`,
  );
  lines.push(`final lr ${num(result.final_learning_rate)}`);
  if (result.restored_weights_from_epoch !== null) {
    lines.push(`weights at the end: epoch ${shown(result.restored_weights_from_epoch)}`);
  }
  for (const warning of result.warnings) lines.push(`warning: ${warning}`);
  return lines;
}
