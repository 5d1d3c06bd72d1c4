/**
 * Decodes UTF-8 that arrives in chunks. A character split between chunks waits for the rest of its
 * bytes; at an invalid byte the text before it is still returned, so the caller can say which line the
 * byte is on whatever the chunking.
 */
export class Utf8Chunks {
  // The byte-order mark is left in the text: only the file's first character may be one, and that is
  // the tokenizer's to drop (a string it is given whole has not been through a decoder).
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private carry = new Uint8Array(0);

  /** The chunk's complete characters, and whether decoding stopped at an invalid byte. */
  decode(chunk: Uint8Array, last = false): { text: string; invalid: boolean } {
    const bytes = this.carry.length === 0 ? chunk : concat(this.carry, chunk);
    const complete = last ? bytes.length : bytes.length - incompleteTail(bytes);
    this.carry = bytes.slice(complete);
    try {
      return { text: this.decoder.decode(bytes.subarray(0, complete)), invalid: false };
    } catch {
      return { text: validPrefix(bytes.subarray(0, complete)), invalid: true };
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** How many bytes at the end begin a character whose remaining bytes are still to come. */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if (byte < 0x80) return 0;
    // 0b10xxxxxx continues a character; anything else from 0xC0 up starts one of 2, 3 or 4 bytes.
    if (byte >= 0xc0) return (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2) > back ? back : 0;
  }
  return 0;
}

/** The text of the longest prefix that is valid UTF-8 (found by bisection: this runs once, on failure). */
function validPrefix(bytes: Uint8Array): string {
  // A prefix that decodes as the start of a stream: every shorter one does too, every longer one fails.
  const attempt = (end: number) => {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, end), {
        stream: true,
      });
    } catch {
      return undefined;
    }
  };
  let good = 0;
  let bad = bytes.length;
  while (bad - good > 1) {
    const middle = (good + bad) >>> 1;
    if (attempt(middle) === undefined) bad = middle;
    else good = middle;
  }
  return attempt(good) ?? "";
}
