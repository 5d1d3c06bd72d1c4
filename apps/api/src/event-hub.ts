import type { Redis } from "ioredis";

export interface ChannelListener {
  /** A message, parsed once for every listener (messages are JSON). */
  message(value: unknown): void;
  /**
   * The subscriber connection was lost and is back: messages published meanwhile were missed, so
   * the listener must catch up from the source of truth (Postgres).
   */
  resync(): void;
}

/**
 * One Redis subscriber connection per API process, shared by every SSE client: a listener set per
 * channel, SUBSCRIBE when a channel gets its first listener and UNSUBSCRIBE when it loses its last.
 * Commands on one connection are processed in order, so an UNSUBSCRIBE racing a new SUBSCRIBE for the
 * same channel still leaves it subscribed.
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  private connectedOnce = false;

  constructor(private readonly redis: Redis) {
    redis.on("message", (channel: string, text: string) => {
      const set = this.listeners.get(channel);
      if (!set) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // not a message of ours; the listeners' periodic Postgres reads cover any loss
      }
      for (const listener of set) listener.message(value);
    });
    // ioredis re-subscribes by itself after a reconnect; what was published in between is gone.
    redis.on("ready", () => {
      if (this.connectedOnce) for (const set of this.listeners.values()) for (const l of set) l.resync();
      this.connectedOnce = true;
    });
  }

  /** Resolves once Redis confirmed the subscription; returns the function that removes the listener. */
  async subscribe(channel: string, listener: ChannelListener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    const owned = set;
    try {
      await this.redis.subscribe(channel);
    } catch (error) {
      await this.remove(channel, owned, listener);
      throw error;
    }
    return () => this.remove(channel, owned, listener);
  }

  close(): void {
    this.listeners.clear();
    this.redis.disconnect();
  }

  /** How many channels this process listens to (for tests and metrics). */
  get channelCount(): number {
    return this.listeners.size;
  }

  /** How many listeners (one per open event stream) this process serves. */
  get listenerCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }

  private async remove(channel: string, set: Set<ChannelListener>, listener: ChannelListener) {
    set.delete(listener);
    if (set.size > 0 || this.listeners.get(channel) !== set) return;
    this.listeners.delete(channel);
    await this.redis.unsubscribe(channel).catch(() => {});
  }
}
