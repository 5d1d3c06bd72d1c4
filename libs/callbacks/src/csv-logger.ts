import type { CSVLoggerConfig, CSVLoggerOptions } from "@plateau/contract";
import { type CallbackContext, type JsonObject, KerasCallback } from "./base";
import { resolveLogs, type UnresolvedLogs } from "./logs";
import { pythonRepr } from "./python-format";
import type { ArtifactSink } from "./sink";
import { optionsOrThrow } from "./validate";

/**
 * Keras 3 `CSVLogger`: one row per epoch, written through the sink. Rows are byte-for-byte what Python's
 * csv module writes for Keras (excel dialect: `\r\n` line ends, minimal quoting, floats as Python repr).
 */
export class CSVLogger extends KerasCallback {
  readonly type = "CSVLogger";
  readonly options: CSVLoggerConfig;
  private readonly sink: ArtifactSink;
  private keys: string[] | null = null;
  private headerWritten = false;

  constructor(options: CSVLoggerOptions, context: CallbackContext = {}) {
    super(context);
    this.options = optionsOrThrow(this.type, options);
    if (!context.sink) throw new Error("CSVLogger: needs an artifact sink (context.sink) to write to");
    this.sink = context.sink;
  }

  override async onTrainBegin(): Promise<void> {
    if (this.takeRestored()) return;
    this.keys = null;
    if (!this.options.append) {
      // Keras opens the file with mode "w" here, so a run that logs no epoch still leaves it empty.
      this.headerWritten = false;
      await this.sink.appendText(this.options.filename, "", { append: false });
    }
  }

  override async onEpochEnd(epoch: number, rawLogs?: UnresolvedLogs): Promise<void> {
    const logs = await resolveLogs(rawLogs);
    if (this.keys === null) {
      const keys = Object.keys(logs).sort();
      // Keras adds the val_ columns when the first epoch has none, so later validation rows still fit.
      this.keys = keys.some((key) => key.startsWith("val_"))
        ? keys
        : [...keys, ...keys.map((key) => `val_${key}`)];
    }
    let text = "";
    if (!this.headerWritten) {
      text += this.row(["epoch", ...this.keys]);
      this.headerWritten = true;
    }
    const values = this.keys.map((key) => (key in logs ? pythonRepr(logs[key]) : "NA"));
    text += this.row([String(epoch), ...values]);
    await this.sink.appendText(this.options.filename, text, { append: true });
  }

  private row(fields: string[]): string {
    const sep = this.options.separator;
    const quoted = fields.map((field) =>
      field.includes(sep) || field.includes('"') || field.includes("\r") || field.includes("\n")
        ? `"${field.replaceAll('"', '""')}"`
        : field,
    );
    return `${quoted.join(sep)}\r\n`;
  }

  exportState(): JsonObject {
    return { keys: this.keys, header_written: this.headerWritten };
  }

  restoreState(state: JsonObject): void {
    this.keys = state.keys as string[] | null;
    this.headerWritten = Boolean(state.header_written);
    this.markRestored();
  }
}
