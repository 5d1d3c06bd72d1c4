import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type Db, sharedSecret } from "@plateau/db";

/**
 * Model URLs must load with a bare `tf.loadLayersModel(url)`, which sends no headers, so they carry a
 * token: an expiry and an HMAC over (tenant, job, checkpoint id or "model", expiry). tfjs appends the model.json URL's
 * query to each weight file it fetches, so the shards inherit it. A token opens one checkpoint of one
 * job for its tenant until it expires, nothing else. The signing key is URL_SIGNING_SECRET, or else one
 * the first API instance generates and stores in Postgres for all of them.
 */
export interface Artifact {
  tenantId: string;
  jobId: string;
  /** A checkpoint's id, or FINAL_MODEL for the model the job ended with. */
  checkpointId: string;
}

/** The artifact name of a job's final model (`GET /v1/jobs/:id/model`); never a checkpoint id (a UUID). */
export const FINAL_MODEL = "model";

const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export class ModelTokens {
  private secret: Promise<Buffer> | undefined;

  constructor(
    private readonly db: Db,
    private readonly configured: string,
  ) {}

  /** A token for `artifact` valid until `expiresAt`. */
  async sign(artifact: Artifact, expiresAt: Date): Promise<string> {
    const expiry = Math.floor(expiresAt.getTime() / 1000);
    return `${expiry}.${await this.mac(artifact, expiry)}`;
  }

  /**
   * Whether `token` is shaped like one and not expired: checked before anything is read for it, so a
   * garbage token costs no query.
   */
  static plausible(token: string, now = Date.now()): boolean {
    const match = TOKEN.exec(token);
    return match !== null && Number(match[1]) * 1000 > now;
  }

  /** Whether `token` was signed for exactly this artifact and has not expired. */
  async verify(artifact: Artifact, token: string, now = Date.now()): Promise<boolean> {
    const match = TOKEN.exec(token);
    if (!match || !ModelTokens.plausible(token, now)) return false;
    const expected = Buffer.from(await this.mac(artifact, Number(match[1])));
    const given = Buffer.from(match[2]);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async mac(artifact: Artifact, expiry: number): Promise<string> {
    const message = `${artifact.tenantId}\n${artifact.jobId}\n${artifact.checkpointId}\n${expiry}`;
    return createHmac("sha256", await this.key())
      .update(message)
      .digest("base64url");
  }

  private key(): Promise<Buffer> {
    this.secret ??= (
      this.configured
        ? Promise.resolve(this.configured)
        : sharedSecret(this.db, "model-url-signing", randomBytes(32).toString("base64url"))
    ).then(
      (value) => Buffer.from(value),
      (error) => {
        this.secret = undefined;
        throw error;
      },
    );
    return this.secret;
  }
}
