/**
 * `data.uri` names an object the worker reads with the service's own S3 credentials, so it is a
 * capability, not a path: it is parsed strictly, and only keys under the prefixes an operator opened
 * (DATA_URI_PREFIXES) are readable. The service's own objects (`jobs/…` checkpoints and resume state,
 * `datasets/…` uploads, which are reached by dataset id) are never readable this way, whatever the
 * configuration says. The same check runs at submission and again in the worker.
 */

export type DataUriRules = {
  /** The service's bucket, the only one a uri may name. */
  bucket: string;
  /** Key prefixes inside the bucket, each ending in "/". */
  prefixes: readonly string[];
};

const MAX_KEY_LENGTH = 1024;
// A key segment starts with a letter or digit, so it is never "." or ".."; no "%" (no encoded
// traversal), no backslash, no control or non-ASCII characters that a proxy might normalize.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._=+-]{0,254}$/;
const RESERVED = ["jobs/", "datasets/"];

/**
 * Reads DATA_URI_PREFIXES for one tenant: comma-separated key prefixes, blanks ignored, `{tenant}`
 * replaced by the tenant's id — so `uploads/{tenant}/` gives every tenant a folder of its own.
 */
export function dataUriPrefixes(setting: string, tenantId: string): string[] {
  return setting
    .split(",")
    .map((prefix) => prefix.trim().replaceAll("{tenant}", tenantId))
    .filter((prefix) => prefix.length > 0);
}

/** The object key `uri` may read, or the message that says why it may not and what to do instead. */
export function dataUriKey(uri: string, rules: DataUriRules): { key: string } | { message: string } {
  const instead = 'upload the file with POST /v1/datasets and use {"source": "dataset", "id": …}';
  const scheme = "s3://";
  if (!uri.startsWith(scheme)) return { message: `must be s3://<bucket>/<key>; or ${instead}` };
  const rest = uri.slice(scheme.length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? "" : rest.slice(slash + 1);
  if (bucket !== rules.bucket) {
    return {
      message: `names bucket ${JSON.stringify(bucket)}; jobs read only this service's bucket, so ${instead}`,
    };
  }
  if (
    key.length === 0 ||
    key.length > MAX_KEY_LENGTH ||
    !key.split("/").every((part) => SEGMENT.test(part))
  ) {
    return {
      message: `key must be 1-${MAX_KEY_LENGTH} characters of "/"-separated names, each starting with a letter or digit and made of letters, digits, ".", "_", "-", "=", "+" (no "..", "%", empty or hidden segments)`,
    };
  }
  const allowed = rules.prefixes.filter(
    (prefix) => !RESERVED.some((reserved) => prefix.startsWith(reserved)),
  );
  if (
    RESERVED.some((reserved) => key.startsWith(reserved)) ||
    !allowed.some((prefix) => key.startsWith(prefix))
  ) {
    const open = allowed.map((prefix) => `s3://${rules.bucket}/${prefix}`).join(", ");
    return {
      message: `is not readable by jobs; ${open ? `data.uri may name objects under ${open} (DATA_URI_PREFIXES), or ` : ""}${instead}`,
    };
  }
  return { key };
}
