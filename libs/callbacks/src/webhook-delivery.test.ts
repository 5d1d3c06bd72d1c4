import { afterEach, describe, expect, it, vi } from "vitest";
import { type Answer, type Receiver, startReceiver } from "../../../test/webhook-receiver";
import { DeliveryError, type DeliveryRequest, deliver } from "./webhook-delivery";
import { webhookPolicy } from "./webhook-target";

const secret = "receiver-secret-0123456789";
const loopback = webhookPolicy({
  WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost",
  WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8,::1/128",
  WEBHOOK_ALLOW_HTTP: true,
});
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(answer: (payload: Record<string, unknown>, index: number) => Answer) {
  const started = await startReceiver(secret, answer);
  receivers.push(started);
  return started;
}

const request = (url: string, overrides: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  url,
  secret,
  body: JSON.stringify({ hook: "on_epoch_end", epoch: 3 }),
  timeoutMs: 5000,
  maxRetries: 2,
  policy: loopback,
  ...overrides,
});

/** The delivery fails with a DeliveryError whose message matches. */
const failsWith = (promise: Promise<unknown>, message: string | RegExp) =>
  expect(promise).rejects.toSatisfy(
    (error) =>
      error instanceof DeliveryError &&
      (typeof message === "string" ? error.message === message : message.test(error.message)),
  );

describe("webhook delivery", () => {
  it("signs the body with its timestamp, so a receiver holding the secret verifies it and others cannot", async () => {
    const target = await receiver(() => ({ body: '{"learning_rate": 0.5}' }));
    const delivered = await deliver(request(target.url));
    expect(delivered).toEqual({ text: '{"learning_rate": 0.5}', attempts: 1 });
    const [seen] = target.received;
    expect(seen.signed).toBe(true);
    expect(seen.payload).toEqual({ hook: "on_epoch_end", epoch: 3 });
    expect(seen.headers["plateau-delivery"]).toMatch(/^[0-9a-f-]{36}$/);

    const wrongKey = await startReceiver("another-secret-0123456789", () => ({}));
    receivers.push(wrongKey);
    await deliver(request(wrongKey.url));
    expect(wrongKey.received[0].signed).toBe(false);
  });

  it("retries network errors and 5xx answers under one delivery id, and not a 4xx", async () => {
    const flaky = await receiver((_, index) => (index < 2 ? { status: 503 } : { body: "" }));
    expect(await deliver(request(flaky.url))).toEqual({ text: "", attempts: 3 });
    expect(new Set(flaky.received.map((r) => r.headers["plateau-delivery"])).size).toBe(1);
    expect(flaky.received.every((r) => r.signed)).toBe(true);

    const refusing = await receiver(() => ({ status: 400 }));
    await failsWith(deliver(request(refusing.url)), "answered 400 (1 attempt)");
    expect(refusing.received).toHaveLength(1);

    const down = await receiver(() => ({}));
    await down.close();
    receivers.splice(receivers.indexOf(down), 1);
    await failsWith(deliver(request(down.url, { maxRetries: 1 })), "ECONNREFUSED (2 attempts)");
  });

  it("does not follow redirects", async () => {
    const final = await receiver(() => ({}));
    const redirecting = await receiver(() => ({ status: 307, headers: { location: final.url } }));
    await failsWith(
      deliver(request(redirecting.url)),
      `answered 307 to ${final.url}; redirects are not followed: give the final address as url (1 attempt)`,
    );
    expect(final.received).toHaveLength(0);
  });

  it("refuses loopback unless a network opens it, for an IP literal and for every address a name resolves to", async () => {
    const target = await startReceiver(secret, () => ({ body: "{}" }), { anyAddress: true });
    receivers.push(target);
    const literal = target.url;
    const named = target.url.replace("127.0.0.1", "localhost");
    const closed = webhookPolicy({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1,localhost", WEBHOOK_ALLOW_HTTP: true });
    await failsWith(
      deliver(request(literal, { policy: closed })),
      "url 127.0.0.1 is a loopback address, which this service's WEBHOOK_ALLOWED_NETWORKS does not open",
    );
    await failsWith(
      deliver(request(named, { policy: closed })),
      /^localhost resolves to (127\.0\.0\.1|::1) is a loopback address/,
    );
    expect(target.received).toHaveLength(0);
    // Opened, the name is called at the address that was checked.
    expect(await deliver(request(named))).toEqual({ text: "{}", attempts: 1 });
    expect(target.received).toHaveLength(1);
  });

  it("gives up within timeout_ms, closing the request, when the receiver never answers", async () => {
    const silent = await receiver(() => "hang");
    await failsWith(
      deliver(request(silent.url, { timeoutMs: 300 })),
      "no answer within timeout_ms 300 (1 attempt)",
    );
    await vi.waitFor(() => expect(silent.received[0]?.abandoned).toBe(true));
  });
});
