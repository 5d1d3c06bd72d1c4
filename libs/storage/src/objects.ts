import type { Readable } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Storage } from "./client";

type Body = Uint8Array | string | Readable;

export interface PutOptions {
  contentType?: string;
}

export interface UploadOptions extends PutOptions {
  /** Called as parts complete, with the bytes sent so far (and the total when known). */
  onProgress?: (loadedBytes: number, totalBytes?: number) => void;
}

/** One PUT: for small bodies whose size is known (manifests, JSON state). */
export async function putObject(
  storage: Storage,
  key: string,
  body: Uint8Array | string,
  options: PutOptions = {},
) {
  await storage.client.send(
    new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body, ContentType: options.contentType }),
  );
}

// S3's minimum part size; lib-storage sends a single PUT when the body fits in one part.
const PART_SIZE = 5 * 1024 * 1024;

/**
 * Uploads a body of any size, streams included: bodies larger than one part go up as a multipart
 * upload, parts in parallel. On failure lib-storage aborts the multipart upload so no parts linger.
 */
export async function uploadObject(storage: Storage, key: string, body: Body, options: UploadOptions = {}) {
  const upload = new Upload({
    client: storage.client,
    params: { Bucket: storage.bucket, Key: key, Body: body, ContentType: options.contentType },
    partSize: PART_SIZE,
    queueSize: 4,
    leavePartsOnError: false,
  });
  const { onProgress } = options;
  if (onProgress)
    upload.on("httpUploadProgress", (progress) => onProgress(progress.loaded ?? 0, progress.total));
  await upload.done();
}

/** The object's bytes, or undefined when the key does not exist. */
export async function getObjectBytes(storage: Storage, key: string): Promise<Uint8Array | undefined> {
  try {
    const response = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
    return await response.Body!.transformToByteArray();
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
}

export interface ObjectStream {
  body: Readable;
  contentLength?: number;
  contentType?: string;
}

/** The object as a stream, for passing it on without holding it whole; undefined when the key does not exist. */
export async function openObject(storage: Storage, key: string): Promise<ObjectStream | undefined> {
  try {
    const response = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
    return {
      body: response.Body as Readable,
      contentLength: response.ContentLength,
      contentType: response.ContentType,
    };
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
}

export async function getObjectText(storage: Storage, key: string): Promise<string | undefined> {
  const bytes = await getObjectBytes(storage, key);
  return bytes && new TextDecoder().decode(bytes);
}

/** Every key under `prefix`, following continuation tokens. */
export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  return (await listObjects(storage, prefix)).map((object) => object.key);
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

/** Every object under `prefix` with its size, following ListObjectsV2's pages. */
export async function listObjects(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await storage.client.send(
      new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key) {
        objects.push({
          key: object.Key,
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

// DeleteObjects accepts at most 1000 keys per request.
const DELETE_BATCH = 1000;

/** Deletes the given keys (missing ones are fine). */
export async function deleteKeys(storage: Storage, keys: string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETE_BATCH) {
    const batch = keys.slice(start, start + DELETE_BATCH);
    const result = await storage.client.send(
      new DeleteObjectsCommand({
        Bucket: storage.bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new Error(
        `could not delete ${failed.length} object(s), e.g. ${failed[0].Key}: ${failed[0].Message}`,
      );
    }
  }
}

/** Deletes every object under `prefix` (which must end in "/"); returns how many there were. */
export async function deletePrefix(storage: Storage, prefix: string): Promise<number> {
  if (!prefix.endsWith("/"))
    throw new Error(`refusing to delete prefix ${JSON.stringify(prefix)}: must end with "/"`);
  const keys = await listKeys(storage, prefix);
  await deleteKeys(storage, keys);
  return keys.length;
}

export interface PresignedUrl {
  url: string;
  expiresAt: Date;
}

/** A GET URL anyone can fetch until it expires (the configured TTL unless given). */
export async function presignGet(
  storage: Storage,
  key: string,
  ttlSeconds = storage.presignTtlSeconds,
): Promise<PresignedUrl> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const url = await getSignedUrl(
    storage.presigner,
    new GetObjectCommand({ Bucket: storage.bucket, Key: key }),
    {
      expiresIn: ttlSeconds,
    },
  );
  return { url, expiresAt };
}
