import { CreateBucketCommand, HeadBucketCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { Config } from "@plateau/config";

/** The S3 client and the one bucket Plateau keeps everything in. The caller ends it with `destroy`. */
export interface Storage {
  client: S3Client;
  /** Signs URLs for clients: same credentials, but the endpoint they can reach (S3_PUBLIC_ENDPOINT). */
  presigner: S3Client;
  bucket: string;
  /** Lifetime of presigned URLs, in seconds. */
  presignTtlSeconds: number;
}

type StorageConfig = Pick<
  Config,
  | "S3_ENDPOINT"
  | "S3_PUBLIC_ENDPOINT"
  | "S3_REGION"
  | "S3_BUCKET"
  | "S3_ACCESS_KEY_ID"
  | "S3_SECRET_ACCESS_KEY"
  | "S3_FORCE_PATH_STYLE"
  | "PRESIGN_TTL_SECONDS"
>;

export function createStorage(config: StorageConfig): Storage {
  const client = s3Client(config, config.S3_ENDPOINT);
  const presigner = config.S3_PUBLIC_ENDPOINT ? s3Client(config, config.S3_PUBLIC_ENDPOINT) : client;
  return { client, presigner, bucket: config.S3_BUCKET, presignTtlSeconds: config.PRESIGN_TTL_SECONDS };
}

function s3Client(config: StorageConfig, endpoint: string): S3Client {
  return new S3Client({
    // An empty endpoint means AWS itself, resolved from the region.
    endpoint: endpoint || undefined,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
    // The SDK's default CRC32 trailers (aws-chunked bodies) are not understood by every S3-compatible
    // server (s3rver, older MinIO); checksums are sent where the operation requires them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Creates the bucket unless it exists already (safe to call from every process at start-up). */
export async function ensureBucket(storage: Storage): Promise<void> {
  if (await bucketExists(storage)) return;
  try {
    await storage.client.send(new CreateBucketCommand({ Bucket: storage.bucket }));
  } catch (error) {
    // Another process may have created it between the check and the create.
    const name = error instanceof S3ServiceException ? error.name : "";
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
  }
}

async function bucketExists(storage: Storage): Promise<boolean> {
  try {
    await storage.client.send(new HeadBucketCommand({ Bucket: storage.bucket }));
    return true;
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return false;
    throw error;
  }
}

/** Readiness probe: resolves when the bucket answers HeadBucket, rejects otherwise (or when aborted). */
export async function probeBucket(storage: Storage, signal?: AbortSignal): Promise<void> {
  await storage.client.send(new HeadBucketCommand({ Bucket: storage.bucket }), { abortSignal: signal });
}
